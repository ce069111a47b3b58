/**
 * The segment tables in PostgreSQL. Both PgSegmentStore (definitions, reads, backfill) and
 * PgBatchStore (membership committed with the profile changes) use them, so either may be
 * constructed first.
 *
 * Coordination between the processor's commits and the definitions (several processes, each
 * with a pool; in the embedded default one thread did everything):
 * - A commit holds a shared advisory lock per workspace it touches; a backfill step and a
 *   segment delete hold it exclusively. So a backfill step reads profiles either before a
 *   commit or after it, never in the middle, and a delete cannot miss rows a commit inserts.
 * - A commit writes membership only for segments at the version it evaluated (the rule in
 *   segment-membership.ts, over the versions its commit statement read). For every upserted
 *   profile and every segment of its workspace it did not evaluate at the current version, it
 *   queues a rescan, which the next backfill step evaluates against the committed profile. A
 *   definition saved after that read (saves take no workspace lock) restarts its backfill, whose
 *   steps wait for the commit's shared lock, so they see the committed profile. The embedded default needs no
 *   rescans: its backfill runs on the processor's thread, never between a batch's load and commit.
 */
import { columns, lockKey, migratePg, type PgPool, type PgQueryable } from '../db/pg.ts'
import type { SegmentMembership } from './segment-membership.ts'

const MIGRATIONS = [
  // The condition is kept as the text that was sent: a changed text is a new version (as in
  // SQLite), and jsonb would reorder keys, which matters to equality on sub-documents.
  `CREATE TABLE segments (
     workspace_id text COLLATE "C" NOT NULL,
     segment_id text COLLATE "C" NOT NULL,
     name text NOT NULL,
     condition text NOT NULL,
     version integer NOT NULL,
     members_version integer,
     backfill_cursor text COLLATE "C",
     updated_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, segment_id)
   );
   CREATE TABLE segment_members (
     workspace_id text COLLATE "C" NOT NULL,
     segment_id text COLLATE "C" NOT NULL,
     profile_id text COLLATE "C" NOT NULL,
     user_id text,
     email text,
     joined_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, segment_id, profile_id)
   );
   CREATE INDEX segment_members_by_profile ON segment_members (workspace_id, profile_id);
   CREATE TABLE segment_meta (
     id integer PRIMARY KEY CHECK (id = 0),
     stamp bigint NOT NULL
   );
   CREATE TABLE segment_rescans (
     workspace_id text COLLATE "C" NOT NULL,
     segment_id text COLLATE "C" NOT NULL,
     profile_id text COLLATE "C" NOT NULL,
     PRIMARY KEY (workspace_id, segment_id, profile_id)
   );`,
]

export function migratePgSegments(pool: PgPool): Promise<void> {
  return migratePg(pool, 'pg-segment-store', MIGRATIONS)
}

/** The advisory lock that orders a workspace's commits against its backfill steps and deletes. */
export const workspaceLock = (workspaceId: string): string => lockKey(`inkstream.segments\n${workspaceId}`)

type MemberKey = Pick<SegmentMembership, 'workspaceId' | 'segmentId' | 'profileId'>

/** One statement writes a membership plan (segment-membership.ts): joins, leaves and rescans. */
const WRITE_MEMBERSHIPS = `
  WITH up AS (
    INSERT INTO segment_members (workspace_id, segment_id, profile_id, user_id, email, joined_at)
    SELECT j.*, $12::bigint FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
      AS j(workspace_id, segment_id, profile_id, user_id, email)
    ON CONFLICT (workspace_id, segment_id, profile_id) DO UPDATE
      SET user_id = excluded.user_id, email = excluded.email
      WHERE segment_members.user_id IS DISTINCT FROM excluded.user_id
         OR segment_members.email IS DISTINCT FROM excluded.email
  ), down AS (
    DELETE FROM segment_members sm
    USING unnest($6::text[], $7::text[], $8::text[]) AS l(workspace_id, segment_id, profile_id)
    WHERE sm.workspace_id = l.workspace_id AND sm.segment_id = l.segment_id AND sm.profile_id = l.profile_id
  )
  INSERT INTO segment_rescans (workspace_id, segment_id, profile_id)
  SELECT * FROM unnest($9::text[], $10::text[], $11::text[])
  ON CONFLICT DO NOTHING`

/**
 * Writes a batch's membership plan (the processor's commit) or a backfill step's outcomes; call
 * inside the caller's transaction. Rows must be unique per (workspace, segment, profile).
 */
export async function writeMemberships(
  db: PgQueryable,
  plan: {
    join: readonly (MemberKey & Pick<SegmentMembership, 'userId' | 'email'>)[]
    leave: readonly MemberKey[]
    rescan: readonly MemberKey[]
  },
  now: number,
): Promise<void> {
  const { join, leave, rescan } = plan
  if (join.length + leave.length + rescan.length === 0) return
  await db.query({
    name: 'ink-segments-write-members',
    text: WRITE_MEMBERSHIPS,
    values: [
      ...columns(join, 'workspaceId', 'segmentId', 'profileId', 'userId', 'email'),
      ...columns(leave, 'workspaceId', 'segmentId', 'profileId'),
      ...columns(rescan, 'workspaceId', 'segmentId', 'profileId'),
      now,
    ],
  })
}

export interface MemberOutcome {
  profileId: string
  userId: string | null
  email: string | null
  member: boolean
}

/** Sets the membership of some profiles in one segment (backfill); unique profiles. */
export function writeMembers(
  db: PgQueryable,
  workspaceId: string,
  segmentId: string,
  rows: readonly MemberOutcome[],
  now: number,
): Promise<void> {
  const at = (r: MemberOutcome) => ({ ...r, workspaceId, segmentId })
  const join = rows.filter((r) => r.member).map(at)
  const leave = rows.filter((r) => !r.member).map(at)
  return writeMemberships(db, { join, leave, rescan: [] }, now)
}
