/**
 * Records open-time opens off the request path: appends the `Email Opened` event (once per token
 * per window in this process; the processor's messageId dedupe does the rest across processes) and
 * then tells the open hooks (the open webhook's outbox). Neither is awaited by the request: an image
 * must not wait for a log commit or a webhook, and a failure is logged, never answered.
 */
import type { InkEvent } from '../core/types.ts'
import { type OpenTimeEventInput, openTimeEvent, RecentOpens } from './open-event.ts'

/** Implemented by the open-webhook branch (src/webhooks/): enqueues into its durable outbox. */
export interface OpenHooks {
  opened(event: InkEvent): Promise<void>
}

export interface OpenRecorderDeps {
  log: { append(events: readonly InkEvent[]): Promise<void> }
  openHooks?: OpenHooks | undefined
  windowMs: number
  onError: (err: unknown, what: string) => void
  /** Told once the event is in the log (the open counter). */
  onRecorded?: (input: Omit<OpenTimeEventInput, 'windowMs'>) => void
}

export class OpenRecorder {
  readonly #recent = new RecentOpens()
  readonly #pending = new Set<Promise<void>>()

  constructor(private readonly deps: OpenRecorderDeps) {}

  record(input: Omit<OpenTimeEventInput, 'windowMs'>): void {
    const { windowMs } = this.deps
    const event = openTimeEvent({ ...input, windowMs })
    const windowEnd = (Math.floor(input.now / windowMs) + 1) * windowMs
    if (!this.#recent.first(event.messageId, input.now, windowEnd)) return
    const done = this.#deliver(event, input).finally(() => this.#pending.delete(done))
    this.#pending.add(done)
  }

  async #deliver(event: InkEvent, input: Omit<OpenTimeEventInput, 'windowMs'>): Promise<void> {
    try {
      await this.deps.log.append([event])
    } catch (err) {
      // Not recorded: let the next fetch in this window try again.
      this.#recent.forget(event.messageId)
      this.deps.onError(err, 'open event not recorded')
      return
    }
    this.deps.onRecorded?.(input)
    try {
      await this.deps.openHooks?.opened(event)
    } catch (err) {
      this.deps.onError(err, 'open hook failed')
    }
  }

  /** Resolves once every recording started so far has settled. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }
}
