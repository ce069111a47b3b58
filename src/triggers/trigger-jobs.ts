/**
 * Trigger jobs: one row per (trigger, trigger event), written by the processor in the same
 * transaction as the profile changes of the event, and sent by the dispatcher on the main thread.
 *
 * States: pending → sending (claimed, at most once) → sent | failed | skipped | suppressed | unknown
 * (the server may have the message: a reply lost after the body); pending → cancelled (the `unless`
 * event came in time). A row a crash left in `sending` becomes `unknown` too, and is never resent.
 */
import { createHash } from 'node:crypto'
import type { JsonObject } from '../core/types.ts'

export const JOB_STATES = [
  'pending',
  'sending',
  'sent',
  'failed',
  'skipped',
  'suppressed',
  'cancelled',
  'unknown',
] as const
export type JobState = (typeof JOB_STATES)[number]
export type JobFinalState = 'sent' | 'failed' | 'skipped' | 'suppressed' | 'unknown'

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
}

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
