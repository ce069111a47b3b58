/**
 * BatchStore over PostgreSQL (the scale-out Store). Every commit is one transaction of a handful of
 * statements whatever the batch size: the rows of each table travel as arrays and are unnested
 * server-side. Several processors may commit at once (different users): profiles are upserted
 * (ON CONFLICT DO UPDATE), never deleted and re-inserted, and rows are written in key order so that
 * two commits touching the same rows wait rather than deadlock.
 */
import type { Clock } from '../core/types.ts'
import { type PgPool, type PgQueryable, pgJson, pgText, pgTextOrNull, toInt } from '../db/pg.ts'
import { migratePgSuppressions } from '../delivery/pg-suppression-store.ts'
import {
  migratePgPrivacy,
  TOMBSTONE_HEAD,
  TOMBSTONE_LOCK,
  TOMBSTONES_AFTER,
  type Tombstone,
  type TombstoneRow,
  tombstoneOf,
} from '../privacy/privacy-schema.ts'
import {
  migratePgProfiles,
  type PgProfileRow,
  PgProfileStore,
  PROFILE_COLUMNS,
  profileFromPgRow,
} from '../profiles/pg-profile-store.ts'
import type { StoredProfile } from '../profiles/profile-store.ts'
import { RECENT_EVENTS_KEPT } from '../profiles/recent-events.ts'
import { migratePgSegments, workspaceLock, writeMemberships } from '../segments/pg-segment-schema.ts'
import { planMemberships } from '../segments/segment-membership.ts'
import { migratePgTopics } from '../topics/pg-topic-store.ts'
import { applyJobOps, migratePgTriggers } from '../triggers/pg-trigger-schema.ts'
import {
  type BatchChanges,
  type BatchStore,
  type BoundIdentity,
  dedupeKey,
  type IdentityRef,
  ProfileConflictError,
} from './batch-store.ts'
import { checkExpected, lastByKey } from './pg-batch-checks.ts'

const DELETE_PROFILES = `
  WITH d AS (SELECT * FROM unnest($1::text[], $2::text[]) AS d(workspace_id, profile_id)),
  gone AS (
    DELETE FROM profiles p USING d WHERE p.workspace_id = d.workspace_id AND p.profile_id = d.profile_id
  )
  DELETE FROM segment_members m USING d WHERE m.workspace_id = d.workspace_id AND m.profile_id = d.profile_id`

// Four tables with disjoint rows in one statement; each part is a no-op for empty arrays. It answers
// how many profiles it wrote, how many of those it inserted past version 1, and the segment versions.
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
  -- And the current version of every segment of the workspaces it touches, for the membership rule.
  SELECT count(*)::int AS written, (count(*) FILTER (WHERE inserted AND version > 1))::int AS revived,
    (SELECT coalesce(json_agg(json_build_array(s.workspace_id, s.segment_id, s.version)
       ORDER BY s.workspace_id, s.segment_id), '[]') FROM segments s WHERE s.workspace_id = ANY($20::text[]))
      AS segments
  FROM up`

// A merge moves the merged-away profiles' recent events to the profile they merged into (none: dropped).
const MOVE_EVENTS = `
  WITH m AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS m(workspace_id, profile_id, into_id)),
  moved AS (
    UPDATE profile_events e SET profile_id = m.into_id FROM m
    WHERE e.workspace_id = m.workspace_id AND e.profile_id = m.profile_id AND m.into_id IS NOT NULL
  )
  DELETE FROM profile_events e USING m
  WHERE e.workspace_id = m.workspace_id AND e.profile_id = m.profile_id AND m.into_id IS NULL`

// Adds the batch's events, then deletes what is beyond the newest RECENT_EVENTS_KEPT of each profile
// it upserts (a second statement: a data-modifying CTE's rows are not visible to its siblings).
const ADD_EVENTS = `
  INSERT INTO profile_events (workspace_id, profile_id, message_id, type, name, at, received_at, data)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
    $7::bigint[], $8::jsonb[])`

const TRIM_EVENTS = `
  DELETE FROM profile_events e USING (
    SELECT seq FROM (
      SELECT seq, row_number() OVER (PARTITION BY workspace_id, profile_id ORDER BY at DESC, seq DESC) AS n
      FROM profile_events
      WHERE (workspace_id, profile_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
    ) r WHERE r.n > ${RECENT_EVENTS_KEPT}
  ) old WHERE e.seq = old.seq`

// Each asked identity (by its 1-based position) with the profile it is bound to, in one statement.
const LOOKUP_IDENTITIES = `
  SELECT q.n, d.profile_id AS bound_to, ${PROFILE_COLUMNS.split(', ')
    .map((c) => `p.${c}`)
    .join(', ')}
  FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS q(workspace_id, kind, value, n)
  JOIN identities d ON d.workspace_id = q.workspace_id AND d.kind = q.kind AND d.value = q.value
  LEFT JOIN profiles p ON p.workspace_id = d.workspace_id AND p.profile_id = d.profile_id`

/** A LOOKUP_IDENTITIES row: the profile's columns are null when the store lacks it. */
type LookupRow = { n: string; bound_to: string } & (PgProfileRow | { profile_id: null })

async function migrate(pool: PgPool): Promise<void> {
  await migratePgProfiles(pool)
  await migratePgSegments(pool)
  await migratePgTriggers(pool)
  await migratePgSuppressions(pool)
  await migratePgTopics(pool)
  await migratePgPrivacy(pool)
}

// A complaint leaves every topic of the workspace, unless a newer state is stored (rows in key order).
const LEAVE_TOPICS = `
  INSERT INTO topic_subscriptions (workspace_id, user_id, topic_id, state, source, at)
  SELECT t.workspace_id, q.user_id, t.topic_id, 'unsubscribed', q.source, q.at
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS q(workspace_id, user_id, source, at)
  JOIN topics t ON t.workspace_id = q.workspace_id
  ORDER BY t.workspace_id, q.user_id, t.topic_id
  ON CONFLICT (workspace_id, user_id, topic_id) DO UPDATE SET state = excluded.state,
    source = excluded.source, at = excluded.at
  WHERE topic_subscriptions.at <= excluded.at AND topic_subscriptions.state <> excluded.state`

// The bounce policy's entries, in key order (see the file's header); an address already suppressed
// for the reason keeps its first entry.
const SUPPRESS = `
  INSERT INTO delivery_suppressions (workspace_id, email, reason, source, created_at)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
    AS s(workspace_id, email, reason, source, created_at)
  ORDER BY workspace_id, email, reason
  ON CONFLICT DO NOTHING`

/** The batch's reads are PgProfileStore's; it adds the commit and what the processor tracks. */
export class PgBatchStore extends PgProfileStore implements BatchStore {
  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    super(pool, opts, migrate)
  }

  async seenMessageIds(ids: readonly { workspaceId: string; messageId: string }[]): Promise<Set<string>> {
    const seen = new Set<string>()
    if (ids.length === 0) {
      await this.ready()
      return seen
    }
    // Keys as stored (NUL replaced) → the keys the caller asked about.
    const asked = new Map<string, string[]>()
    for (const { workspaceId, messageId } of ids) {
      const stored = dedupeKey(workspaceId, pgText(messageId))
      const list = asked.get(stored)
      if (list) list.push(dedupeKey(workspaceId, messageId))
      else asked.set(stored, [dedupeKey(workspaceId, messageId)])
    }
    const { rows } = await this.query<{ workspace_id: string; message_id: string }>({
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

  async lookupIdentities(ids: readonly IdentityRef[]): Promise<BoundIdentity[]> {
    const found: BoundIdentity[] = ids.map(() => ({ profileId: null, profile: undefined }))
    if (ids.length === 0) return found
    // By position, not by value: a value is stored with NUL replaced (pgText).
    const { rows } = await this.query<LookupRow>({
      name: 'ink-profiles-lookup-identities',
      text: LOOKUP_IDENTITIES,
      values: [ids.map((i) => i.workspaceId), ids.map((i) => i.kind), ids.map((i) => pgText(i.value))],
    })
    const parsed = new Map<string, StoredProfile>()
    for (const row of rows) {
      const hit = found[Number(row.n) - 1]!
      hit.profileId = row.bound_to
      if (row.profile_id === null) continue
      // Identities of one profile share its row, converted once.
      const k = `${row.workspace_id}\n${row.profile_id}`
      let p = parsed.get(k)
      if (!p) {
        p = profileFromPgRow(row)
        parsed.set(k, p)
      }
      hit.profile = p
    }
    return found
  }

  async appliedOffsets(group: string): Promise<Map<number, number>> {
    const { rows } = await this.query<{ log_partition: number; log_offset: string }>(
      'SELECT log_partition, log_offset FROM processor_offsets WHERE group_id = $1',
      [group],
    )
    return new Map(rows.map((r) => [r.log_partition, toInt(r.log_offset)]))
  }

  async tombstonesAfter(seq: number): Promise<Tombstone[]> {
    const { rows } = await this.query<TombstoneRow>(TOMBSTONES_AFTER.replace('?', '$1'), [seq])
    return rows.map(tombstoneOf)
  }

  async commit(c: BatchChanges): Promise<void> {
    const now = this.clock.now()
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
    ).map((m) => ({ ...m, userId: pgTextOrNull(m.userId), email: pgTextOrNull(m.email) }))
    // Shared workspace locks, in one order: see pg-segment-schema.ts.
    const workspaces = new Set([...upserts, ...deletes, ...memberships].map((x) => x.workspaceId))
    const locks = [...workspaces].map(workspaceLock).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
    // With an erasure view (c.erasureSeq), the erasure lock too, shared: see privacy-schema.ts.
    const shared = [...locks, ...(c.erasureSeq === undefined ? [] : [TOMBSTONE_LOCK])]
    const begin =
      shared.length === 0
        ? 'BEGIN'
        : `BEGIN; SELECT ${shared.map((k) => `pg_advisory_xact_lock_shared(${k})`).join(', ')}`
    // Segment versions are read (by the commit statement) only where there is membership to decide.
    const segmentsOf = upserts.length > 0 || memberships.length > 0 ? [...workspaces] : []
    await this.transaction(async (client) => {
      if (c.erasureSeq !== undefined) {
        const { rows } = await client.query<{ seq: string }>(TOMBSTONE_HEAD)
        if (Number(rows[0]?.seq ?? 0) > c.erasureSeq) throw new ProfileConflictError('an erased profile')
      }
      await checkExpected(client, c)
      if (deletes.length > 0) {
        await deleteProfiles(client, deletes)
        await client.query({
          name: 'ink-profiles-move-events',
          text: MOVE_EVENTS,
          values: [
            deletes.map((d) => d.workspaceId),
            deletes.map((d) => d.profileId),
            deletes.map((d) => d.into ?? null),
          ],
        })
      }
      const events = c.events ?? []
      if (events.length > 0)
        await client.query({
          name: 'ink-profiles-add-events',
          text: ADD_EVENTS,
          values: [
            events.map((e) => e.workspaceId),
            events.map((e) => e.profileId),
            events.map((e) => pgText(e.messageId)),
            events.map((e) => e.type),
            events.map((e) => pgTextOrNull(e.name)),
            events.map((e) => e.at),
            events.map((e) => e.receivedAt),
            events.map((e) => pgJson(e.data)),
          ],
        })
      const written = await client.query<{
        written: number
        revived: number
        segments: [string, string, number][]
      }>({
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
          segmentsOf,
        ],
      })
      // Every upsert updated the row it read, else another processor changed or deleted one since.
      const w = written.rows[0]!
      if (c.expectedProfiles !== undefined && (w.written !== upserts.length || w.revived > 0))
        throw new ProfileConflictError('a profile')
      if (segmentsOf.length > 0) {
        const versions = new Map<string, Map<string, number>>()
        for (const [ws, segmentId, version] of w.segments) {
          const of = versions.get(ws) ?? new Map<string, number>()
          versions.set(ws, of.set(segmentId, version))
        }
        const none = new Map<string, number>()
        const plan = planMemberships(memberships, upserts, (ws) => versions.get(ws) ?? none, {
          rescans: true,
        })
        await writeMemberships(client, plan, now)
      }
      if (events.length > 0 && upserts.length > 0)
        await client.query({
          name: 'ink-profiles-trim-events',
          text: TRIM_EVENTS,
          values: [upserts.map((p) => p.workspaceId), upserts.map((p) => p.profileId)],
        })
      if (c.triggerJobs && c.triggerJobs.length > 0) await applyJobOps(client, c.triggerJobs, now)
      // The first of a batch's entries for one key is kept, as the table keeps the first.
      const suppressions = lastByKey(
        [...(c.suppressions ?? [])].reverse(),
        (x) => `${x.workspaceId}\n${x.email}\n${x.reason}`,
      )
      if (suppressions.length > 0)
        await client.query({
          name: 'ink-profiles-suppress',
          text: SUPPRESS,
          values: [
            suppressions.map((x) => x.workspaceId),
            suppressions.map((x) => pgText(x.email)),
            suppressions.map((x) => x.reason),
            suppressions.map((x) => pgText(x.source)),
            suppressions.map((x) => x.createdAt),
          ],
        })
      const leave = lastByKey(c.topicUnsubscribes ?? [], (t) => `${t.workspaceId}\n${t.userId}`)
      if (leave.length > 0)
        await client.query({
          name: 'ink-profiles-leave-topics',
          text: LEAVE_TOPICS,
          values: [
            leave.map((t) => t.workspaceId),
            leave.map((t) => pgText(t.userId)),
            leave.map((t) => t.source),
            leave.map((t) => t.at),
          ],
        })
    }, begin)
  }

  async pruneDedupe(before: number): Promise<number> {
    return (await this.query('DELETE FROM dedupe WHERE seen_at < $1', [before])).count
  }
}

function deleteProfiles(db: PgQueryable, deletes: readonly { workspaceId: string; profileId: string }[]) {
  return db.query({
    name: 'ink-profiles-delete',
    text: DELETE_PROFILES,
    values: [deletes.map((d) => d.workspaceId), deletes.map((d) => d.profileId)],
  })
}
