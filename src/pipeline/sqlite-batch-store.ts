/** BatchStore over the embedded SQLite database: every commit is one (IMMEDIATE) transaction. */
import type { Statement, Transaction } from 'better-sqlite3'
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrateSqliteSuppressions } from '../delivery/sqlite-suppression-store.ts'
import {
  migratePrivacy,
  TOMBSTONE_HEAD,
  TOMBSTONES_AFTER,
  type Tombstone,
  type TombstoneRow,
  tombstoneOf,
} from '../privacy/privacy-schema.ts'
import type { StoredProfile } from '../profiles/profile-store.ts'
import { RECENT_EVENTS_KEPT } from '../profiles/recent-events.ts'
import { type ProfileRow, profileFromRow, SqliteProfileStore } from '../profiles/sqlite-profile-store.ts'
import { planMemberships } from '../segments/segment-membership.ts'
import { membershipStatements, migrateSegments } from '../segments/sqlite-segment-schema.ts'
import { migrateSqliteTopics } from '../topics/sqlite-topic-store.ts'
import { migrateTriggers, triggerJobStatements } from '../triggers/sqlite-trigger-schema.ts'
import {
  type BatchChanges,
  type BatchStore,
  type BoundIdentity,
  dedupeKey,
  type IdentityRef,
  ProfileConflictError,
} from './batch-store.ts'

/** Rows per multi-row statement: one step writes (or looks up) this many (8 parameters a row at most, far below the limit). */
const ROWS_PER_INSERT = 64

/**
 * Identities per look-up statement: 4 parameters each, 2,000 a statement, far below SQLite's limit
 * (32,766 since 3.32); a default batch's identities take a handful of statements.
 */
const IDS_PER_LOOKUP = 500

/** One identity-and-profile look-up row: the asked index, the binding, and the profile's columns (null: none). */
type LookupRow = { i: number; bound_to: string } & (ProfileRow | { profile_id: null })

/**
 * One prepared INSERT per row count up to ROWS_PER_INSERT (made when first needed), so a batch's rows
 * go in with few statement steps: `head` is the statement up to VALUES, `row` one row's placeholders.
 */
function multiRowInsert(db: SqliteDatabase, head: string, row: string) {
  const stmts = new Map<number, Statement>()
  const stmt = (rows: number) => {
    let s = stmts.get(rows)
    if (!s) {
      s = db.prepare(`${head} VALUES ${Array.from({ length: rows }, () => row).join(', ')}`)
      stmts.set(rows, s)
    }
    return s
  }
  /** Writes `count` rows; `fill` pushes row i's parameters. */
  return (count: number, fill: (i: number, params: unknown[]) => void): void => {
    for (let at = 0; at < count; at += ROWS_PER_INSERT) {
      const rows = Math.min(ROWS_PER_INSERT, count - at)
      const params: unknown[] = []
      for (let i = at; i < at + rows; i++) fill(i, params)
      stmt(rows).run(params)
    }
  }
}

const key = (workspaceId: string, profileId: string) => `${workspaceId}\n${profileId}`

/** The batch's reads are SqliteProfileStore's; it adds the commit and what the processor tracks. */
export class SqliteBatchStore extends SqliteProfileStore implements BatchStore {
  readonly #stmts
  /**
   * Calls `found` with the index of each of `ids` in the dedupe table; a few statement steps per
   * batch. The index, not the id, comes back: SQLite returns a lone surrogate as U+FFFD characters.
   */
  readonly #seen: (
    ids: readonly { workspaceId: string; messageId: string }[],
    found: (i: number) => void,
  ) => void
  readonly #commit: Transaction<(changes: BatchChanges) => void>
  readonly #erasures: { head: Statement; after: Statement }
  readonly #clock: Clock
  /** Look-up statements by identity count (at most IDS_PER_LOOKUP), made when first needed. */
  readonly #lookups = new Map<number, Statement>()
  readonly #db: SqliteDatabase

  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    super(db)
    this.#db = db
    this.#clock = opts.clock ?? systemClock
    migrateSegments(db)
    migrateTriggers(db)
    migrateSqliteSuppressions(db)
    migrateSqliteTopics(db)
    migratePrivacy(db)
    const members = membershipStatements(db)
    const applyJob = triggerJobStatements(db)
    const s = {
      offsets: db.prepare('SELECT partition, offset FROM processor_offsets WHERE group_id = ?'),
      // recent_events grows by the events the commit adds (and moves in); RETURNING tells whether
      // the profile went past RECENT_EVENTS_KEPT and needs a trim.
      upsert: db
        .prepare(
          `INSERT INTO profiles (workspace_id, profile_id, user_id, state, version, created_at, updated_at,
             last_event_received_at, recent_events)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (workspace_id, profile_id) DO UPDATE SET user_id = excluded.user_id, state = excluded.state,
             version = excluded.version, updated_at = excluded.updated_at,
             last_event_received_at = excluded.last_event_received_at,
             recent_events = profiles.recent_events + excluded.recent_events
           RETURNING recent_events`,
        )
        .pluck(),
      deleteProfile: db.prepare('DELETE FROM profiles WHERE workspace_id = ? AND profile_id = ?'),
      identity: db.prepare(
        `INSERT INTO identities (workspace_id, kind, value, profile_id) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, kind, value) DO UPDATE SET profile_id = excluded.profile_id`,
      ),
      offset: db.prepare(
        `INSERT INTO processor_offsets (group_id, partition, offset) VALUES (?, ?, ?)
         ON CONFLICT (group_id, partition) DO UPDATE SET offset = excluded.offset`,
      ),
      prune: db.prepare('DELETE FROM dedupe WHERE seen_at < ?'),
      // The bounce policy's entries: an address already suppressed for the reason keeps its first entry.
      // A complaint leaves every topic of the workspace, unless a newer state is stored.
      leaveTopics: db.prepare(
        `INSERT INTO topic_subscriptions (workspace_id, user_id, topic_id, state, source, at)
         SELECT workspace_id, @userId, topic_id, 'unsubscribed', @source, @at FROM topics WHERE workspace_id = @ws
         ON CONFLICT (workspace_id, user_id, topic_id) DO UPDATE SET state = excluded.state,
           source = excluded.source, at = excluded.at
         WHERE topic_subscriptions.at <= excluded.at AND topic_subscriptions.state <> excluded.state`,
      ),
      suppress: db.prepare(
        `INSERT INTO delivery_suppressions (workspace_id, email, reason, source, created_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      moveEvents: db.prepare(
        'UPDATE profile_events SET profile_id = ? WHERE workspace_id = ? AND profile_id = ?',
      ),
      dropEvents: db.prepare('DELETE FROM profile_events WHERE workspace_id = ? AND profile_id = ?'),
      // Beyond the newest RECENT_EVENTS_KEPT of a profile; then the count is what is left.
      trimEvents: db.prepare(
        `DELETE FROM profile_events WHERE seq IN (
           SELECT seq FROM profile_events WHERE workspace_id = ? AND profile_id = ?
           ORDER BY at DESC, seq DESC LIMIT -1 OFFSET ${RECENT_EVENTS_KEPT})`,
      ),
      recount: db.prepare(
        `UPDATE profiles SET recent_events = (SELECT count(*) FROM profile_events e
           WHERE e.workspace_id = @ws AND e.profile_id = @id)
         WHERE workspace_id = @ws AND profile_id = @id`,
      ),
    }
    const addEvents = multiRowInsert(
      db,
      'INSERT INTO profile_events (workspace_id, profile_id, message_id, type, name, at, received_at, data)',
      '(?, ?, ?, ?, ?, ?, ?, ?)',
    )
    const addDedupe = multiRowInsert(
      db,
      'INSERT OR IGNORE INTO dedupe (workspace_id, message_id, seen_at)',
      '(?, ?, ?)',
    )
    this.#stmts = s
    const seenStmts = new Map<number, Statement>()
    this.#seen = (ids, found) => {
      for (let at = 0; at < ids.length; at += ROWS_PER_INSERT) {
        const n = Math.min(ROWS_PER_INSERT, ids.length - at)
        let stmt = seenStmts.get(n)
        if (!stmt) {
          const rows = Array.from({ length: n }, () => '(?, ?, ?)').join(', ')
          stmt = db
            .prepare(
              `SELECT v.column1 FROM (VALUES ${rows}) AS v
               JOIN dedupe d ON d.workspace_id = v.column2 AND d.message_id = v.column3`,
            )
            .pluck()
          seenStmts.set(n, stmt)
        }
        const params: (string | number)[] = []
        for (let i = at; i < at + n; i++) params.push(i, ids[i]!.workspaceId, ids[i]!.messageId)
        for (const i of stmt.all(params) as number[]) found(i)
      }
    }
    const erasures = {
      head: db.prepare(TOMBSTONE_HEAD).pluck(),
      after: db.prepare(TOMBSTONES_AFTER),
    }
    this.#erasures = erasures
    this.#commit = db.transaction((c: BatchChanges) => {
      // An erasure committed (on the api's connection) while this batch was folded: see BatchChanges.erasureSeq.
      if (c.erasureSeq !== undefined && (erasures.head.get() as number) > c.erasureSeq)
        throw new ProfileConflictError('an erased profile')
      const now = this.#clock.now()
      const events = c.events ?? []
      // Rows each upserted profile gains: the batch's events, and those a merge moves into it.
      const gained = new Map<string, number>()
      const gain = (k: string, n: number) => gained.set(k, (gained.get(k) ?? 0) + n)
      for (const d of c.deletes) {
        s.deleteProfile.run(d.workspaceId, d.profileId)
        if (d.into === undefined) s.dropEvents.run(d.workspaceId, d.profileId)
        else gain(key(d.workspaceId, d.into), s.moveEvents.run(d.into, d.workspaceId, d.profileId).changes)
      }
      for (const e of events) gain(key(e.workspaceId, e.profileId), 1)
      addEvents(events.length, (i, params) => {
        const e = events[i]!
        params.push(e.workspaceId, e.profileId, e.messageId, e.type, e.name, e.at, e.receivedAt, e.dataJson)
      })
      const full: StoredProfile[] = []
      for (const p of c.upserts) {
        const count = s.upsert.get(
          p.workspaceId,
          p.profileId,
          p.userId,
          JSON.stringify(p.state),
          p.version,
          p.createdAt,
          p.updatedAt,
          p.lastEventReceivedAt,
          gained.get(key(p.workspaceId, p.profileId)) ?? 0,
        ) as number
        if (count > RECENT_EVENTS_KEPT) full.push(p)
      }
      for (const p of full) {
        s.trimEvents.run(p.workspaceId, p.profileId)
        s.recount.run({ ws: p.workspaceId, id: p.profileId })
      }
      for (const i of c.identities) s.identity.run(i.workspaceId, i.kind, i.value, i.profileId)
      const ids = c.messageIds
      addDedupe(ids.length, (i, params) => {
        params.push(ids[i]!.workspaceId, ids[i]!.messageId, now)
      })
      for (const o of c.offsets) s.offset.run(o.group, o.partition, o.offset)
      for (const d of c.deletes) members.removeProfile.run(d.workspaceId, d.profileId)
      if (c.memberships.length > 0) {
        const plan = planMemberships(c.memberships, c.upserts, members.versions(), { rescans: false })
        for (const m of plan.join)
          members.upsert.run(m.workspaceId, m.segmentId, m.profileId, m.userId, m.email, now)
        for (const m of plan.leave) members.remove.run(m.workspaceId, m.segmentId, m.profileId)
      }
      for (const op of c.triggerJobs ?? []) applyJob(op, now)
      for (const x of c.suppressions ?? [])
        s.suppress.run(x.workspaceId, x.email, x.reason, x.source, x.createdAt)
      for (const t of c.topicUnsubscribes ?? [])
        s.leaveTopics.run({ ws: t.workspaceId, userId: t.userId, source: t.source, at: t.at })
    })
  }

  async seenMessageIds(ids: readonly { workspaceId: string; messageId: string }[]): Promise<Set<string>> {
    const seen = new Set<string>()
    this.#seen(ids, (i) => seen.add(dedupeKey(ids[i]!.workspaceId, ids[i]!.messageId)))
    return seen
  }

  async lookupIdentities(ids: readonly IdentityRef[]): Promise<BoundIdentity[]> {
    const found: BoundIdentity[] = ids.map(() => ({ profileId: null, profile: undefined }))
    // Rows come back by index (as in #seen): SQLite returns a lone surrogate as U+FFFD characters.
    const parsed = new Map<string, StoredProfile>()
    for (let at = 0; at < ids.length; at += IDS_PER_LOOKUP) {
      const n = Math.min(IDS_PER_LOOKUP, ids.length - at)
      const params: (string | number)[] = []
      for (let i = at; i < at + n; i++) params.push(i, ids[i]!.workspaceId, ids[i]!.kind, ids[i]!.value)
      for (const row of this.#lookup(n).all(params) as LookupRow[]) {
        const hit = found[row.i]!
        hit.profileId = row.bound_to
        if (row.profile_id === null) continue
        // Identities of one profile share its row, parsed once.
        const k = key(row.workspace_id, row.profile_id)
        let p = parsed.get(k)
        if (!p) {
          p = profileFromRow(row)
          parsed.set(k, p)
        }
        hit.profile = p
      }
    }
    return found
  }

  #lookup(n: number): Statement {
    let stmt = this.#lookups.get(n)
    if (!stmt) {
      const rows = Array.from({ length: n }, () => '(?, ?, ?, ?)').join(', ')
      stmt = this.#db.prepare(
        `SELECT v.column1 AS i, d.profile_id AS bound_to, p.workspace_id, p.profile_id, p.user_id, p.state,
           p.version, p.created_at, p.updated_at, p.last_event_received_at
         FROM (VALUES ${rows}) AS v
         JOIN identities d ON d.workspace_id = v.column2 AND d.kind = v.column3 AND d.value = v.column4
         LEFT JOIN profiles p ON p.workspace_id = d.workspace_id AND p.profile_id = d.profile_id`,
      )
      this.#lookups.set(n, stmt)
    }
    return stmt
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

  async tombstonesAfter(seq: number): Promise<Tombstone[]> {
    return (this.#erasures.after.all(seq) as TombstoneRow[]).map(tombstoneOf)
  }

  async pruneDedupe(before: number): Promise<number> {
    return this.#stmts.prune.run(before).changes
  }
}
