/**
 * Sends due trigger jobs through the one send path (src/delivery/deliver.ts), on the main thread (it
 * has the renderer, the transport and the codec). Woken by the processor's batch reports
 * (`triggerJobsDueAt`), by a timer set to the next due time, and by a slow poll (jobs due after a
 * restart). One pass at a time; within a pass, `concurrency` jobs at once (default 8), jobs for the
 * same address one after the other, in due order.
 *
 * Per job, the trigger's policy: the trigger still exists, the recipient's address (the `email`
 * trait), then — after the jobs before it for that address — the frequency cap and the segment; then
 * deliver(): suppression, render, tracking, headers, the claim of the job (pending → sending, after
 * the render: a slow connected-content call or a crash while rendering leaves the job `pending`, never
 * `unknown`), the transport with its short in-call retry, and the outcome.
 *
 * A temporary failure (the profile cannot be read for a moment, the transport refuses the connection
 * or answers 4xx before the body after the in-call retries) puts the job back to `pending`, due again
 * after a backoff (30 s doubling, capped at 15 min; afterTemporaryFailure in trigger-jobs.ts); it ends
 * `failed` (reason `expired`) only after `retry.maxAgeMs` (default 24 h) of such failures.
 */

import { quietUntil, zoneOf } from '../core/local-time.ts'
import { PassScheduler } from '../core/pass-scheduler.ts'
import type { JsonObject } from '../core/types.ts'
import { type DeliveryDeps, deliver, messageIdFor, reportOutcome } from '../delivery/deliver.ts'
import type { DeliveryOutcome, FailReason, SkipReason } from '../delivery/outcome.ts'
import { normalizeEmail } from '../delivery/suppression-store.ts'
import type { Metrics } from '../observe/metrics.ts'
import type { TriggerDef } from './trigger-def.ts'
import {
  afterTemporaryFailure,
  DEFAULT_JOB_RETRY,
  type JobReason,
  type JobRetryPolicy,
  type StoredJob,
} from './trigger-jobs.ts'
import type { TriggerStore } from './trigger-store.ts'

export interface TriggerDispatcherDeps extends DeliveryDeps {
  /** DeliveryDeps' metrics, and the job delay (due → sent). */
  metrics?:
    | (NonNullable<DeliveryDeps['metrics']> &
        Pick<Metrics, 'triggerJobDelay'> &
        Partial<Pick<Metrics, 'triggerJobsHeld'>>)
    | undefined
  store: TriggerStore
  /** The `email` trait of a userId/anonymousId; undefined when it has none. Throws when unreadable. */
  lookupEmail(workspaceId: string, userId: string): Promise<string | undefined>
  /**
   * The `timezone` trait (an IANA name) of a userId/anonymousId, for quiet hours; absent or
   * undefined: the trigger's own `quietHours.timezone`. Throws when unreadable.
   */
  lookupTimezone?(workspaceId: string, userId: string): Promise<unknown>
  isMember(workspaceId: string, segmentId: string, userId: string, profileId: string): Promise<boolean>
  logger: { warn(obj: unknown, msg: string): void; error(obj: unknown, msg: string): void }
  /** Poll for due jobs without a wake-up; default 1000 ms. */
  pollMs?: number
  /** How long tracking links verify; default 30 days. */
  trackingTtlMs?: number
  /** Jobs sent at once; default 8. Jobs for the same address still go one after the other. */
  concurrency?: number
  /** Backoff and maximum age of temporary failures (DEFAULT_JOB_RETRY: 30 s doubling, 15 min, 24 h). */
  retry?: Partial<JobRetryPolicy>
}

const BATCH = 100
export const DEFAULT_TRIGGER_CONCURRENCY = 8

/** The campaign id of a trigger's messages in tracking links and Message-IDs. */
export const triggerCampaignId = (triggerId: string) => `trigger:${triggerId}`

/** A job ready to send, or what it ended in before that. */
type Prepared =
  | { trigger: TriggerDef; email: string; quietUntil?: number | undefined; zone?: string }
  | { outcome: DeliveryOutcome }

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err))

export class TriggerDispatcher {
  readonly #passes: PassScheduler
  readonly #retry: JobRetryPolicy

  constructor(private readonly deps: TriggerDispatcherDeps) {
    this.#retry = { ...DEFAULT_JOB_RETRY, ...deps.retry }
    this.#passes = new PassScheduler({
      pass: () => this.#drain(),
      onError: (err) => deps.logger.error({ err }, 'trigger dispatch failed; retrying'),
      clock: deps.clock,
      pollMs: deps.pollMs,
    })
  }

  /** Recovers interrupted jobs and starts sending; wake-ups before it are left to its first pass. */
  async start(): Promise<void> {
    const recovered = await this.deps.store.recoverInterrupted()
    if (recovered > 0) this.deps.logger.warn({ recovered }, 'trigger jobs interrupted while sending: unknown')
    this.#passes.start()
  }

  /**
   * Dispatches now if `dueAt` (default now) has come, else sets a timer for it. Before start() the
   * link base may not be known yet (port 0): the jobs wait in the store.
   */
  wake(dueAt?: number): void {
    this.#passes.wake(dueAt)
  }

  /** Pending jobs already due: the trigger send queue's depth (metrics, read at scrape time). */
  dueCount(): Promise<number> {
    return this.deps.store.countDue(this.deps.clock.now())
  }

  /** Resolves once no pass is running (tests). */
  idle(): Promise<void> {
    return this.#passes.idle()
  }

  async #drain(): Promise<void> {
    const { store, clock } = this.deps
    while (!this.#passes.stopped) {
      const jobs = await store.due(clock.now(), BATCH)
      await this.#sendAll(jobs)
      if (jobs.length < BATCH) break
    }
    const next = await store.nextDueAt()
    if (next !== undefined) this.#passes.schedule(next)
  }

  /** `concurrency` workers over the jobs in due order; one address's jobs chained in that order. */
  async #sendAll(jobs: readonly StoredJob[]): Promise<void> {
    const chains = new Map<string, Promise<void>>()
    let next = 0
    const worker = async () => {
      while (next < jobs.length && !this.#passes.stopped) {
        const job = jobs[next++]!
        try {
          await this.#one(job, chains)
        } catch (err) {
          // A store write failed: the job stays as it was (pending: the next pass; sending: unknown at restart).
          this.deps.logger.error({ err, job: job.jobId }, 'trigger job could not be recorded')
        }
      }
    }
    const n = Math.max(1, this.deps.concurrency ?? DEFAULT_TRIGGER_CONCURRENCY)
    await Promise.all(Array.from({ length: n }, worker))
  }

  async #one(job: StoredJob, chains: Map<string, Promise<void>>): Promise<void> {
    const prepared = await this.#prepare(job)
    if ('outcome' in prepared) return this.#decided(job, prepared.outcome)
    if (prepared.quietUntil !== undefined) return this.#hold(job, prepared.quietUntil, prepared.zone ?? 'UTC')
    const key = normalizeEmail(prepared.email) ?? `user:${job.userId}`
    const mine = (chains.get(key) ?? Promise.resolve()).then(() =>
      this.#send(job, prepared.trigger, prepared.email),
    )
    const settled = mine.catch(() => {})
    chains.set(key, settled)
    try {
      await mine
    } finally {
      if (chains.get(key) === settled) chains.delete(key)
    }
  }

  /** The trigger and the address; what ends the job before that is an outcome. */
  async #prepare(job: StoredJob): Promise<Prepared> {
    const d = this.deps
    let trigger: TriggerDef | undefined
    let email: string | undefined
    try {
      trigger = await d.store.get(job.workspaceId, job.triggerId)
      if (!trigger) return skipped('trigger_deleted', 'the trigger was deleted')
    } catch (err) {
      return temporary('unavailable', `the trigger could not be read: ${errorText(err)}`)
    }
    try {
      email = await d.lookupEmail(job.workspaceId, job.userId)
    } catch (err) {
      return temporary('profile_unreadable', `the profile could not be read: ${errorText(err)}`)
    }
    if (email === undefined) return skipped('no_address', 'the profile has no email trait')
    const quiet = trigger.quietHours
    if (quiet === undefined) return { trigger, email }
    let zone: string
    try {
      zone = zoneOf(await d.lookupTimezone?.(job.workspaceId, job.userId), quiet.timezone)
    } catch (err) {
      return temporary('profile_unreadable', `the profile could not be read: ${errorText(err)}`)
    }
    return { trigger, email, quietUntil: quietUntil(d.clock.now(), zone, quiet), zone }
  }

  /** Quiet hours on the recipient's clock: the job is pending again, due when they end. Not an outcome. */
  async #hold(job: StoredJob, until: number, zone: string): Promise<void> {
    const held = await this.deps.store.retryLater(job.workspaceId, job.jobId, 'pending', {
      dueAt: until,
      attempts: job.attempts,
      firstFailedAt: job.firstFailedAt,
      detail: `held for quiet hours (${zone}) until ${new Date(until).toISOString()}`,
      reason: 'quiet_hours',
    })
    if (held) this.deps.metrics?.triggerJobsHeld?.inc()
  }

  async #send(job: StoredJob, trigger: TriggerDef, email: string): Promise<void> {
    const d = this.deps
    const ws = job.workspaceId
    let policy: DeliveryOutcome | undefined
    try {
      if (trigger.frequencyCap) {
        const { max, perMs } = trigger.frequencyCap
        const sent = await d.store.sentSince(ws, job.triggerId, job.userId, d.clock.now() - perMs)
        if (sent >= max)
          policy = skipped('frequency_cap', `frequency cap: ${sent} sent in the last ${perMs} ms`).outcome
      }
      if (
        !policy &&
        trigger.segment !== undefined &&
        !(await d.isMember(ws, trigger.segment, job.userId, job.profileId))
      )
        policy = skipped('not_in_segment', `not a member of segment "${trigger.segment}"`).outcome
    } catch (err) {
      policy = temporary('unavailable', `the trigger's rules could not be checked: ${errorText(err)}`).outcome
    }
    if (policy) return this.#decided(job, policy)
    const campaignId = triggerCampaignId(job.triggerId)
    // The trace context rides in the job's event (no column of its own); templates do not see it.
    const { traceparent, ...event } = job.event
    const { outcome, claimed } = await deliver(d, {
      workspaceId: ws,
      origin: 'trigger',
      campaignId,
      source: campaignId,
      messageId: messageIdFor(ws, campaignId, job.jobId),
      recipient: { userId: job.userId, email },
      from: trigger.from,
      render: {
        templateId: trigger.templateId,
        userId: job.userId,
        event: event as JsonObject,
        campaign: { id: campaignId, trigger: job.triggerId },
      },
      trackingTtlMs: d.trackingTtlMs,
      claim: () => d.store.claim(ws, job.jobId),
      traceparent: typeof traceparent === 'string' ? traceparent : undefined,
      topic: trigger.topic,
    })
    if (outcome.kind === 'sent')
      d.metrics?.triggerJobDelay.observe(Math.max(d.clock.now() - job.dueAt, 0) / 1000)
    await this.#record(job, outcome, claimed)
  }

  /** An outcome the trigger's policy decided without deliver(): reported here, then recorded. */
  async #decided(job: StoredJob, outcome: DeliveryOutcome): Promise<void> {
    await reportOutcome(this.deps, this.#outcomeMessage(job), outcome)
    await this.#record(job, outcome, false)
  }

  /** Writes an outcome onto the job: finished if claimed, settled if still pending, or due again. */
  async #record(job: StoredJob, outcome: DeliveryOutcome, claimed: boolean): Promise<void> {
    const { store, clock } = this.deps
    const ws = job.workspaceId
    if (outcome.kind === 'skipped' && outcome.reason === 'already_handled') return
    if (outcome.kind === 'failed' && outcome.temporary) {
      const reason = outcome.reason ?? 'unavailable'
      const next = afterTemporaryFailure(job, clock.now(), this.#retry)
      if (next.kind === 'retry') {
        const { kind: _, ...retry } = next
        this.deps.logger.warn(
          { job: job.jobId, attempts: next.attempts, dueAt: next.dueAt, detail: outcome.detail },
          'trigger job failed for a moment; due again later',
        )
        await store.retryLater(ws, job.jobId, claimed ? 'sending' : 'pending', {
          ...retry,
          detail: outcome.detail,
          reason,
        })
        return
      }
      const expired: DeliveryOutcome = {
        kind: 'failed',
        temporary: false,
        reason: 'expired',
        detail: `${next.detail}; last: ${outcome.detail}`,
      }
      await reportOutcome(this.deps, this.#outcomeMessage(job), expired)
      return this.#record(job, expired, claimed)
    }
    const reason: JobReason | undefined =
      outcome.kind === 'skipped' ? outcome.reason : outcome.kind === 'failed' ? outcome.reason : undefined
    if (claimed) await store.finish(ws, job.jobId, outcome.kind, outcome.detail, reason)
    else await store.settle(ws, job.jobId, outcome.kind, outcome.detail, reason)
  }

  #outcomeMessage(job: StoredJob) {
    const campaignId = triggerCampaignId(job.triggerId)
    return {
      workspaceId: job.workspaceId,
      origin: 'trigger' as const,
      campaignId,
      messageId: messageIdFor(job.workspaceId, campaignId, job.jobId),
      userId: job.userId,
    }
  }

  async close(): Promise<void> {
    this.#passes.stop()
    await this.#passes.idle()
  }
}

const skipped = (reason: SkipReason, detail: string): { outcome: DeliveryOutcome } => ({
  outcome: { kind: 'skipped', reason, detail },
})

const temporary = (reason: FailReason, detail: string): { outcome: DeliveryOutcome } => ({
  outcome: { kind: 'failed', temporary: true, reason, detail },
})
