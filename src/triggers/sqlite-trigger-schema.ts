/**
 * Tables of triggers, in the store file. Migrated by whichever of the profile store (processor
 * thread) and the trigger store (main thread) opens the file first; `triggerJobStatements` is what
 * the profile store's commit uses to write job rows in its transaction.
 */
import { migrate, type SqliteDatabase } from '../db/sqlite.ts'
import type { TriggerJobOp } from './trigger-jobs.ts'

export const MIGRATIONS = [
  `CREATE TABLE triggers (
     workspace_id TEXT NOT NULL,
     trigger_id TEXT NOT NULL,
     definition TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, trigger_id)
   ) WITHOUT ROWID;
   CREATE TABLE trigger_jobs (
     workspace_id TEXT NOT NULL,
     job_id TEXT NOT NULL,
     trigger_id TEXT NOT NULL,
     profile_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     event_at INTEGER NOT NULL,
     due_at INTEGER NOT NULL,
     event TEXT NOT NULL,
     state TEXT NOT NULL,
     detail TEXT,
     sent_at INTEGER,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, job_id)
   ) WITHOUT ROWID;
   CREATE INDEX trigger_jobs_due ON trigger_jobs (state, due_at);
   CREATE INDEX trigger_jobs_by_profile ON trigger_jobs (workspace_id, trigger_id, profile_id, state);
   CREATE INDEX trigger_jobs_sent ON trigger_jobs (workspace_id, trigger_id, user_id, sent_at);`,
  // Temporary failures put a job back to pending (trigger-jobs.ts afterTemporaryFailure); typed reasons.
  `ALTER TABLE trigger_jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE trigger_jobs ADD COLUMN first_failed_at INTEGER;
   ALTER TABLE trigger_jobs ADD COLUMN reason TEXT;`,
]

export function migrateTriggers(db: SqliteDatabase): void {
  migrate(db, 'sqlite-triggers', MIGRATIONS)
}

/** Applies a batch's job operations; call inside the batch's transaction. */
export function triggerJobStatements(db: SqliteDatabase): (op: TriggerJobOp, now: number) => void {
  const insert = db.prepare(
    `INSERT INTO trigger_jobs (workspace_id, job_id, trigger_id, profile_id, user_id, event_at, due_at, event,
       state, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING`,
  )
  const cancel = db.prepare(
    `UPDATE trigger_jobs SET state = 'cancelled', updated_at = ?
     WHERE workspace_id = ? AND trigger_id = ? AND profile_id = ? AND state = 'pending'
       AND event_at >= ? AND event_at <= ?`,
  )
  return (op, now) => {
    if (op.kind === 'insert') {
      const j = op.job
      insert.run(
        j.workspaceId,
        j.jobId,
        j.triggerId,
        j.profileId,
        j.userId,
        j.eventAt,
        j.dueAt,
        JSON.stringify(j.event),
        now,
        now,
      )
    } else {
      cancel.run(now, op.workspaceId, op.triggerId, op.profileId, op.fromEventAt, op.toEventAt)
    }
  }
}
