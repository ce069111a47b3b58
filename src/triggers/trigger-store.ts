/** The trigger part of the Store seam: definitions (API, processor) and jobs (dispatcher). */
import type { TriggerDef, TriggerInput } from './trigger-def.ts'
import type { JobFinalState, JobReason, StoredJob } from './trigger-jobs.ts'

export interface TriggerStore {
  put(workspaceId: string, triggerId: string, input: TriggerInput): Promise<TriggerDef>
  get(workspaceId: string, triggerId: string): Promise<TriggerDef | undefined>
  list(workspaceId: string): Promise<TriggerDef[]>
  /** False if there was none. Its pending jobs are then skipped by the dispatcher. */
  delete(workspaceId: string, triggerId: string): Promise<boolean>
  /** Every definition of every workspace (the processor matches events against them). */
  allDefinitions(): Promise<TriggerDef[]>

  /** Pending jobs due at `now`, oldest first. */
  due(now: number, limit: number): Promise<StoredJob[]>
  /** The earliest due time of a pending job, if any. */
  nextDueAt(): Promise<number | undefined>
  /** How many pending jobs are due at `now` (the send queue's depth). */
  countDue(now: number): Promise<number>
  /** pending → sending; false if the job was claimed or cancelled meanwhile: do not send. */
  claim(workspaceId: string, jobId: string): Promise<boolean>
  /** sending → a final state. */
  finish(
    workspaceId: string,
    jobId: string,
    state: JobFinalState,
    detail: string,
    reason?: JobReason,
  ): Promise<void>
  /**
   * pending → a final state without a claim: decided before sending (the trigger was deleted, a
   * frequency cap, a failed render). False if the job left `pending` meanwhile.
   */
  settle(
    workspaceId: string,
    jobId: string,
    state: JobFinalState,
    detail: string,
    reason?: JobReason,
  ): Promise<boolean>
  /**
   * `from` (the state the caller holds: `pending` before the claim, `sending` after it) → pending
   * again, due at `retry.dueAt`, with the attempts and first failure time of afterTemporaryFailure.
   * False if the job is not in `from` any more (another dispatcher has it): nothing changes.
   */
  retryLater(
    workspaceId: string,
    jobId: string,
    from: 'pending' | 'sending',
    retry: {
      dueAt: number
      attempts: number
      firstFailedAt: number | null
      detail: string
      reason: JobReason
    },
  ): Promise<boolean>
  /** Messages of a trigger sent to a recipient since `since`. */
  sentSince(workspaceId: string, triggerId: string, userId: string, since: number): Promise<number>
  /** Jobs a crash left in `sending` become `unknown` (never resent); answers how many. */
  recoverInterrupted(): Promise<number>
  getJob(workspaceId: string, jobId: string): Promise<StoredJob | undefined>
  close(): Promise<void>
}
