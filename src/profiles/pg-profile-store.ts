/**
 * ProfileStore over PostgreSQL (the scale-out Store). Every commit is one transaction of a
 * handful of statements whatever the batch size: the rows of each table travel as arrays and
 * are unnested server-side. Several processors may commit at once (different users): profiles
 * are upserted (ON CONFLICT DO UPDATE), never deleted and re-inserted, and rows are written in
 * key order so that two commits touching the same rows wait rather than deadlock.
 */
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import {
  inTransaction,
  migratePg,
  type PgClient,
  type PgPool,
  type PgQueryable,
  pgJson,
  pgText,
  pgTextOrNull,
  toInt,
} from '../db/pg.ts'
import {
  commitMemberships,
  type MembershipRow,
  migratePgSegments,
  workspaceLock,
} from '../segments/pg-segment-schema.ts'
import { applyJobOps, migratePgTriggers } from '../triggers/pg-trigger-schema.ts'
import {
  dedupeKey,
  type Identity,
  type IdentityKind,
  type ProfileChanges,
  ProfileConflictError,
  type ProfileStore,
  type StoredProfile,
} from './profile-store.ts'

const MIGRATIONS = [
  `CREATE TABLE profiles (
     workspace_id text COLLATE "C" NOT NULL,
     profile_id text COLLATE "C" NOT NULL,
     user_id text,
     state jsonb NOT NULL,
     version bigint NOT NULL,
     created_at bigint NOT NULL,
     updated_at bigint NOT NULL,
     last_event_received_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, profile_id)
   );
   CREATE TABLE identities (
     workspace_id text COLLATE "C" NOT NULL,
     kind text COLLATE "C" NOT NULL,
     value text COLLATE "C" NOT NULL,
     profile_id text COLLATE "C" NOT NULL,
     PRIMARY KEY (workspace_id, kind, value)
   );
   CREATE INDEX identities_by_profile ON identities (workspace_id, profile_id);
   CREATE TABLE dedupe (
     workspace_id text COLLATE "C" NOT NULL,
     message_id text COLLATE "C" NOT NULL,
     seen_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, message_id)
   );
   CREATE INDEX dedupe_by_time ON dedupe (seen_at);
   CREATE TABLE processor_offsets (
     group_id text COLLATE "C" NOT NULL,
     log_partition integer NOT NULL,
     log_offset bigint NOT NULL,
     PRIMARY KEY (group_id, log_partition)
   );`,
]

export const PROFILE_COLUMNS =
  'workspace_id, profile_id, user_id, state, version, created_at, updated_at, last_event_received_at'

export interface PgProfileRow {
  workspace_id: string
  profile_id: string
  user_id: string | null
  state: StoredProfile['state']
  version: string
  created_at: string
  updated_at: string
  last_event_received_at: string
}

export const profileFromPgRow = (r: PgProfileRow): StoredProfile => ({
  workspaceId: r.workspace_id,
  profileId: r.profile_id,
  userId: r.user_id,
  state: r.state,
  version: toInt(r.version),
  createdAt: toInt(r.created_at),
  updatedAt: toInt(r.updated_at),
  lastEventReceivedAt: toInt(r.last_event_received_at),
})

const DELETE_PROFILES = `
  WITH d AS (SELECT * FROM unnest($1::text[], $2::text[]) AS d(workspace_id, profile_id)),
  gone AS (
    DELETE FROM profiles p USING d WHERE p.workspace_id = d.workspace_id AND p.profile_id = d.profile_id
  )
  DELETE FROM segment_members m USING d WHERE m.workspace_id = d.workspace_id AND m.profile_id = d.profile_id`

// Four tables with disjoint rows in one statement; each part is a no-op for empty arrays. It answers
// how many profiles it wrote, and how many of those it inserted past version 1.
const WRITE_PROFILES = `
  WITH up AS (
    INSERT INTO profiles (${PROFILE_COLUMNS})
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::bigint[], $6::bigint[],
      $7::bigint[], $8::bigint[])
    ON CONFLICT (workspace_id, profile_id) DO UPDATE SET user_id = excluded.user_id, state = excluded.state,
      version = excluded.version, updated_at = excluded.updated_at,
      last_event_received_at = excluded.last_event_received_at
    -- With expectations (a processor's batch): only over the version it read, one below its own.
    WHERE NOT $19::boolean OR profiles.version = excluded.version - 1
    -- xmax = 0: the row was inserted, not updated (a profile past version 1 that another processor
    -- merged away and deleted would otherwise come back).
    RETURNING version, xmax = 0 AS inserted
  ), ids AS (
    INSERT INTO identities (workspace_id, kind, value, profile_id)
    SELECT * FROM unnest($9::text[], $10::text[], $11::text[], $12::text[])
    ON CONFLICT (workspace_id, kind, value) DO UPDATE SET profile_id = excluded.profile_id
  ), seen AS (
    INSERT INTO dedupe (workspace_id, message_id, seen_at)
    SELECT d.*, $15::bigint FROM unnest($13::text[], $14::text[]) AS d
    ON CONFLICT DO NOTHING
  )
  , offs AS (
    INSERT INTO processor_offsets (group_id, log_partition, log_offset)
    SELECT * FROM unnest($16::text[], $17::int[], $18::bigint[])
    ON CONFLICT (group_id, log_partition) DO UPDATE SET log_offset = excluded.log_offset
  )
  SELECT count(*)::int AS written, (count(*) FILTER (WHERE inserted AND version > 1))::int AS revived FROM up`

/**
 * Refuses the commit (ProfileConflictError) if another processor changed what the batch read
 * (ProfileChanges.expectedProfiles / expectedIdentities), for what the commit statement cannot check
 * itself: profiles merged away (deleted) and identities bound to another profile are locked first
 * (FOR UPDATE, in key order), so what is compared stays so until COMMIT; identities the batch saw
 * unbound are inserted here with DO NOTHING, so a concurrent insert of the same one is seen too.
 * Upserted profiles are checked by WRITE_PROFILES (an update only over the version read), which
 * costs no extra pass over the rows: the common case, a batch of profiles no one else touches.
 */
async function checkExpected(client: PgClient, c: ProfileChanges): Promise<void> {
  const profiles = new Map<string, { workspaceId: string; profileId: string; version: number }>()
  // Upserts are checked by the commit statement itself; merged-away profiles here.
  const deleted = new Set(c.deletes.map((d) => `${d.workspaceId}\n${d.profileId}`))
  for (const p of c.expectedProfiles ?? [])
    if (deleted.has(`${p.workspaceId}\n${p.profileId}`)) profiles.set(`${p.workspaceId}\n${p.profileId}`, p)
  const identities = c.expectedIdentities ?? []
  if (profiles.size > 0) {
    const wanted = [...profiles.values()]
    const { rows } = await client.query<{ workspace_id: string; profile_id: string; version: string }>({
      name: 'ink-profiles-check',
      text: `SELECT p.workspace_id, p.profile_id, p.version FROM profiles p
        JOIN unnest($1::text[], $2::text[]) AS e(workspace_id, profile_id) USING (workspace_id, profile_id)
        ORDER BY p.workspace_id, p.profile_id FOR UPDATE OF p`,
      values: [wanted.map((w) => w.workspaceId), wanted.map((w) => w.profileId)],
    })
    const stored = new Map(rows.map((r) => [`${r.workspace_id}\n${r.profile_id}`, toInt(r.version)]))
    for (const [key, w] of profiles)
      if (stored.get(key) !== w.version) throw new ProfileConflictError(`profile ${w.profileId}`)
  }
  const bound = identities.filter((i) => i.profileId !== null).map((i) => ({ ...i, value: pgText(i.value) }))
  if (bound.length > 0) {
    const { rows } = await client.query<{
      workspace_id: string
      kind: string
      value: string
      profile_id: string
    }>({
      name: 'ink-identities-check',
      text: `SELECT i.workspace_id, i.kind, i.value, i.profile_id FROM identities i
        JOIN unnest($1::text[], $2::text[], $3::text[]) AS e(workspace_id, kind, value) USING (workspace_id, kind, value)
        ORDER BY i.workspace_id, i.kind, i.value FOR UPDATE OF i`,
      values: [bound.map((i) => i.workspaceId), bound.map((i) => i.kind), bound.map((i) => i.value)],
    })
    const stored = new Map(rows.map((r) => [`${r.workspace_id}\n${r.kind}\n${r.value}`, r.profile_id]))
    for (const i of bound)
      if (stored.get(`${i.workspaceId}\n${i.kind}\n${i.value}`) !== i.profileId)
        throw new ProfileConflictError(`the profile of ${i.kind} "${i.value}"`)
  }
  const unbound = identities
    .filter((i) => i.profileId === null)
    .map((i) => ({ ...i, value: pgText(i.value) }))
  if (unbound.length > 0) {
    // Claimed with a placeholder that the commit's identity upsert replaces in this transaction.
    const { rowCount } = await client.query({
      name: 'ink-identities-claim',
      text: `INSERT INTO identities (workspace_id, kind, value, profile_id)
        SELECT e.*, '' FROM unnest($1::text[], $2::text[], $3::text[]) AS e ORDER BY 1, 2, 3
        ON CONFLICT DO NOTHING`,
      values: [unbound.map((i) => i.workspaceId), unbound.map((i) => i.kind), unbound.map((i) => i.value)],
    })
    if ((rowCount ?? 0) !== unbound.length) throw new ProfileConflictError('a new identity')
  }
}

/** The last entry per key, in key order: a later change in a batch replaces an earlier one. */
function lastByKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  const byKey = new Map<string, T>()
  for (const item of items) byKey.set(key(item), item)
  return [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, item]) => item)
}

export class PgProfileStore implements ProfileStore {
  readonly #pool: PgPool
  readonly #clock: Clock
  readonly #ready: Promise<void>

  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    this.#pool = pool
    this.#clock = opts.clock ?? systemClock
    this.#ready = (async () => {
      await migratePg(pool, 'pg-profile-store', MIGRATIONS)
      await migratePgSegments(pool)
      await migratePgTriggers(pool)
    })()
    // Reported by the first call (and by ready()), not as an unhandled rejection.
    this.#ready.catch(() => {})
  }

  /** Resolves once the tables exist; every method waits for it too. */
  ready(): Promise<void> {
    return this.#ready
  }

  async findProfileId(workspaceId: string, kind: IdentityKind, value: string): Promise<string | undefined> {
    await this.#ready
    const { rows } = await this.#pool.query<{ profile_id: string }>({
      name: 'ink-profiles-find',
      text: 'SELECT profile_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value = $3',
      values: [workspaceId, kind, pgText(value)],
    })
    return rows[0]?.profile_id
  }

  async getProfile(workspaceId: string, profileId: string): Promise<StoredProfile | undefined> {
    await this.#ready
    const { rows } = await this.#pool.query<PgProfileRow>({
      name: 'ink-profiles-get',
      text: `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE workspace_id = $1 AND profile_id = $2`,
      values: [workspaceId, profileId],
    })
    return rows[0] && profileFromPgRow(rows[0])
  }

  async identities(workspaceId: string, profileId: string): Promise<Identity[]> {
    await this.#ready
    const { rows } = await this.#pool.query<Identity>(
      'SELECT kind, value FROM identities WHERE workspace_id = $1 AND profile_id = $2 ORDER BY kind, value',
      [workspaceId, profileId],
    )
    return rows
  }

  async seenMessageIds(ids: readonly { workspaceId: string; messageId: string }[]): Promise<Set<string>> {
    await this.#ready
    const seen = new Set<string>()
    if (ids.length === 0) return seen
    // Keys as stored (NUL replaced) → the keys the caller asked about.
    const asked = new Map<string, string[]>()
    for (const { workspaceId, messageId } of ids) {
      const stored = dedupeKey(workspaceId, pgText(messageId))
      const list = asked.get(stored)
      if (list) list.push(dedupeKey(workspaceId, messageId))
      else asked.set(stored, [dedupeKey(workspaceId, messageId)])
    }
    const { rows } = await this.#pool.query<{ workspace_id: string; message_id: string }>({
      name: 'ink-profiles-seen',
      text: `SELECT d.workspace_id, d.message_id FROM dedupe d
             JOIN unnest($1::text[], $2::text[]) AS q(workspace_id, message_id)
               ON d.workspace_id = q.workspace_id AND d.message_id = q.message_id`,
      values: [ids.map((i) => i.workspaceId), ids.map((i) => pgText(i.messageId))],
    })
    for (const r of rows)
      for (const key of asked.get(dedupeKey(r.workspace_id, r.message_id)) ?? []) seen.add(key)
    return seen
  }

  async appliedOffsets(group: string): Promise<Map<number, number>> {
    await this.#ready
    const { rows } = await this.#pool.query<{ log_partition: number; log_offset: string }>(
      'SELECT log_partition, log_offset FROM processor_offsets WHERE group_id = $1',
      [group],
    )
    return new Map(rows.map((r) => [r.log_partition, toInt(r.log_offset)]))
  }

  async commit(c: ProfileChanges): Promise<void> {
    await this.#ready
    const now = this.#clock.now()
    const upserts = lastByKey(c.upserts, (p) => `${p.workspaceId}\n${p.profileId}`)
    const deletes = lastByKey(c.deletes, (d) => `${d.workspaceId}\n${d.profileId}`)
    const identities = lastByKey(
      c.identities.map((i) => ({ ...i, value: pgText(i.value) })),
      (i) => `${i.workspaceId}\n${i.kind}\n${i.value}`,
    )
    const offsets = lastByKey(c.offsets, (o) => `${o.group}\n${o.partition}`)
    const memberships = lastByKey(
      c.memberships,
      (m) => `${m.workspaceId}\n${m.segmentId}\n${m.profileId}`,
    ).map((m): MembershipRow => ({ ...m, userId: pgTextOrNull(m.userId), email: pgTextOrNull(m.email) }))
    // Shared workspace locks, in one order: see pg-segment-schema.ts.
    const workspaces = new Set([...upserts, ...deletes, ...memberships].map((x) => x.workspaceId))
    const locks = [...workspaces].map(workspaceLock).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
    const begin =
      locks.length === 0
        ? 'BEGIN'
        : `BEGIN; SELECT ${locks.map((k) => `pg_advisory_xact_lock_shared(${k})`).join(', ')}`
    await inTransaction(
      this.#pool,
      async (client) => {
        await checkExpected(client, c)
        if (deletes.length > 0) await this.#deleteProfiles(client, deletes)
        const written = await client.query<{ written: number; revived: number }>({
          name: 'ink-profiles-commit',
          text: WRITE_PROFILES,
          values: [
            upserts.map((p) => p.workspaceId),
            upserts.map((p) => p.profileId),
            upserts.map((p) => pgTextOrNull(p.userId)),
            upserts.map((p) => pgJson(p.state)),
            upserts.map((p) => p.version),
            upserts.map((p) => p.createdAt),
            upserts.map((p) => p.updatedAt),
            upserts.map((p) => p.lastEventReceivedAt),
            identities.map((i) => i.workspaceId),
            identities.map((i) => i.kind),
            identities.map((i) => i.value),
            identities.map((i) => i.profileId),
            c.messageIds.map((m) => m.workspaceId),
            c.messageIds.map((m) => pgText(m.messageId)),
            now,
            offsets.map((o) => o.group),
            offsets.map((o) => o.partition),
            offsets.map((o) => o.offset),
            c.expectedProfiles !== undefined,
          ],
        })
        // Every upsert updated the row it read, else another processor changed or deleted one since.
        const w = written.rows[0]!
        if (c.expectedProfiles !== undefined && (w.written !== upserts.length || w.revived > 0))
          throw new ProfileConflictError('a profile')
        if (upserts.length > 0 || memberships.length > 0)
          await commitMemberships(client, memberships, upserts, now)
        if (c.triggerJobs && c.triggerJobs.length > 0) await applyJobOps(client, c.triggerJobs, now)
      },
      begin,
    )
  }

  #deleteProfiles(db: PgQueryable, deletes: readonly { workspaceId: string; profileId: string }[]) {
    return db.query({
      name: 'ink-profiles-delete',
      text: DELETE_PROFILES,
      values: [deletes.map((d) => d.workspaceId), deletes.map((d) => d.profileId)],
    })
  }

  async pruneDedupe(before: number): Promise<number> {
    await this.#ready
    const { rowCount } = await this.#pool.query('DELETE FROM dedupe WHERE seen_at < $1', [before])
    return rowCount ?? 0
  }

  async close(): Promise<void> {}
}
