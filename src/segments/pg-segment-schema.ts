/**
 * The segment tables in PostgreSQL. Both PgSegmentStore (definitions, reads, backfill) and
 * PgProfileStore (membership committed with the profile changes) use them, so either may be
 * constructed first.
 *
 * Coordination between the processor's commits and the definitions (several processes, each
 * with a pool; in the embedded default one thread did everything):
 * - A commit holds a shared advisory lock per workspace it touches; a backfill step and a
 *   segment delete hold it exclusively. So a backfill step reads profiles either before a
 *   commit or after it, never in the middle, and a delete cannot miss rows a commit inserts.
 * - A commit writes membership only for segments at the version it evaluated. For every
 *   upserted profile and every segment of its workspace it did not evaluate at the current
 *   version (saved after the batch loaded the definitions), it queues a rescan, which the next
 *   backfill step evaluates against the committed profile. The embedded default needs no
 *   rescans: its backfill runs on the processor's thread, never between a batch's load and commit.
 */
import { lockKey, migratePg, type PgPool, type PgQueryable } from '../db/pg.ts'

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

export interface MembershipRow {
  workspaceId: string
  segmentId: string
  version: number
  profileId: string
  userId: string | null
  email: string | null
  member: boolean
}

/**
 * One statement for a batch's membership: rows at the segment's current version are upserted
 * (member) or deleted (not a member); the others are skipped, and every upserted profile not
 * evaluated against a segment of its workspace at its current version is queued for a rescan.
 * Rows must be unique per (workspace, segment, profile).
 */
const COMMIT_MEMBERS = `
  WITH m AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::bool[])
      AS m(workspace_id, segment_id, version, profile_id, user_id, email, member)
  ), cur AS (
    SELECT m.* FROM m JOIN segments s USING (workspace_id, segment_id, version)
  ), up AS (
    INSERT INTO segment_members (workspace_id, segment_id, profile_id, user_id, email, joined_at)
    SELECT workspace_id, segment_id, profile_id, user_id, email, $10::bigint FROM cur WHERE member
    ON CONFLICT (workspace_id, segment_id, profile_id) DO UPDATE
      SET user_id = excluded.user_id, email = excluded.email
      WHERE segment_members.user_id IS DISTINCT FROM excluded.user_id
         OR segment_members.email IS DISTINCT FROM excluded.email
  ), down AS (
    DELETE FROM segment_members sm USING cur
    WHERE NOT cur.member AND sm.workspace_id = cur.workspace_id AND sm.segment_id = cur.segment_id
      AND sm.profile_id = cur.profile_id
  )
  INSERT INTO segment_rescans (workspace_id, segment_id, profile_id)
  SELECT s.workspace_id, s.segment_id, u.profile_id
  FROM unnest($8::text[], $9::text[]) AS u(workspace_id, profile_id)
  JOIN segments s ON s.workspace_id = u.workspace_id
  WHERE NOT EXISTS (
    SELECT 1 FROM cur WHERE cur.workspace_id = s.workspace_id AND cur.segment_id = s.segment_id
      AND cur.profile_id = u.profile_id)
  ON CONFLICT DO NOTHING`

/** Writes a commit's membership rows (see COMMIT_MEMBERS); call inside the commit's transaction. */
export async function commitMemberships(
  db: PgQueryable,
  rows: readonly MembershipRow[],
  upserted: readonly { workspaceId: string; profileId: string }[],
  now: number,
): Promise<void> {
  await db.query({
    name: 'ink-segments-commit-members',
    text: COMMIT_MEMBERS,
    values: [
      rows.map((m) => m.workspaceId),
      rows.map((m) => m.segmentId),
      rows.map((m) => m.version),
      rows.map((m) => m.profileId),
      rows.map((m) => m.userId),
      rows.map((m) => m.email),
      rows.map((m) => m.member),
      upserted.map((p) => p.workspaceId),
      upserted.map((p) => p.profileId),
      now,
    ],
  })
}

const WRITE_MEMBERS = `
  WITH m AS (
    SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::bool[]) AS m(profile_id, user_id, email, member)
  ), up AS (
    INSERT INTO segment_members (workspace_id, segment_id, profile_id, user_id, email, joined_at)
    SELECT $1::text, $2::text, profile_id, user_id, email, $7::bigint FROM m WHERE member
    ON CONFLICT (workspace_id, segment_id, profile_id) DO UPDATE
      SET user_id = excluded.user_id, email = excluded.email
      WHERE segment_members.user_id IS DISTINCT FROM excluded.user_id
         OR segment_members.email IS DISTINCT FROM excluded.email
  )
  DELETE FROM segment_members sm USING m
  WHERE NOT m.member AND sm.workspace_id = $1 AND sm.segment_id = $2 AND sm.profile_id = m.profile_id`

export interface MemberOutcome {
  profileId: string
  userId: string | null
  email: string | null
  member: boolean
}

/** Sets the membership of some profiles in one segment (backfill); unique profiles. */
export async function writeMembers(
  db: PgQueryable,
  workspaceId: string,
  segmentId: string,
  rows: readonly MemberOutcome[],
  now: number,
): Promise<void> {
  if (rows.length === 0) return
  await db.query({
    name: 'ink-segments-write-members',
    text: WRITE_MEMBERS,
    values: [
      workspaceId,
      segmentId,
      rows.map((r) => r.profileId),
      rows.map((r) => r.userId),
      rows.map((r) => r.email),
      rows.map((r) => r.member),
      now,
    ],
  })
}
