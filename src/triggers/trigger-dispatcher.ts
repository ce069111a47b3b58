/**
 * Sends due trigger jobs, on the main thread (it has the renderer, the transport and the codec).
 * Woken by the processor's batch reports (`triggerJobsDueAt`), by a timer set to the next due
 * time, and by a slow poll (jobs due after a restart). One pass at a time, jobs one by one.
 *
 * Per job: claim it (pending → sending; a job is sent at most once, a crash leaves `unknown`),
 * then check the trigger still exists, the frequency cap, segment membership, the `email` trait
 * and suppression; render with `event` = the trigger event; send through the transport.
 *
 * Retries, as in campaigns: only a temporary failure where the server certainly does not have the
 * message (`accepted: 'no'`: a 4xx before the body, a refused or dropped connection) is sent again,
 * with the same Message-ID, after 200 ms, then 400 ms (three attempts, within a second, while the
 * message is still timely). A failure after the body (`accepted: 'unknown'`) ends as `unknown`.
 */

import { campaignMessageId } from '../campaigns/campaign-runner.ts'
import type { Clock, JsonObject } from '../core/types.ts'
import { normalizeEmail, type SuppressionStore } from '../delivery/suppression-store.ts'
import type { TokenCodec } from '../delivery/tokens.ts'
import { trackMessage, unsubscribeHeaders } from '../delivery/tracking.ts'
import type { OutgoingMessage, SendOutcome, Transport } from '../delivery/transport.ts'
import { skipDetail } from '../render/render-email.ts'
import type { Renderer } from '../render/renderer.ts'
import type { JobFinalState, StoredJob } from './trigger-jobs.ts'
import type { TriggerStore } from './trigger-store.ts'

export interface TriggerDispatcherDeps {
  store: TriggerStore
  renderer: Pick<Renderer, 'render'>
  transport: Transport
  suppressions: Pick<SuppressionStore, 'isSuppressed'>
  codec: TokenCodec
  /**
   * Base of tracking links, read per message: with port 0 it is known only once the server listens,
   * which is why the composition calls start() only after listen(), and nothing is sent before.
   */
  publicUrl: () => string
  clock: Clock
  /** The `email` trait of a userId/anonymousId; undefined when it has none. Throws when unreadable. */
  lookupEmail(workspaceId: string, userId: string): Promise<string | undefined>
  isMember(workspaceId: string, segmentId: string, userId: string, profileId: string): Promise<boolean>
  logger: { warn(obj: unknown, msg: string): void; error(obj: unknown, msg: string): void }
  /** Poll for due jobs without a wake-up; default 1000 ms. */
  pollMs?: number
  /** How long tracking links verify; default 30 days. */
  trackingTtlMs?: number
  /** Sends per job for `temporary` + `accepted: 'no'`; default 3. */
  maxAttempts?: number
  /** Delay before the first retry, doubled for each next one; default 200 ms. */
  retryDelayMs?: number
  sleep?: (ms: number) => Promise<void>
}

const BATCH = 100
const DEFAULT_TTL_MS = 30 * 86_400_000

/** The campaign id of a trigger's messages in tracking links and Message-IDs. */
export const triggerCampaignId = (triggerId: string) => `trigger:${triggerId}`

export class TriggerDispatcher {
  #timer: NodeJS.Timeout | undefined
  #timerAt = Number.POSITIVE_INFINITY
  #poll: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #again = false
  #closed = false
  #started = false

  constructor(private readonly deps: TriggerDispatcherDeps) {}

  /** Recovers interrupted jobs and starts sending; wake-ups before it are left to its first pass. */
  async start(): Promise<void> {
    this.#started = true
    const recovered = await this.deps.store.recoverInterrupted()
    if (recovered > 0) this.deps.logger.warn({ recovered }, 'trigger jobs interrupted while sending: unknown')
    this.#poll = setInterval(() => this.wake(), this.deps.pollMs ?? 1000)
    this.#poll.unref()
    this.wake()
  }

  /** Dispatches now if `dueAt` (default now) has come, else sets a timer for it. */
  wake(dueAt?: number): void {
    // Before start() the link base may not be known yet (port 0): the jobs wait in the store.
    if (this.#closed || !this.#started) return
    const now = this.deps.clock.now()
    if (dueAt !== undefined && dueAt > now) {
      this.#schedule(dueAt)
      return
    }
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = this.#drain()
      .catch((err) => this.deps.logger.error({ err }, 'trigger dispatch failed; retrying'))
      .finally(() => {
        this.#running = undefined
        if (this.#again) {
          this.#again = false
          this.wake()
        }
      })
  }

  /** Resolves once no pass is running (tests). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running
  }

  #schedule(at: number): void {
    if (at >= this.#timerAt) return
    clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(
      () => {
        this.#timerAt = Number.POSITIVE_INFINITY
        this.wake()
      },
      Math.max(at - this.deps.clock.now(), 0),
    )
    this.#timer.unref()
  }

  async #drain(): Promise<void> {
    const { store, clock } = this.deps
    while (!this.#closed) {
      const jobs = await store.due(clock.now(), BATCH)
      for (const job of jobs) {
        if (this.#closed) return
        await this.#one(job)
      }
      if (jobs.length < BATCH) break
    }
    const next = await store.nextDueAt()
    if (next !== undefined && !this.#closed) this.#schedule(next)
  }

  async #one(job: StoredJob): Promise<void> {
    const { store } = this.deps
    if (!(await store.claim(job.workspaceId, job.jobId))) return
    let state: JobFinalState
    let detail: string
    try {
      ;[state, detail] = await this.#send(job)
    } catch (err) {
      this.deps.logger.warn({ err, job: job.jobId }, 'trigger job failed')
      ;[state, detail] = ['failed', err instanceof Error ? err.message : String(err)]
    }
    await store.finish(job.workspaceId, job.jobId, state, detail)
  }

  async #send(job: StoredJob): Promise<[JobFinalState, string]> {
    const d = this.deps
    const ws = job.workspaceId
    const trigger = await d.store.get(ws, job.triggerId)
    if (!trigger) return ['skipped', 'the trigger was deleted']
    if (trigger.frequencyCap) {
      const { max, perMs } = trigger.frequencyCap
      const sent = await d.store.sentSince(ws, job.triggerId, job.userId, d.clock.now() - perMs)
      if (sent >= max) return ['skipped', `frequency cap: ${sent} sent in the last ${perMs} ms`]
    }
    if (trigger.segment !== undefined && !(await d.isMember(ws, trigger.segment, job.userId, job.profileId)))
      return ['skipped', `not a member of segment "${trigger.segment}"`]
    const email = await d.lookupEmail(ws, job.userId)
    if (email === undefined || normalizeEmail(email) === undefined)
      return ['skipped', 'the profile has no usable email trait']
    if (await d.suppressions.isSuppressed(ws, email)) return ['suppressed', 'the address is suppressed']
    const campaignId = triggerCampaignId(job.triggerId)
    const messageId = campaignMessageId(ws, campaignId, job.jobId)
    const rendered = await d.renderer.render(ws, {
      templateId: trigger.templateId,
      userId: job.userId,
      event: job.event as JsonObject,
      campaign: { id: campaignId, trigger: job.triggerId },
    })
    if (!rendered.ok)
      return rendered.skip
        ? ['skipped', skipDetail(rendered.skip)]
        : ['failed', `render failed: ${rendered.error.message}`]
    const tracking = {
      baseUrl: d.publicUrl(),
      codec: d.codec,
      ttlMs: d.trackingTtlMs ?? DEFAULT_TTL_MS,
      workspaceId: ws,
      campaignId,
      recipient: job.userId,
      messageId,
    }
    const { html } = trackMessage(rendered.html, tracking)
    const outcome = await this.#sendWithRetries({
      messageId,
      from: trigger.from,
      to: email,
      subject: rendered.subject,
      html,
      text: rendered.text,
      headers: { ...unsubscribeHeaders({ ...tracking, email }) },
    })
    switch (outcome.outcome) {
      case 'sent':
        return ['sent', outcome.response]
      case 'invalid':
        return ['failed', `invalid ${outcome.field}: ${outcome.message}`]
      case 'permanent':
        return ['failed', `${outcome.code} ${outcome.message}`]
      case 'temporary': {
        const reply = `${outcome.code ?? 'no reply'} ${outcome.message}`
        return outcome.accepted === 'unknown'
          ? ['unknown', `${reply} (after the message was sent: the server may have it)`]
          : ['failed', `${reply} (accepted: no)`]
      }
    }
  }

  async #sendWithRetries(message: OutgoingMessage): Promise<SendOutcome> {
    const attempts = this.deps.maxAttempts ?? 3
    const sleep = this.deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
    let delay = this.deps.retryDelayMs ?? 200
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.deps.transport.send(message)
      const retryable = outcome.outcome === 'temporary' && outcome.accepted === 'no'
      if (!retryable || attempt >= attempts || this.#closed) return outcome
      this.deps.logger.warn(
        { messageId: message.messageId, attempt, reply: outcome.message },
        'trigger message deferred; retrying',
      )
      await sleep(delay)
      delay *= 2
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    clearInterval(this.#poll)
    await this.idle()
  }
}
