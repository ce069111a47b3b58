/** BatchStore over the embedded SQLite database: every commit is one (IMMEDIATE) transaction. */
import type { Transaction } from 'better-sqlite3'
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { RECENT_EVENTS_KEPT } from '../profiles/recent-events.ts'
import { SqliteProfileStore } from '../profiles/sqlite-profile-store.ts'
import { planMemberships } from '../segments/segment-membership.ts'
import { membershipStatements, migrateSegments } from '../segments/sqlite-segment-schema.ts'
import { migrateTriggers, triggerJobStatements } from '../triggers/sqlite-trigger-schema.ts'
import { type BatchChanges, type BatchStore, dedupeKey } from './batch-store.ts'

/** The batch's reads are SqliteProfileStore's; it adds the commit and what the processor tracks. */
export class SqliteBatchStore extends SqliteProfileStore implements BatchStore {
  readonly #stmts
  readonly #commit: Transaction<(changes: BatchChanges) => void>
  readonly #clock: Clock

  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    super(db)
    this.#clock = opts.clock ?? systemClock
    migrateSegments(db)
    migrateTriggers(db)
    const members = membershipStatements(db)
    const applyJob = triggerJobStatements(db)
    const s = {
      seen: db.prepare('SELECT 1 FROM dedupe WHERE workspace_id = ? AND message_id = ?').pluck(),
      offsets: db.prepare('SELECT partition, offset FROM processor_offsets WHERE group_id = ?'),
      upsert: db.prepare(
        `INSERT INTO profiles (workspace_id, profile_id, user_id, state, version, created_at, updated_at, last_event_received_at)
         VALUES (@workspaceId, @profileId, @userId, @state, @version, @createdAt, @updatedAt, @lastEventReceivedAt)
         ON CONFLICT (workspace_id, profile_id) DO UPDATE SET user_id = excluded.user_id, state = excluded.state,
           version = excluded.version, updated_at = excluded.updated_at, last_event_received_at = excluded.last_event_received_at`,
      ),
      deleteProfile: db.prepare('DELETE FROM profiles WHERE workspace_id = ? AND profile_id = ?'),
      identity: db.prepare(
        `INSERT INTO identities (workspace_id, kind, value, profile_id) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, kind, value) DO UPDATE SET profile_id = excluded.profile_id`,
      ),
      dedupe: db.prepare('INSERT OR IGNORE INTO dedupe (workspace_id, message_id, seen_at) VALUES (?, ?, ?)'),
      offset: db.prepare(
        `INSERT INTO processor_offsets (group_id, partition, offset) VALUES (?, ?, ?)
         ON CONFLICT (group_id, partition) DO UPDATE SET offset = excluded.offset`,
      ),
      prune: db.prepare('DELETE FROM dedupe WHERE seen_at < ?'),
      addEvent: db.prepare(
        `INSERT INTO profile_events (workspace_id, profile_id, message_id, type, name, at, received_at, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      moveEvents: db.prepare(
        'UPDATE profile_events SET profile_id = ? WHERE workspace_id = ? AND profile_id = ?',
      ),
      dropEvents: db.prepare('DELETE FROM profile_events WHERE workspace_id = ? AND profile_id = ?'),
      // Beyond the newest RECENT_EVENTS_KEPT of a profile.
      trimEvents: db.prepare(
        `DELETE FROM profile_events WHERE seq IN (
           SELECT seq FROM profile_events WHERE workspace_id = ? AND profile_id = ?
           ORDER BY at DESC, seq DESC LIMIT -1 OFFSET ${RECENT_EVENTS_KEPT})`,
      ),
    }
    this.#stmts = s
    this.#commit = db.transaction((c: BatchChanges) => {
      const now = this.#clock.now()
      for (const d of c.deletes) {
        s.deleteProfile.run(d.workspaceId, d.profileId)
        if (d.into === undefined) s.dropEvents.run(d.workspaceId, d.profileId)
        else s.moveEvents.run(d.into, d.workspaceId, d.profileId)
      }
      for (const e of c.events ?? [])
        s.addEvent.run(
          e.workspaceId,
          e.profileId,
          e.messageId,
          e.type,
          e.name,
          e.at,
          e.receivedAt,
          JSON.stringify(e.data),
        )
      for (const p of c.upserts) s.trimEvents.run(p.workspaceId, p.profileId)
      for (const p of c.upserts) s.upsert.run({ ...p, state: JSON.stringify(p.state) })
      for (const i of c.identities) s.identity.run(i.workspaceId, i.kind, i.value, i.profileId)
      for (const m of c.messageIds) s.dedupe.run(m.workspaceId, m.messageId, now)
      for (const o of c.offsets) s.offset.run(o.group, o.partition, o.offset)
      for (const d of c.deletes) members.removeProfile.run(d.workspaceId, d.profileId)
      if (c.memberships.length > 0) {
        const plan = planMemberships(c.memberships, c.upserts, members.versions(), { rescans: false })
        for (const m of plan.join)
          members.upsert.run(m.workspaceId, m.segmentId, m.profileId, m.userId, m.email, now)
        for (const m of plan.leave) members.remove.run(m.workspaceId, m.segmentId, m.profileId)
      }
      for (const op of c.triggerJobs ?? []) applyJob(op, now)
    })
  }

  async seenMessageIds(ids: readonly { workspaceId: string; messageId: string }[]): Promise<Set<string>> {
    const seen = new Set<string>()
    for (const { workspaceId, messageId } of ids) {
      if (this.#stmts.seen.get(workspaceId, messageId) !== undefined)
        seen.add(dedupeKey(workspaceId, messageId))
    }
    return seen
  }

  async appliedOffsets(group: string): Promise<Map<number, number>> {
    const rows = this.#stmts.offsets.all(group) as { partition: number; offset: number }[]
    return new Map(rows.map((r) => [r.partition, r.offset]))
  }

  async commit(changes: BatchChanges): Promise<void> {
    // IMMEDIATE: the commit reads segment versions; taking the write lock first means a definition
    // saved by another connection meanwhile cannot fail the upgrade with SQLITE_BUSY_SNAPSHOT.
    this.#commit.immediate(changes)
  }

  async pruneDedupe(before: number): Promise<number> {
    return this.#stmts.prune.run(before).changes
  }
}
