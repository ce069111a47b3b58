/**
 * Segments on the store database. The API (main thread) saves definitions; the processor
 * (worker thread, its own connection to the same file) reads them, writes membership and runs
 * backfills. Deleting a segment also deletes its membership rows, from the API's connection.
 */
import type { Statement } from 'better-sqlite3'
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { type ProfileRow, profileFromRow } from '../profiles/sqlite-profile-store.ts'
import { compileCondition } from './condition.ts'
import { segmentFromRow as fromRow, type SegmentRow } from './segment-rows.ts'
import type {
  Evaluate,
  ProfileMembership,
  SegmentBackend,
  SegmentDef,
  SegmentMember,
} from './segment-store.ts'
import { membershipStatements, migrateSegments } from './sqlite-segment-schema.ts'

export class SqliteSegmentStore implements SegmentBackend {
  readonly #db: SqliteDatabase
  readonly #clock: Clock
  readonly #s
  readonly #members
  #profilesAfter: Statement | undefined

  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    this.#db = db
    this.#clock = opts.clock ?? systemClock
    migrateSegments(db)
    this.#members = membershipStatements(db)
    this.#s = {
      get: db.prepare('SELECT * FROM segments WHERE workspace_id = ? AND segment_id = ?'),
      list: db.prepare('SELECT * FROM segments WHERE workspace_id = ? ORDER BY segment_id'),
      all: db.prepare('SELECT * FROM segments'),
      insert: db.prepare(
        `INSERT INTO segments (workspace_id, segment_id, name, condition, version, members_version,
           backfill_cursor, updated_at)
         VALUES (@workspace_id, @segment_id, @name, @condition, @version, @members_version,
           @backfill_cursor, @updated_at)
         ON CONFLICT (workspace_id, segment_id) DO UPDATE SET name = excluded.name,
           condition = excluded.condition, version = excluded.version,
           backfill_cursor = excluded.backfill_cursor, updated_at = excluded.updated_at`,
      ),
      delete: db.prepare('DELETE FROM segments WHERE workspace_id = ? AND segment_id = ?'),
      deleteMembers: db.prepare('DELETE FROM segment_members WHERE workspace_id = ? AND segment_id = ?'),
      bump: db.prepare(
        'INSERT INTO segment_meta (id, stamp) VALUES (0, 1) ON CONFLICT (id) DO UPDATE SET stamp = stamp + 1',
      ),
      stamp: db.prepare('SELECT stamp FROM segment_meta WHERE id = 0').pluck(),
      members: db.prepare(
        `SELECT profile_id AS profileId, user_id AS userId, email FROM segment_members
         WHERE workspace_id = ? AND segment_id = ? AND profile_id > ? ORDER BY profile_id LIMIT ?`,
      ),
      // The limit bounds the scan of the primary key's range (-1: no limit).
      count: db
        .prepare(
          `SELECT count(*) FROM (SELECT 1 FROM segment_members
           WHERE workspace_id = ? AND segment_id = ? LIMIT ?)`,
        )
        .pluck(),
      isMember: db
        .prepare('SELECT 1 FROM segment_members WHERE workspace_id = ? AND segment_id = ? AND profile_id = ?')
        .pluck(),
      membershipsOf: db.prepare(
        `SELECT s.segment_id AS "segmentId", s.name, m.joined_at AS "joinedAt",
         (s.members_version IS NOT NULL AND s.members_version = s.version) AS backfilled
       FROM segment_members m JOIN segments s ON s.workspace_id = m.workspace_id AND s.segment_id = m.segment_id
       WHERE m.workspace_id = ? AND m.profile_id = ? ORDER BY s.segment_id`,
      ),
      pending: db.prepare(
        `SELECT * FROM segments WHERE members_version IS NULL OR members_version <> version
         ORDER BY updated_at, workspace_id, segment_id LIMIT 1`,
      ),
      clearMembers: db.prepare(
        `DELETE FROM segment_members WHERE workspace_id = ? AND segment_id = ?
         AND EXISTS (SELECT 1 FROM segments WHERE workspace_id = ? AND segment_id = ? AND version = ?)`,
      ),
      progress: db.prepare(
        'UPDATE segments SET backfill_cursor = ? WHERE workspace_id = ? AND segment_id = ? AND version = ?',
      ),
      finished: db.prepare(
        `UPDATE segments SET backfill_cursor = NULL, members_version = version
         WHERE workspace_id = ? AND segment_id = ? AND version = ?`,
      ),
    }
  }

  async put(ws: string, id: string, input: { name?: string; condition: unknown }): Promise<SegmentDef> {
    compileCondition(input.condition)
    const condition = JSON.stringify(input.condition)
    const save = this.#db.transaction(() => {
      const old = this.#s.get.get(ws, id) as SegmentRow | undefined
      const same = old?.condition === condition
      const row: SegmentRow = {
        workspace_id: ws,
        segment_id: id,
        name: input.name ?? old?.name ?? id,
        condition,
        version: old ? (same ? old.version : old.version + 1) : 1,
        members_version: old?.members_version ?? null,
        // A new condition restarts the backfill from the first profile.
        backfill_cursor: same ? old.backfill_cursor : null,
        updated_at: this.#clock.now(),
      }
      this.#s.insert.run(row)
      this.#s.bump.run()
      return fromRow(row)
    })
    return save.immediate()
  }

  async get(ws: string, id: string): Promise<SegmentDef | undefined> {
    return (this.#s.get.all(ws, id) as SegmentRow[]).map(fromRow)[0]
  }

  async list(ws: string): Promise<SegmentDef[]> {
    return (this.#s.list.all(ws) as SegmentRow[]).map(fromRow)
  }

  async delete(ws: string, id: string): Promise<boolean> {
    const remove = this.#db.transaction(() => {
      const n = this.#s.delete.run(ws, id).changes
      if (n === 0) return false
      this.#s.deleteMembers.run(ws, id)
      this.#s.bump.run()
      return true
    })
    return remove.immediate()
  }

  async members(ws: string, id: string, page: { after?: string; limit: number }): Promise<SegmentMember[]> {
    return this.#s.members.all(ws, id, page.after ?? '', page.limit) as SegmentMember[]
  }

  async countMembers(ws: string, id: string, max?: number): Promise<number> {
    return this.#s.count.get(ws, id, max ?? -1) as number
  }

  async isMember(ws: string, id: string, profileId: string): Promise<boolean> {
    return this.#s.isMember.get(ws, id, profileId) !== undefined
  }

  async membershipsOf(ws: string, profileId: string): Promise<ProfileMembership[]> {
    const rows = this.#s.membershipsOf.all(ws, profileId) as (Omit<ProfileMembership, 'backfilled'> & {
      backfilled: number
    })[]
    return rows.map((r) => ({ ...r, backfilled: r.backfilled === 1 }))
  }

  async definitionsStamp(): Promise<number> {
    return (this.#s.stamp.get() as number | undefined) ?? 0
  }

  async allDefinitions(): Promise<SegmentDef[]> {
    return (this.#s.all.all() as SegmentRow[]).map(fromRow)
  }

  // The return type is SegmentIndex's (BackfillProgress | undefined).
  async backfillStep(limit: number, evaluate: Evaluate) {
    // Prepared on first use: the profiles table belongs to SqliteProfileStore's migrations.
    this.#profilesAfter ??= this.#db.prepare(
      'SELECT * FROM profiles WHERE workspace_id = ? AND profile_id > ? ORDER BY profile_id LIMIT ?',
    )
    const profilesAfter = this.#profilesAfter
    const m = this.#members
    // One IMMEDIATE transaction reads the profiles and writes their membership, so a processor
    // batch committing in between cannot be overwritten with older state.
    const step = this.#db.transaction(() => {
      const row = this.#s.pending.get() as SegmentRow | undefined
      if (!row) return undefined
      const seg = fromRow(row)
      const now = this.#clock.now()
      const rows = profilesAfter.all(seg.workspaceId, row.backfill_cursor ?? '', limit) as ProfileRow[]
      for (const r of rows) {
        const p = profileFromRow(r)
        const member = evaluate(seg, p)
        if (member) m.upsert.run(seg.workspaceId, seg.segmentId, p.profileId, p.userId, member.email, now)
        else m.remove.run(seg.workspaceId, seg.segmentId, p.profileId)
      }
      const done = rows.length < limit
      if (done) this.#s.finished.run(seg.workspaceId, seg.segmentId, seg.version)
      else this.#s.progress.run(rows.at(-1)!.profile_id, seg.workspaceId, seg.segmentId, seg.version)
      return {
        workspaceId: seg.workspaceId,
        segmentId: seg.segmentId,
        version: seg.version,
        processed: rows.length,
        done,
      }
    })
    return step.immediate()
  }

  async clearMembers(ws: string, id: string, version: number): Promise<number> {
    return this.#s.clearMembers.run(ws, id, ws, id, version).changes
  }

  async close(): Promise<void> {}
}
