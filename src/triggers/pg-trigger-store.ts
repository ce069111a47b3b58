/**
 * TriggerStore over PostgreSQL; the dispatcher's writes are single-row statements, so several
 * dispatchers may share the jobs: `claim` is one conditional UPDATE and only one of them wins.
 * A processor committing jobs NOTIFYs; `listen` is how a sender process hears it.
 */
import type { Clock } from '../core/types.ts'
import { type PgPool, pgJson, pgText, toInt, toIntOrNull } from '../db/pg.ts'
import { ownerGone, type ProcessOwner } from '../db/pg-lease.ts'
import { PgSession } from '../db/pg-session.ts'
import { PgStore } from '../db/pg-store.ts'
import { JOBS_CHANNEL_SQL, migratePgTriggers } from './pg-trigger-schema.ts'
import { defFromRow, type TriggerDef, type TriggerDefRow, type TriggerInput } from './trigger-def.ts'
import { INTERRUPTED_DETAIL, type JobRow, jobEnd, jobFromRow, type StoredJob } from './trigger-jobs.ts'
import type { TriggerStore } from './trigger-store.ts'

const DEF_COLUMNS = 'workspace_id, trigger_id, definition, updated_at'
const JOB_COLUMNS = `workspace_id, job_id, trigger_id, profile_id, user_id, event_at, due_at, event, state, detail,
  sent_at, attempts, first_failed_at, reason`

export class PgTriggerStore extends PgStore implements TriggerStore {
  readonly #owner: string | null

  /**
   * `owner`: this process's lease. Its key is stamped on every claim, and recoverInterrupted then
   * leaves alone the jobs of senders still alive. Without one (a single sender), every job left
   * `sending` counts as interrupted.
   */
  constructor(pool: PgPool, opts: { clock?: Clock; owner?: ProcessOwner } = {}) {
    super(pool, migratePgTriggers, opts.clock)
    this.#owner = opts.owner?.key ?? null
  }

  async put(workspaceId: string, triggerId: string, input: TriggerInput): Promise<TriggerDef> {
    const now = this.clock.now()
    await this.query(
      `INSERT INTO triggers (${DEF_COLUMNS}) VALUES ($1, $2, $3, $4)
       ON CONFLICT (workspace_id, trigger_id) DO UPDATE SET definition = excluded.definition,
         updated_at = excluded.updated_at`,
      [workspaceId, triggerId, pgJson(input), now],
    )
    return { ...input, workspaceId, triggerId, updatedAt: now }
  }

  async get(workspaceId: string, triggerId: string): Promise<TriggerDef | undefined> {
    const { rows } = await this.query<TriggerDefRow>(
      `SELECT ${DEF_COLUMNS} FROM triggers WHERE workspace_id = $1 AND trigger_id = $2`,
      [workspaceId, triggerId],
    )
    return rows[0] && defFromRow(rows[0])
  }

  async list(workspaceId: string): Promise<TriggerDef[]> {
    const { rows } = await this.query<TriggerDefRow>(
      `SELECT ${DEF_COLUMNS} FROM triggers WHERE workspace_id = $1 ORDER BY trigger_id`,
      [workspaceId],
    )
    return rows.map(defFromRow)
  }

  async delete(workspaceId: string, triggerId: string): Promise<boolean> {
    const { count } = await this.query('DELETE FROM triggers WHERE workspace_id = $1 AND trigger_id = $2', [
      workspaceId,
      triggerId,
    ])
    return count > 0
  }

  async allDefinitions(): Promise<TriggerDef[]> {
    const { rows } = await this.query<TriggerDefRow>(
      `SELECT ${DEF_COLUMNS} FROM triggers ORDER BY workspace_id, trigger_id`,
    )
    return rows.map(defFromRow)
  }

  async due(now: number, limit: number): Promise<StoredJob[]> {
    const { rows } = await this.query<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM trigger_jobs WHERE state = 'pending' AND due_at <= $1
       ORDER BY due_at, workspace_id, job_id LIMIT $2`,
      [now, limit],
    )
    return rows.map(jobFromRow)
  }

  async nextDueAt(): Promise<number | undefined> {
    const { rows } = await this.query<{ min: string | null }>(
      `SELECT MIN(due_at) AS min FROM trigger_jobs WHERE state = 'pending'`,
    )
    return toIntOrNull(rows[0]?.min ?? null) ?? undefined
  }

  async countDue(now: number): Promise<number> {
    const { rows } = await this.query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM trigger_jobs WHERE state = 'pending' AND due_at <= $1`,
      [now],
    )
    return Number(rows[0]?.n ?? 0)
  }

  async claim(workspaceId: string, jobId: string): Promise<boolean> {
    const { count } = await this.query(
      `UPDATE trigger_jobs SET state = 'sending', updated_at = $1, owner_key = $4
       WHERE workspace_id = $2 AND job_id = $3 AND state = 'pending'`,
      [this.clock.now(), workspaceId, jobId, this.#owner],
    )
    return count === 1
  }

  async finish(...[workspaceId, jobId, state, detail, reason]: Parameters<TriggerStore['finish']>) {
    await this.#end('sending', workspaceId, jobId, jobEnd(state, detail, reason, this.clock.now()))
  }

  async settle(...[workspaceId, jobId, state, detail, reason]: Parameters<TriggerStore['settle']>) {
    return (
      (await this.#end('pending', workspaceId, jobId, jobEnd(state, detail, reason, this.clock.now()))) === 1
    )
  }

  async #end(
    from: 'pending' | 'sending',
    workspaceId: string,
    jobId: string,
    end: ReturnType<typeof jobEnd>,
  ): Promise<number> {
    const { count } = await this.query(
      `UPDATE trigger_jobs SET state = $1, detail = $2, reason = $3, sent_at = $4, updated_at = $5
       WHERE workspace_id = $6 AND job_id = $7 AND state = $8`,
      [...end, workspaceId, jobId, from],
    )
    return count
  }

  async retryLater(...[workspaceId, jobId, from, r]: Parameters<TriggerStore['retryLater']>) {
    const { count } = await this.query(
      `UPDATE trigger_jobs SET state = 'pending', due_at = $1, attempts = $2, first_failed_at = $3, detail = $4,
         reason = $5, updated_at = $6, owner_key = NULL
       WHERE workspace_id = $7 AND job_id = $8 AND state = $9`,
      [r.dueAt, r.attempts, r.firstFailedAt, r.detail, r.reason, this.clock.now(), workspaceId, jobId, from],
    )
    return count === 1
  }

  async sentSince(workspaceId: string, triggerId: string, userId: string, since: number): Promise<number> {
    const { rows } = await this.query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM trigger_jobs
       WHERE workspace_id = $1 AND trigger_id = $2 AND user_id = $3 AND sent_at >= $4`,
      [workspaceId, triggerId, pgText(userId), since],
    )
    return toInt(rows[0]?.n ?? 0)
  }

  async recoverInterrupted(): Promise<number> {
    const { count } = await this.query(
      `UPDATE trigger_jobs SET state = 'unknown', detail = $2, updated_at = $1
       WHERE state = 'sending' AND ${ownerGone('owner_key')}`,
      [this.clock.now(), INTERRUPTED_DETAIL],
    )
    return count
  }

  async getJob(workspaceId: string, jobId: string): Promise<StoredJob | undefined> {
    const { rows } = await this.query<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM trigger_jobs WHERE workspace_id = $1 AND job_id = $2`,
      [workspaceId, jobId],
    )
    return rows[0] && jobFromRow(rows[0])
  }

  /**
   * Calls `onJobs(dueAt)` when any process commits new trigger jobs (dueAt: the earliest of them,
   * epoch ms), over LISTEN on a connection of its own (not one of the pool's). Never throws for a
   * connection problem: it reports it to `onError` and reconnects every `retryMs`; after each
   * (re)connect it calls onJobs(now), since notifications sent while it was away are lost.
   * Resolves once the first attempt to listen has succeeded or failed; returns stop().
   */
  async listen(
    onJobs: (dueAt: number) => void,
    opts: { retryMs?: number; onError?: (err: Error) => void } = {},
  ): Promise<() => Promise<void>> {
    await this.ready()
    const session = new PgSession(this.pool, {
      ...opts,
      setup: async (client) => {
        client.on('notification', (msg) => {
          const at = Number(msg.payload)
          onJobs(Number.isSafeInteger(at) ? at : this.clock.now())
        })
        const { rows } = await client.query<{ channel: string }>(`SELECT ${JOBS_CHANNEL_SQL} AS channel`)
        await client.query(`LISTEN ${client.escapeIdentifier(rows[0]!.channel)}`)
        onJobs(this.clock.now())
      },
    })
    await session.start()
    return () => session.close()
  }
}
