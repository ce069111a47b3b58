/**
 * Segments in PostgreSQL. The API saves definitions; processors (any number, each with a pool)
 * read them, commit membership with their batches (PgProfileStore) and run backfill steps.
 * How commits and backfills stay consistent is described in pg-segment-schema.ts.
 */
import type { Clock } from '../core/types.ts'
import { type PgClient, type PgPool, toInt } from '../db/pg.ts'
import { PgStore } from '../db/pg-store.ts'
import { type PgProfileRow, PROFILE_COLUMNS, profileFromPgRow } from '../profiles/pg-profile-store.ts'
import type { StoredProfile } from '../profiles/profile-store.ts'
import { compileCondition } from './condition.ts'
import { type MemberOutcome, migratePgSegments, workspaceLock, writeMembers } from './pg-segment-schema.ts'
import { segmentFromRow as fromRow, type SegmentRow } from './segment-rows.ts'
import type {
  BackfillProgress,
  Evaluate,
  ProfileMembership,
  SegmentBackend,
  SegmentDef,
  SegmentMember,
} from './segment-store.ts'

const COLUMNS = 'workspace_id, segment_id, name, condition, version, members_version, updated_at'

// One statement decides the version, so two saves at once cannot both make version 1.
const PUT = `
  INSERT INTO segments AS s (workspace_id, segment_id, name, condition, version, members_version,
    backfill_cursor, updated_at)
  VALUES ($1, $2, COALESCE($3::text, $2), $4, 1, NULL, NULL, $5)
  ON CONFLICT (workspace_id, segment_id) DO UPDATE SET
    name = COALESCE($3::text, s.name),
    condition = excluded.condition,
    version = CASE WHEN s.condition = excluded.condition THEN s.version ELSE s.version + 1 END,
    -- A new condition restarts the backfill from the first profile.
    backfill_cursor = CASE WHEN s.condition = excluded.condition THEN s.backfill_cursor END,
    updated_at = excluded.updated_at
  RETURNING ${COLUMNS}`

const BUMP = `INSERT INTO segment_meta (id, stamp) VALUES (0, 1)
  ON CONFLICT (id) DO UPDATE SET stamp = segment_meta.stamp + 1`

export class PgSegmentStore extends PgStore implements SegmentBackend {
  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    super(pool, migratePgSegments, opts.clock)
  }

  async put(ws: string, id: string, input: { name?: string; condition: unknown }): Promise<SegmentDef> {
    compileCondition(input.condition)
    return this.transaction(async (client) => {
      const { rows } = await client.query<SegmentRow>(PUT, [
        ws,
        id,
        input.name ?? null,
        JSON.stringify(input.condition),
        this.clock.now(),
      ])
      await client.query(BUMP)
      return fromRow(rows[0]!)
    })
  }

  async get(ws: string, id: string): Promise<SegmentDef | undefined> {
    const { rows } = await this.query<SegmentRow>(
      `SELECT ${COLUMNS} FROM segments WHERE workspace_id = $1 AND segment_id = $2`,
      [ws, id],
    )
    return rows[0] && fromRow(rows[0])
  }

  async list(ws: string): Promise<SegmentDef[]> {
    const { rows } = await this.query<SegmentRow>(
      `SELECT ${COLUMNS} FROM segments WHERE workspace_id = $1 ORDER BY segment_id`,
      [ws],
    )
    return rows.map(fromRow)
  }

  async delete(ws: string, id: string): Promise<boolean> {
    // Exclusive: a commit in flight could otherwise add members after they were deleted.
    return this.transaction(
      async (client) => {
        const { rowCount } = await client.query(
          'DELETE FROM segments WHERE workspace_id = $1 AND segment_id = $2',
          [ws, id],
        )
        if (rowCount === 0) return false
        await client.query('DELETE FROM segment_members WHERE workspace_id = $1 AND segment_id = $2', [
          ws,
          id,
        ])
        await client.query('DELETE FROM segment_rescans WHERE workspace_id = $1 AND segment_id = $2', [
          ws,
          id,
        ])
        await client.query(BUMP)
        return true
      },
      `BEGIN; SELECT pg_advisory_xact_lock(${workspaceLock(ws)})`,
    )
  }

  async members(ws: string, id: string, page: { after?: string; limit: number }): Promise<SegmentMember[]> {
    const { rows } = await this.query<SegmentMember>(
      `SELECT profile_id AS "profileId", user_id AS "userId", email FROM segment_members
       WHERE workspace_id = $1 AND segment_id = $2 AND profile_id > $3 ORDER BY profile_id LIMIT $4`,
      [ws, id, page.after ?? '', page.limit],
    )
    return rows
  }

  async countMembers(ws: string, id: string, max?: number): Promise<number> {
    // LIMIT NULL is no limit; the limit bounds the scan of the primary key's range.
    const { rows } = await this.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT 1 FROM segment_members
       WHERE workspace_id = $1 AND segment_id = $2 LIMIT $3) m`,
      [ws, id, max ?? null],
    )
    return Number(rows[0]?.n ?? 0)
  }

  async isMember(ws: string, id: string, profileId: string): Promise<boolean> {
    const { count } = await this.query(
      'SELECT 1 FROM segment_members WHERE workspace_id = $1 AND segment_id = $2 AND profile_id = $3',
      [ws, id, profileId],
    )
    return count === 1
  }

  async membershipsOf(ws: string, profileId: string): Promise<ProfileMembership[]> {
    const { rows } = await this.query<Omit<ProfileMembership, 'joinedAt'> & { joinedAt: string }>({
      name: 'ink-segments-memberships-of',
      text: `SELECT s.segment_id AS "segmentId", s.name, m.joined_at AS "joinedAt",
         (s.members_version IS NOT NULL AND s.members_version = s.version) AS backfilled
       FROM segment_members m JOIN segments s ON s.workspace_id = m.workspace_id AND s.segment_id = m.segment_id
       WHERE m.workspace_id = $1 AND m.profile_id = $2 ORDER BY s.segment_id`,
      values: [ws, profileId],
    })
    return rows.map((r) => ({ ...r, joinedAt: toInt(r.joinedAt) }))
  }

  async definitionsStamp(): Promise<number> {
    const { rows } = await this.query<{ stamp: string }>({
      name: 'ink-segments-stamp',
      text: 'SELECT stamp FROM segment_meta WHERE id = 0',
    })
    return rows[0] ? toInt(rows[0].stamp) : 0
  }

  async allDefinitions(): Promise<SegmentDef[]> {
    const { rows } = await this.query<SegmentRow>(
      `SELECT ${COLUMNS} FROM segments ORDER BY workspace_id, segment_id`,
    )
    return rows.map(fromRow)
  }

  /**
   * One step of a pending backfill (a segment whose version is newer than its members), else of
   * the rescans commits queued. Runs under the workspace's exclusive lock, so the profiles it
   * reads are not being changed by a commit meanwhile.
   */
  async backfillStep(limit: number, evaluate: Evaluate): Promise<BackfillProgress | undefined> {
    return this.transaction(async (client) => {
      const pending = await client.query<{ workspace_id: string; segment_id: string }>(
        `SELECT workspace_id, segment_id FROM segments WHERE members_version IS DISTINCT FROM version
         ORDER BY updated_at, workspace_id, segment_id LIMIT 1`,
      )
      const at = pending.rows[0]
      if (at) {
        const row = await this.#lockSegment(client, at.workspace_id, at.segment_id)
        return this.#backfill(client, at, row, limit, evaluate)
      }
      const rescan = await client.query<{ workspace_id: string; segment_id: string }>(
        'SELECT workspace_id, segment_id FROM segment_rescans LIMIT 1',
      )
      if (rescan.rows[0]) return this.#rescan(client, rescan.rows[0], limit, evaluate)
      return undefined
    })
  }

  async clearMembers(ws: string, id: string, version: number): Promise<number> {
    // Under the workspace lock, like a backfill step: no commit of that workspace's batches interleaves.
    return this.transaction(async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(${workspaceLock(ws)})`)
      const { rowCount } = await client.query(
        `DELETE FROM segment_members WHERE workspace_id = $1 AND segment_id = $2
         AND EXISTS (SELECT 1 FROM segments WHERE workspace_id = $1 AND segment_id = $2 AND version = $3)`,
        [ws, id, version],
      )
      return rowCount ?? 0
    })
  }

  /** Locks the segment's workspace and reads the segment as it is now (another step may have run). */
  async #lockSegment(client: PgClient, ws: string, id: string) {
    await client.query(`SELECT pg_advisory_xact_lock(${workspaceLock(ws)})`)
    const { rows } = await client.query<SegmentRow & { backfill_cursor: string | null }>(
      `SELECT ${COLUMNS}, backfill_cursor FROM segments WHERE workspace_id = $1 AND segment_id = $2`,
      [ws, id],
    )
    return rows[0]
  }

  /** A step of a pending backfill; `row` is the segment as read under its workspace's lock. */
  async #backfill(
    client: PgClient,
    at: { workspace_id: string; segment_id: string },
    row: SegmentRow | undefined,
    limit: number,
    evaluate: Evaluate,
  ): Promise<BackfillProgress> {
    const progress = { workspaceId: at.workspace_id, segmentId: at.segment_id }
    if (!row || row.members_version === row.version)
      return { ...progress, version: row?.version ?? 0, processed: 0, done: true }
    const seg = fromRow(row)
    const { rows } = await client.query<PgProfileRow>(
      `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE workspace_id = $1 AND profile_id > $2
       ORDER BY profile_id LIMIT $3`,
      [seg.workspaceId, row.backfill_cursor ?? '', limit],
    )
    const outcomes = rows.map((r) => outcome(seg, r.profile_id, profileFromPgRow(r), evaluate))
    await writeMembers(client, seg.workspaceId, seg.segmentId, outcomes, this.clock.now())
    const done = rows.length < limit
    if (done)
      await client.query(
        `UPDATE segments SET backfill_cursor = NULL, members_version = version
         WHERE workspace_id = $1 AND segment_id = $2 AND version = $3`,
        [seg.workspaceId, seg.segmentId, seg.version],
      )
    else
      await client.query(
        'UPDATE segments SET backfill_cursor = $1 WHERE workspace_id = $2 AND segment_id = $3 AND version = $4',
        [rows.at(-1)!.profile_id, seg.workspaceId, seg.segmentId, seg.version],
      )
    return { ...progress, version: seg.version, processed: rows.length, done }
  }

  async #rescan(
    client: PgClient,
    at: { workspace_id: string; segment_id: string },
    limit: number,
    evaluate: Evaluate,
  ): Promise<BackfillProgress> {
    const row = await this.#lockSegment(client, at.workspace_id, at.segment_id)
    const taken = await client.query<{ profile_id: string }>(
      `DELETE FROM segment_rescans WHERE workspace_id = $1 AND segment_id = $2 AND profile_id IN (
         SELECT profile_id FROM segment_rescans WHERE workspace_id = $1 AND segment_id = $2
         ORDER BY profile_id LIMIT $3)
       RETURNING profile_id`,
      [at.workspace_id, at.segment_id, limit],
    )
    const ids = taken.rows.map((r) => r.profile_id)
    const progress = { workspaceId: at.workspace_id, segmentId: at.segment_id, processed: ids.length }
    if (!row) return { ...progress, version: 0, done: ids.length < limit }
    const seg = fromRow(row)
    const { rows } = await client.query<PgProfileRow>(
      `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE workspace_id = $1 AND profile_id = ANY($2::text[])`,
      [seg.workspaceId, ids],
    )
    const found = new Map(rows.map((r) => [r.profile_id, profileFromPgRow(r)]))
    // A profile merged away since has no membership.
    const outcomes = ids.map((id) => outcome(seg, id, found.get(id), evaluate))
    await writeMembers(client, seg.workspaceId, seg.segmentId, outcomes, this.clock.now())
    return { ...progress, version: seg.version, done: ids.length < limit }
  }
}

/** The membership of one profile in `seg` (none for a profile that no longer exists). */
function outcome(
  seg: SegmentDef,
  profileId: string,
  p: StoredProfile | undefined,
  evaluate: Evaluate,
): MemberOutcome {
  const member = p ? evaluate(seg, p) : null
  return { profileId, userId: p?.userId ?? null, email: member?.email ?? null, member: member !== null }
}
