/**
 * Sends the outbox's deliveries: `concurrency` workers (default 4) each claim one due row, POST its
 * body to the webhook URL, signed, with a timeout (default 10 s), and record the outcome (2xx →
 * delivered; any other status, a redirect, a timeout or a network error → retried after a backoff,
 * failed after 24 h; outbox-rules.ts). Woken when an open is enqueued in this process, by a timer
 * set to the next due attempt, and by a slow poll (rows enqueued by other processes, rows left
 * claimed by a process that died). It runs on its own: nothing that enqueues waits for it.
 */
import type { Clock } from '../core/types.ts'
import type { AttemptResult, WebhookDelivery, WebhookOutbox } from './outbox.ts'
import { signatureHeader } from './signature.ts'
import type { WebhookConfig } from './webhook-config.ts'

export const USER_AGENT = 'Inkstream-Webhook/1'

export interface WebhookDispatcherDeps {
  outbox: WebhookOutbox
  webhook: WebhookConfig
  clock: Clock
  logger: { warn(obj: unknown, msg: string): void; error(obj: unknown, msg: string): void }
  /** Attempts at once; default 4. */
  concurrency?: number
  /** An attempt that has no response (headers and body) by then is abandoned and retried; default 10 s. */
  timeoutMs?: number
  /** Look for due rows without a wake-up; default 1000 ms. */
  pollMs?: number
}

const errorText = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err)
  // fetch wraps the socket's error: "fetch failed" says nothing, the cause says ECONNREFUSED.
  const cause =
    err.cause instanceof Error ? `: ${(err.cause as NodeJS.ErrnoException).code ?? err.cause.message}` : ''
  return `${err.message}${cause}`
}

export class WebhookDispatcher {
  readonly #deps: WebhookDispatcherDeps
  readonly #secret: string
  #poll: NodeJS.Timeout | undefined
  #timer: NodeJS.Timeout | undefined
  #timerAt = Number.POSITIVE_INFINITY
  #running: Promise<number> | undefined
  #again = false
  #started = false
  #closed = false
  readonly #inFlight = new Set<AbortController>()

  constructor(deps: WebhookDispatcherDeps) {
    // The secret is kept apart from deps, so logging the dispatcher's settings cannot print it.
    const { secret, ...webhook } = deps.webhook
    this.#secret = secret
    this.#deps = { ...deps, webhook: { ...webhook, secret: '[redacted]' } }
  }

  /** Starts the poll and a first pass; rows enqueued before (or left by an earlier process) go out now. */
  start(): void {
    if (this.#started || this.#closed) return
    this.#started = true
    this.#poll = setInterval(() => this.wake(), this.#deps.pollMs ?? 1000)
    this.#poll.unref()
    this.wake()
  }

  /** Runs a pass now if `dueAt` (default now) has come, else sets a timer for it. Never throws. */
  wake(dueAt?: number): void {
    if (this.#closed || !this.#started) return
    if (dueAt !== undefined && dueAt > this.#deps.clock.now()) {
      this.#schedule(dueAt)
      return
    }
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = this.drain()
      .catch((err) => {
        this.#deps.logger.error({ err: errorText(err) }, 'webhook dispatch failed; retrying at the next poll')
        return 0
      })
      .finally(() => {
        this.#running = undefined
        if (this.#again) {
          this.#again = false
          this.wake()
        }
      })
  }

  /** Resolves once no pass is running. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running
  }

  /**
   * One pass: attempts every row due now, `concurrency` at a time, then sets a timer for the next due
   * one (when started). Answers the attempts made. Tests call it directly, with a controlled clock.
   */
  async drain(): Promise<number> {
    const { outbox } = this.#deps
    let attempts = 0
    const worker = async () => {
      while (!this.#closed) {
        const [row] = await outbox.claim(1)
        if (!row) return
        attempts++
        const result = await this.#attempt(row)
        if (this.#closed && !result.ok) return // shutting down: the lease makes it due again later
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
    if (this.#started && !this.#closed) {
      const next = await outbox.nextDueAt()
      if (next !== undefined) this.#schedule(next)
    }
    return attempts
  }

  /** POSTs one delivery; what came of it, never thrown. */
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
        ? this.#closed
          ? 'abandoned at shutdown'
          : `no response within ${timeoutMs} ms`
        : errorText(err)
      return { ok: false, status: null, error }
    } finally {
      clearTimeout(timer)
      this.#inFlight.delete(abort)
    }
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
      Math.min(Math.max(at - this.#deps.clock.now(), 0), 2 ** 31 - 1),
    )
    this.#timer.unref()
  }

  /** Stops: attempts in flight are abandoned (their rows become due again when their lease ends). */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#poll)
    clearTimeout(this.#timer)
    for (const a of this.#inFlight) a.abort()
    await this.idle()
  }
}
