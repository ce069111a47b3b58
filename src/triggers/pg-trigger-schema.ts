/**
 * The trigger tables in PostgreSQL. Migrated by whichever of PgProfileStore (the processor
 * commits job operations with the profile changes) and PgTriggerStore opens first.
 */
import { migratePg, type PgPool, type PgQueryable, pgText } from '../db/pg.ts'
import type { TriggerJob, TriggerJobOp } from './trigger-jobs.ts'

export const MIGRATIONS = [
  // `event` is json, not jsonb: the template sees the properties in the order the event had them.
  `CREATE TABLE triggers (
     workspace_id text COLLATE "C" NOT NULL,
     trigger_id text COLLATE "C" NOT NULL,
     definition jsonb NOT NULL,
     updated_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, trigger_id)
   );
   CREATE TABLE trigger_jobs (
     workspace_id text COLLATE "C" NOT NULL,
     job_id text COLLATE "C" NOT NULL,
     trigger_id text COLLATE "C" NOT NULL,
     profile_id text COLLATE "C" NOT NULL,
     user_id text COLLATE "C" NOT NULL,
     event_at bigint NOT NULL,
     due_at bigint NOT NULL,
     event json NOT NULL,
     state text NOT NULL,
     detail text,
     sent_at bigint,
     created_at bigint NOT NULL,
     updated_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, job_id)
   );
   CREATE INDEX trigger_jobs_due ON trigger_jobs (due_at, workspace_id, job_id) WHERE state = 'pending';
   CREATE INDEX trigger_jobs_sending ON trigger_jobs (workspace_id, job_id) WHERE state = 'sending';
   CREATE INDEX trigger_jobs_by_profile ON trigger_jobs (workspace_id, trigger_id, profile_id, state);
   CREATE INDEX trigger_jobs_sent ON trigger_jobs (workspace_id, trigger_id, user_id, sent_at);`,
  // The lease key (db/pg-lease.ts) of the process that claimed a job still `sending`.
  'ALTER TABLE trigger_jobs ADD COLUMN owner_key bigint;',
  // Temporary failures put a job back to pending (trigger-jobs.ts afterTemporaryFailure); typed reasons.
  `ALTER TABLE trigger_jobs ADD COLUMN attempts integer NOT NULL DEFAULT 0,
     ADD COLUMN first_failed_at bigint, ADD COLUMN reason text;`,
]

export function migratePgTriggers(pool: PgPool): Promise<void> {
  return migratePg(pool, 'pg-triggers', MIGRATIONS)
}

/**
 * The NOTIFY channel that tells sender processes new jobs were committed (payload: the earliest
 * due_at, epoch ms). Named after the schema, so deployments (and tests) sharing a database do not
 * wake each other; hashed, so it is always a valid channel name (at most 63 bytes).
 */
export const JOBS_CHANNEL_SQL = "'ink_jobs_' || left(md5(current_schema()), 16)"

/** Inserts the jobs and, if any was new, notifies the channel; NOTIFY is delivered at COMMIT. */
const INSERT_JOBS = `
  WITH inserted AS (
    INSERT INTO trigger_jobs (workspace_id, job_id, trigger_id, profile_id, user_id, event_at, due_at, event,
      state, created_at, updated_at)
    SELECT j.*, 'pending', $9::bigint, $9::bigint
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::json[]) AS j
    ON CONFLICT DO NOTHING
    RETURNING due_at)
  SELECT pg_notify(${JOBS_CHANNEL_SQL}, min(due_at)::text) FROM inserted HAVING count(*) > 0`

const CANCEL_JOBS = `
  UPDATE trigger_jobs t SET state = 'cancelled', updated_at = $6::bigint
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
    AS c(workspace_id, trigger_id, profile_id, from_at, to_at)
  WHERE t.workspace_id = c.workspace_id AND t.trigger_id = c.trigger_id AND t.profile_id = c.profile_id
    AND t.state = 'pending' AND t.event_at >= c.from_at AND t.event_at <= c.to_at`

type CancelOp = Extract<TriggerJobOp, { kind: 'cancel' }>

/**
 * Applies a batch's job operations inside its transaction: one statement per run of inserts or
 * cancels, in order, so a cancel still sees the inserts before it.
 */
export async function applyJobOps(db: PgQueryable, ops: readonly TriggerJobOp[], now: number): Promise<void> {
  let i = 0
  while (i < ops.length) {
    const kind = ops[i]!.kind
    const run: TriggerJobOp[] = []
    while (i < ops.length && ops[i]!.kind === kind) run.push(ops[i++]!)
    if (kind === 'insert')
      await insertJobs(
        db,
        run.flatMap((op) => (op.kind === 'insert' ? [op.job] : [])),
        now,
      )
    else
      await cancelJobs(
        db,
        run.flatMap((op) => (op.kind === 'cancel' ? [op] : [])),
        now,
      )
  }
}

function insertJobs(db: PgQueryable, jobs: TriggerJob[], now: number) {
  return db.query({
    name: 'ink-trigger-jobs-insert',
    text: INSERT_JOBS,
    values: [
      jobs.map((j) => j.workspaceId),
      jobs.map((j) => j.jobId),
      jobs.map((j) => j.triggerId),
      jobs.map((j) => j.profileId),
      jobs.map((j) => pgText(j.userId)),
      jobs.map((j) => j.eventAt),
      jobs.map((j) => j.dueAt),
      jobs.map((j) => JSON.stringify(j.event)),
      now,
    ],
  })
}

function cancelJobs(db: PgQueryable, ops: CancelOp[], now: number) {
  return db.query({
    name: 'ink-trigger-jobs-cancel',
    text: CANCEL_JOBS,
    values: [
      ops.map((c) => c.workspaceId),
      ops.map((c) => c.triggerId),
      ops.map((c) => c.profileId),
      ops.map((c) => c.fromEventAt),
      ops.map((c) => c.toEventAt),
      now,
    ],
  })
}
