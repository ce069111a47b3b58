/**
 * Trigger jobs: one row per (trigger, trigger event), written by the processor in the same
 * transaction as the profile changes of the event, and sent by the dispatcher on the main thread.
 *
 * States: pending → sending (claimed once the message is rendered, at most once) → sent | bounced |
 * failed | skipped | suppressed | unknown (the server may have the message: a reply lost after the
 * body); pending → skipped | suppressed | failed without a claim (decided before sending: the trigger
 * was deleted, a frequency cap, a failed render); pending → cancelled (the `unless` event came in
 * time). A row a crash left in `sending` becomes `unknown` too, and is never resent.
 *
 * A temporary failure (the profile could not be read for a moment, the transport refused) puts the
 * job back to `pending`, due again after a backoff, and counts the attempt; after `maxAgeMs` of such
 * failures it ends `failed` with the reason `expired` (afterTemporaryFailure).
 */
import { createHash } from 'node:crypto'
import type { JsonObject } from '../core/types.ts'
import type { FailReason, SkipReason } from '../delivery/outcome.ts'

export const JOB_STATES = [
  'pending',
  'sending',
  'sent',
  'bounced',
  'failed',
  'skipped',
  'suppressed',
  'cancelled',
  'unknown',
] as const
export type JobState = (typeof JOB_STATES)[number]
export type JobFinalState = 'sent' | 'bounced' | 'failed' | 'skipped' | 'suppressed' | 'unknown'

/** The typed reason a job kept (a skip or a failure); null for the other states. */
/** `quiet_hours`: a pending job held until the recipient's quiet hours end (not an outcome). */
export type JobReason = SkipReason | FailReason | 'quiet_hours'

export interface TriggerJob {
  workspaceId: string
  triggerId: string
  /** Deterministic from the trigger and the event's messageId: a redelivered event makes no second job. */
  jobId: string
  profileId: string
  /** The userId (else anonymousId) of the event: whose profile personalizes and receives the message. */
  userId: string
  eventAt: number
  dueAt: number
  /** What the template sees as `event`: name, properties, timestamp, messageId. */
  event: JsonObject
}

export interface StoredJob extends TriggerJob {
  state: JobState
  detail: string | null
  sentAt: number | null
  /** Temporary failures so far (each put the job back to `pending` with a later due time). */
  attempts: number
  /** When the first temporary failure happened; null while there was none. */
  firstFailedAt: number | null
  reason: JobReason | null
}

/** How a job that failed for a moment is tried again. */
export interface JobRetryPolicy {
  /** Delay after the first temporary failure, doubled for each next one; default 30 s. */
  backoffMs: number
  /** The longest delay; default 15 min. */
  maxBackoffMs: number
  /** Give up (`failed`, reason `expired`) once the first temporary failure is this old; default 24 h. */
  maxAgeMs: number
}

export const DEFAULT_JOB_RETRY: JobRetryPolicy = {
  backoffMs: 30_000,
  maxBackoffMs: 15 * 60_000,
  maxAgeMs: 24 * 3_600_000,
}

/** What a job becomes after a temporary failure at `now`. */
export type JobRetry =
  | { kind: 'retry'; dueAt: number; attempts: number; firstFailedAt: number }
  | { kind: 'expired'; detail: string }

/**
 * The retry rule, written once: due again after backoffMs · 2^attempts (capped at maxBackoffMs), or
 * `expired` when the job has been failing for maxAgeMs.
 */
export function afterTemporaryFailure(job: StoredJob, now: number, policy: JobRetryPolicy): JobRetry {
  const firstFailedAt = job.firstFailedAt ?? now
  if (now - firstFailedAt >= policy.maxAgeMs)
    return {
      kind: 'expired',
      detail: `gave up after ${job.attempts + 1} attempts over ${Math.round((now - firstFailedAt) / 60_000)} min`,
    }
  const delay = Math.min(policy.backoffMs * 2 ** Math.min(job.attempts, 30), policy.maxBackoffMs)
  return { kind: 'retry', dueAt: now + delay, attempts: job.attempts + 1, firstFailedAt }
}

/** `sent_at` of a job entering `state` at `now`: only a sent message counts for a frequency cap. */
export const sentAtFor = (state: JobFinalState, now: number): number | null => (state === 'sent' ? now : null)

/** The detail of a job a crash left in `sending`. */
export const INTERRUPTED_DETAIL = 'interrupted while sending'

/** A job row as either backend reads it: bigint columns as text or number, `event` as JSON text or parsed. */
export interface JobRow {
  workspace_id: string
  job_id: string
  trigger_id: string
  profile_id: string
  user_id: string
  event_at: number | string
  due_at: number | string
  event: string | JsonObject
  state: JobState
  detail: string | null
  sent_at: number | string | null
  attempts: number
  first_failed_at: number | string | null
  reason: string | null
}

/** A whole number read back from either backend (PostgreSQL answers bigint as text). */
export function toInt(v: number | string): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n)) throw new RangeError(`${String(v)} is not a safe integer`)
  return n
}
const toIntOrNull = (v: number | string | null): number | null => (v === null ? null : toInt(v))

/** The one row mapping of both backends. */
export function jobFromRow(r: JobRow): StoredJob {
  return {
    workspaceId: r.workspace_id,
    jobId: r.job_id,
    triggerId: r.trigger_id,
    profileId: r.profile_id,
    userId: r.user_id,
    eventAt: toInt(r.event_at),
    dueAt: toInt(r.due_at),
    event: typeof r.event === 'string' ? (JSON.parse(r.event) as JsonObject) : r.event,
    state: r.state,
    detail: r.detail,
    sentAt: toIntOrNull(r.sent_at),
    attempts: r.attempts,
    firstFailedAt: toIntOrNull(r.first_failed_at),
    reason: r.reason as JobReason | null,
  }
}

/** What finish and settle write, in this order: state, detail, reason, sent_at, updated_at. */
export const jobEnd = (state: JobFinalState, detail: string, reason: JobReason | undefined, now: number) =>
  [state, detail, reason ?? null, sentAtFor(state, now), now] as const

/** What a processor batch does to the jobs, in event order (a cancel sees the inserts before it). */
export type TriggerJobOp =
  | { kind: 'insert'; job: TriggerJob }
  | {
      kind: 'cancel'
      workspaceId: string
      triggerId: string
      profileId: string
      /** Cancels pending jobs whose trigger event happened in [fromEventAt, toEventAt]. */
      fromEventAt: number
      toEventAt: number
    }

export function triggerJobId(workspaceId: string, triggerId: string, messageId: string): string {
  const hash = createHash('sha256').update(`${workspaceId}\n${triggerId}\n${messageId}`).digest('hex')
  return `tj.${hash.slice(0, 32)}`
}
