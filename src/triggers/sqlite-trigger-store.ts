/** TriggerStore over the store file; the dispatcher's writes are single-row statements. */
import { type Clock, systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrateTriggers } from './sqlite-trigger-schema.ts'
import type { TriggerDef, TriggerInput } from './trigger-def.ts'
import {
  INTERRUPTED_DETAIL,
  type JobFinalState,
  type JobReason,
  type JobRowValues,
  jobFromRow,
  type StoredJob,
  sentAtFor,
} from './trigger-jobs.ts'
import type { TriggerStore } from './trigger-store.ts'

interface DefRow {
  workspace_id: string
  trigger_id: string
  definition: string
  updated_at: number
}

type JobRow = Omit<JobRowValues, 'event'> & { event: string }

const toDef = (r: DefRow): TriggerDef => ({
  ...(JSON.parse(r.definition) as TriggerInput),
  workspaceId: r.workspace_id,
  triggerId: r.trigger_id,
  updatedAt: r.updated_at,
})

const toJob = (r: JobRow): StoredJob => jobFromRow({ ...r, event: JSON.parse(r.event) })

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
    const row = this.#s.get.get(workspaceId, triggerId) as DefRow | undefined
    return row && toDef(row)
  }

  async list(workspaceId: string): Promise<TriggerDef[]> {
    return (this.#s.list.all(workspaceId) as DefRow[]).map(toDef)
  }

  async delete(workspaceId: string, triggerId: string): Promise<boolean> {
    return this.#s.delete.run(workspaceId, triggerId).changes > 0
  }

  async allDefinitions(): Promise<TriggerDef[]> {
    return (this.#s.all.all() as DefRow[]).map(toDef)
  }

  async due(now: number, limit: number): Promise<StoredJob[]> {
    return (this.#s.due.all(now, limit) as JobRow[]).map(toJob)
  }

  async nextDueAt(): Promise<number | undefined> {
    return (this.#s.next.get() as number | null) ?? undefined
  }

  async claim(workspaceId: string, jobId: string): Promise<boolean> {
    return this.#s.claim.run(this.#clock.now(), workspaceId, jobId).changes === 1
  }

  async finish(
    workspaceId: string,
    jobId: string,
    state: JobFinalState,
    detail: string,
    reason?: JobReason,
  ): Promise<void> {
    const now = this.#clock.now()
    this.#s.finish.run(state, detail, reason ?? null, sentAtFor(state, now), now, workspaceId, jobId)
  }

  async settle(
    workspaceId: string,
    jobId: string,
    state: JobFinalState,
    detail: string,
    reason?: JobReason,
  ): Promise<boolean> {
    const now = this.#clock.now()
    const { changes } = this.#s.settle.run(
      state,
      detail,
      reason ?? null,
      sentAtFor(state, now),
      now,
      workspaceId,
      jobId,
    )
    return changes === 1
  }

  async retryLater(
    workspaceId: string,
    jobId: string,
    from: 'pending' | 'sending',
    r: { dueAt: number; attempts: number; firstFailedAt: number; detail: string; reason: JobReason },
  ): Promise<boolean> {
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
    return row && toJob(row)
  }

  async close(): Promise<void> {}
}
