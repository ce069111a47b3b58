/** ProfileStore over the embedded SQLite database; every commit is one transaction. */

import type { Transaction } from 'better-sqlite3'
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
import { membershipStatements, migrateSegments } from '../segments/sqlite-segment-schema.ts'
import { migrateTriggers, triggerJobStatements } from '../triggers/sqlite-trigger-schema.ts'
import {
  dedupeKey,
  type Identity,
  type IdentityKind,
  type ProfileChanges,
  type ProfileStore,
  type StoredProfile,
} from './profile-store.ts'

const MIGRATIONS = [
  `CREATE TABLE profiles (
     workspace_id TEXT NOT NULL,
     profile_id TEXT NOT NULL,
     user_id TEXT,
     state TEXT NOT NULL,
     version INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     last_event_received_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, profile_id)
   ) WITHOUT ROWID;
   CREATE TABLE identities (
     workspace_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     value TEXT NOT NULL,
     profile_id TEXT NOT NULL,
     PRIMARY KEY (workspace_id, kind, value)
   ) WITHOUT ROWID;
   CREATE INDEX identities_by_profile ON identities (workspace_id, profile_id);
   CREATE TABLE dedupe (
     workspace_id TEXT NOT NULL,
     message_id TEXT NOT NULL,
     seen_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, message_id)
   ) WITHOUT ROWID;
   CREATE INDEX dedupe_by_time ON dedupe (seen_at);
   CREATE TABLE processor_offsets (
     group_id TEXT NOT NULL,
     partition INTEGER NOT NULL,
     offset INTEGER NOT NULL,
     PRIMARY KEY (group_id, partition)
   ) WITHOUT ROWID;`,
]

export interface ProfileRow {
  workspace_id: string
  profile_id: string
  user_id: string | null
  state: string
  version: number
  created_at: number
  updated_at: number
  last_event_received_at: number
}

export const profileFromRow = (row: ProfileRow): StoredProfile => ({
  workspaceId: row.workspace_id,
  profileId: row.profile_id,
  userId: row.user_id,
  state: JSON.parse(row.state),
  version: row.version,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  lastEventReceivedAt: row.last_event_received_at,
})

export class SqliteProfileStore implements ProfileStore {
  readonly #stmts
  readonly #commit: Transaction<(changes: ProfileChanges) => void>
  readonly #clock: Clock

  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    this.#clock = opts.clock ?? systemClock
    migrate(db, 'sqlite-profile-store', MIGRATIONS)
    migrateSegments(db)
    migrateTriggers(db)
    const members = membershipStatements(db)
    const applyJob = triggerJobStatements(db)
    const s = {
      findProfileId: db
        .prepare('SELECT profile_id FROM identities WHERE workspace_id = ? AND kind = ? AND value = ?')
        .pluck(),
      getProfile: db.prepare('SELECT * FROM profiles WHERE workspace_id = ? AND profile_id = ?'),
      identities: db.prepare(
        'SELECT kind, value FROM identities WHERE workspace_id = ? AND profile_id = ? ORDER BY kind, value',
      ),
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
    }
    this.#stmts = s
    this.#commit = db.transaction((c: ProfileChanges) => {
      const now = this.#clock.now()
      for (const d of c.deletes) s.deleteProfile.run(d.workspaceId, d.profileId)
      for (const p of c.upserts) s.upsert.run({ ...p, state: JSON.stringify(p.state) })
      for (const i of c.identities) s.identity.run(i.workspaceId, i.kind, i.value, i.profileId)
      for (const m of c.messageIds) s.dedupe.run(m.workspaceId, m.messageId, now)
      for (const o of c.offsets) s.offset.run(o.group, o.partition, o.offset)
      for (const d of c.deletes) members.removeProfile.run(d.workspaceId, d.profileId)
      const versions = new Map<string, number | undefined>()
      for (const m of c.memberships) {
        const key = `${m.workspaceId}\n${m.segmentId}`
        if (!versions.has(key)) versions.set(key, members.version.get(m.workspaceId, m.segmentId) as number)
        if (versions.get(key) !== m.version) continue
        if (m.member) members.upsert.run(m.workspaceId, m.segmentId, m.profileId, m.userId, m.email, now)
        else members.remove.run(m.workspaceId, m.segmentId, m.profileId)
      }
      for (const op of c.triggerJobs ?? []) applyJob(op, now)
    })
  }

  async findProfileId(workspaceId: string, kind: IdentityKind, value: string): Promise<string | undefined> {
    return this.#stmts.findProfileId.get(workspaceId, kind, value) as string | undefined
  }

  async getProfile(workspaceId: string, profileId: string): Promise<StoredProfile | undefined> {
    const row = this.#stmts.getProfile.get(workspaceId, profileId) as ProfileRow | undefined
    return row && profileFromRow(row)
  }

  async identities(workspaceId: string, profileId: string): Promise<Identity[]> {
    return this.#stmts.identities.all(workspaceId, profileId) as Identity[]
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

  async commit(changes: ProfileChanges): Promise<void> {
    // IMMEDIATE: the commit reads segment versions; taking the write lock first means a definition
    // saved by another connection meanwhile cannot fail the upgrade with SQLITE_BUSY_SNAPSHOT.
    this.#commit.immediate(changes)
  }

  async pruneDedupe(before: number): Promise<number> {
    return this.#stmts.prune.run(before).changes
  }

  async close(): Promise<void> {}
}
