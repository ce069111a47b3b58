/** TriggerStore over the store file; the dispatcher's writes are single-row statements. */
import { type Clock, systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrateTriggers } from './sqlite-trigger-schema.ts'
import { defFromRow, type TriggerDef, type TriggerDefRow, type TriggerInput } from './trigger-def.ts'
import { INTERRUPTED_DETAIL, type JobRow, jobEnd, jobFromRow, type StoredJob } from './trigger-jobs.ts'
import type { TriggerStore } from './trigger-store.ts'

export class SqliteTriggerStore implements TriggerStore {
  readonly #clock: Clock
  readonly #s

  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    this.#clock = opts.clock ?? systemClock
    migrateTriggers(db)
    this.#s = {
      put: db.prepare(
        `INSERT INTO triggers (workspace_id, trigger_id, definition, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, trigger_id) DO UPDATE SET definition = excluded.definition,
           updated_at = excluded.updated_at`,
      ),
      get: db.prepare('SELECT * FROM triggers WHERE workspace_id = ? AND trigger_id = ?'),
      list: db.prepare('SELECT * FROM triggers WHERE workspace_id = ? ORDER BY trigger_id'),
      all: db.prepare('SELECT * FROM triggers'),
      delete: db.prepare('DELETE FROM triggers WHERE workspace_id = ? AND trigger_id = ?'),
      due: db.prepare(
        `SELECT * FROM trigger_jobs WHERE state = 'pending' AND due_at <= ? ORDER BY due_at LIMIT ?`,
      ),
      next: db.prepare(`SELECT MIN(due_at) FROM trigger_jobs WHERE state = 'pending'`).pluck(),
      countDue: db
        .prepare(`SELECT COUNT(*) FROM trigger_jobs WHERE state = 'pending' AND due_at <= ?`)
        .pluck(),
      claim: db.prepare(
        `UPDATE trigger_jobs SET state = 'sending', updated_at = ?
         WHERE workspace_id = ? AND job_id = ? AND state = 'pending'`,
      ),
      finish: db.prepare(
        `UPDATE trigger_jobs SET state = ?, detail = ?, reason = ?, sent_at = ?, updated_at = ?
         WHERE workspace_id = ? AND job_id = ? AND state = 'sending'`,
      ),
      settle: db.prepare(
        `UPDATE trigger_jobs SET state = ?, detail = ?, reason = ?, sent_at = ?, updated_at = ?
         WHERE workspace_id = ? AND job_id = ? AND state = 'pending'`,
      ),
      retryLater: db.prepare(
        `UPDATE trigger_jobs SET state = 'pending', due_at = ?, attempts = ?, first_failed_at = ?, detail = ?,
           reason = ?, updated_at = ?
         WHERE workspace_id = ? AND job_id = ? AND state = ?`,
      ),
      sentSince: db
        .prepare(
          `SELECT COUNT(*) FROM trigger_jobs
           WHERE workspace_id = ? AND trigger_id = ? AND user_id = ? AND sent_at >= ?`,
        )
        .pluck(),
      recover: db.prepare(
        `UPDATE trigger_jobs SET state = 'unknown', detail = ?, updated_at = ? WHERE state = 'sending'`,
      ),
      getJob: db.prepare('SELECT * FROM trigger_jobs WHERE workspace_id = ? AND job_id = ?'),
    }
  }

  async put(workspaceId: string, triggerId: string, input: TriggerInput): Promise<TriggerDef> {
    const now = this.#clock.now()
    this.#s.put.run(workspaceId, triggerId, JSON.stringify(input), now)
    return { ...input, workspaceId, triggerId, updatedAt: now }
  }

  async get(workspaceId: string, triggerId: string): Promise<TriggerDef | undefined> {
    const row = this.#s.get.get(workspaceId, triggerId) as TriggerDefRow | undefined
    return row && defFromRow(row)
  }

  async list(workspaceId: string): Promise<TriggerDef[]> {
    return (this.#s.list.all(workspaceId) as TriggerDefRow[]).map(defFromRow)
  }

  async delete(workspaceId: string, triggerId: string): Promise<boolean> {
    return this.#s.delete.run(workspaceId, triggerId).changes > 0
  }

  async allDefinitions(): Promise<TriggerDef[]> {
    return (this.#s.all.all() as TriggerDefRow[]).map(defFromRow)
  }

  async due(now: number, limit: number): Promise<StoredJob[]> {
    return (this.#s.due.all(now, limit) as JobRow[]).map(jobFromRow)
  }

  async nextDueAt(): Promise<number | undefined> {
    return (this.#s.next.get() as number | null) ?? undefined
  }

  async countDue(now: number): Promise<number> {
    return this.#s.countDue.get(now) as number
  }

  async claim(workspaceId: string, jobId: string): Promise<boolean> {
    return this.#s.claim.run(this.#clock.now(), workspaceId, jobId).changes === 1
  }

  async finish(...[workspaceId, jobId, state, detail, reason]: Parameters<TriggerStore['finish']>) {
    this.#s.finish.run(...jobEnd(state, detail, reason, this.#clock.now()), workspaceId, jobId)
  }

  async settle(...[workspaceId, jobId, state, detail, reason]: Parameters<TriggerStore['settle']>) {
    const end = jobEnd(state, detail, reason, this.#clock.now())
    return this.#s.settle.run(...end, workspaceId, jobId).changes === 1
  }

  async retryLater(...[workspaceId, jobId, from, r]: Parameters<TriggerStore['retryLater']>) {
    const now = this.#clock.now()
    const { changes } = this.#s.retryLater.run(
      r.dueAt,
      r.attempts,
      r.firstFailedAt,
      r.detail,
      r.reason,
      now,
      workspaceId,
      jobId,
      from,
    )
    return changes === 1
  }

  async sentSince(workspaceId: string, triggerId: string, userId: string, since: number): Promise<number> {
    return this.#s.sentSince.get(workspaceId, triggerId, userId, since) as number
  }

  async recoverInterrupted(): Promise<number> {
    return this.#s.recover.run(INTERRUPTED_DETAIL, this.#clock.now()).changes
  }

  async getJob(workspaceId: string, jobId: string): Promise<StoredJob | undefined> {
    const row = this.#s.getJob.get(workspaceId, jobId) as JobRow | undefined
    return row && jobFromRow(row)
  }

  async close(): Promise<void> {}
}
