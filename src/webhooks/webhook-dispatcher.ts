/**
 * Sends the outbox's deliveries: `concurrency` workers (default 4) each claim one due row, POST its
 * body to the webhook URL, signed, with a timeout (default 10 s), and record the outcome (2xx →
 * delivered; any other status, a redirect, a timeout or a network error → retried after a backoff,
 * failed after 24 h; outbox-rules.ts). Woken when an open is enqueued in this process, by a timer
 * set to the next due attempt, and by a slow poll (rows enqueued by other processes, rows left
 * claimed by a process that died). It runs on its own: nothing that enqueues waits for it.
 */
import { PassScheduler } from '../core/pass-scheduler.ts'
import type { Clock } from '../core/types.ts'
import type { AttemptResult, DeliveryKind, WebhookDelivery, WebhookOutbox } from './outbox.ts'
import { signatureHeader } from './signature.ts'
import type { WebhookConfig } from './webhook-config.ts'

export const USER_AGENT = 'Inkstream-Webhook/1'

export interface WebhookDispatcherDeps {
  outbox: WebhookOutbox
  webhook: WebhookConfig
  /** The deliveries this dispatcher sends (to `webhook`); default `open`. */
  kind?: DeliveryKind
  clock: Clock
  logger: { warn(obj: unknown, msg: string): void; error(obj: unknown, msg: string): void }
  /** Attempts at once; default 4. */
  concurrency?: number
  /** An attempt that has no response (headers and body) by then is abandoned and retried; default 10 s. */
  timeoutMs?: number
  /** Look for due rows without a wake-up; default 1000 ms. */
  pollMs?: number
  /**
   * Delivered and failed rows older than this are deleted (once an hour, after a pass; every kind:
   * they share the table). Absent: kept for ever.
   */
  retentionMs?: number
}

/** How often a dispatcher applies the retention. */
export const PRUNE_EVERY_MS = 3_600_000

const errorText = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err)
  // fetch wraps the socket's error: "fetch failed" says nothing, the cause says ECONNREFUSED.
  const cause =
    err.cause instanceof Error ? `: ${(err.cause as NodeJS.ErrnoException).code ?? err.cause.message}` : ''
  return `${err.message}${cause}`
}

export class WebhookDispatcher {
  /** When the retention last ran (the clock's ms); -Infinity: at the first pass. */
  #prunedAt = Number.NEGATIVE_INFINITY
  readonly #deps: WebhookDispatcherDeps
  readonly #secret: string
  readonly #passes: PassScheduler
  readonly #inFlight = new Set<AbortController>()

  constructor(deps: WebhookDispatcherDeps) {
    // The secret is kept apart from deps, so logging the dispatcher's settings cannot print it.
    const { secret, ...webhook } = deps.webhook
    this.#secret = secret
    this.#deps = { ...deps, webhook: { ...webhook, secret: '[redacted]' } }
    this.#passes = new PassScheduler({
      pass: () => this.drain(),
      onError: (err) =>
        this.#deps.logger.error(
          { 'error.message': errorText(err) },
          'webhook dispatch failed; retrying at the next poll',
        ),
      clock: deps.clock,
      pollMs: deps.pollMs,
    })
  }

  /** Starts the poll and a first pass; rows enqueued before (or left by an earlier process) go out now. */
  start(): void {
    this.#passes.start()
  }

  /** Runs a pass now if `dueAt` (default now) has come, else sets a timer for it. Never throws. */
  wake(dueAt?: number): void {
    this.#passes.wake(dueAt)
  }

  /** Resolves once no pass is running. */
  idle(): Promise<void> {
    return this.#passes.idle()
  }

  /**
   * One pass: attempts every row due now, `concurrency` at a time, then sets a timer for the next due
   * one (when started). Answers the attempts made. Tests call it directly, with a controlled clock.
   */
  async drain(): Promise<number> {
    const { outbox } = this.#deps
    let attempts = 0
    const worker = async () => {
      while (!this.#passes.stopped) {
        const [row] = await outbox.claim(1, this.#deps.kind ?? 'open')
        if (!row) return
        attempts++
        const result = await this.#attempt(row)
        if (this.#passes.stopped && !result.ok) return // shutting down: the lease makes it due again later
        const settled = await outbox.record(row, result)
        if (!settled)
          this.#deps.logger.warn(
            { delivery: row.id },
            'webhook delivery was claimed again meanwhile (lease ran out)',
          )
        else if (settled.state === 'failed')
          this.#deps.logger.error(
            { delivery: row.id, attempts: settled.attempts, lastError: settled.lastError },
            'webhook delivery failed for good',
          )
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, this.#deps.concurrency ?? 4) }, worker))
    await this.#prune()
    if (this.#passes.active) {
      const next = await outbox.nextDueAt(this.#deps.kind ?? 'open')
      if (next !== undefined) this.#passes.schedule(next)
    }
    return attempts
  }

  /** POSTs one delivery; what came of it, never thrown. */
  /** Applies the retention once an hour; a failure is logged and tried again at the next pass. */
  async #prune(): Promise<void> {
    const { retentionMs, clock, outbox, logger } = this.#deps
    if (retentionMs === undefined || this.#passes.stopped) return
    const now = clock.now()
    if (now - this.#prunedAt < PRUNE_EVERY_MS) return
    this.#prunedAt = now
    try {
      const deleted = await outbox.prune(now - retentionMs)
      if (deleted > 0) logger.warn({ deleted, retentionMs }, 'old webhook deliveries deleted')
    } catch (err) {
      this.#prunedAt = Number.NEGATIVE_INFINITY
      logger.error({ err }, 'old webhook deliveries could not be deleted; retrying next pass')
    }
  }

  async #attempt(row: WebhookDelivery): Promise<AttemptResult> {
    const { webhook, clock } = this.#deps
    const timeoutMs = this.#deps.timeoutMs ?? 10_000
    const abort = new AbortController()
    this.#inFlight.add(abort)
    const timer = setTimeout(() => abort.abort(), timeoutMs)
    try {
      const res = await fetch(webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'inkstream-signature': signatureHeader(this.#secret, row.payload, clock.now()),
          'inkstream-delivery': row.id,
        },
        body: row.payload,
        // A redirect is not a delivery: the receiver's URL is the one configured.
        redirect: 'manual',
        signal: abort.signal,
      })
      // The body is read (and dropped) so the connection is reusable; a receiver that never ends it times out.
      await res.arrayBuffer()
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status }
      return { ok: false, status: res.status, error: `the receiver answered ${res.status}` }
    } catch (err) {
      const error = abort.signal.aborted
        ? this.#passes.stopped
          ? 'abandoned at shutdown'
          : `no response within ${timeoutMs} ms`
        : errorText(err)
      return { ok: false, status: null, error }
    } finally {
      clearTimeout(timer)
      this.#inFlight.delete(abort)
    }
  }

  /** Stops: attempts in flight are abandoned (their rows become due again when their lease ends). */
  async close(): Promise<void> {
    this.#passes.stop()
    for (const a of this.#inFlight) a.abort()
    await this.#passes.idle()
  }
}
