/**
 * OpenHooks (docs/architecture.md, "Open-time content"): what the open-time routes call after recording an open.
 * With a webhook configured, `opened` writes the open into the durable outbox and returns: it never
 * calls the receiver (the dispatcher does, later). Without one, it does nothing.
 */
import type { InkEvent } from '../core/types.ts'
import type { WebhookOutbox } from './outbox.ts'

export interface OpenHooks {
  /** Resolves once the open is durably enqueued (or at once, with no webhook configured). */
  opened(event: InkEvent): Promise<void>
}

/** No webhook configured: opens go nowhere. */
export const NO_OPEN_HOOKS: OpenHooks = { opened: async () => {} }

/**
 * Enqueues each open; `onEnqueued` (say, waking this process's dispatcher) runs after the write, is
 * not awaited, and its errors are not the caller's.
 */
export function outboxOpenHooks(outbox: WebhookOutbox, onEnqueued: () => void = () => {}): OpenHooks {
  return {
    async opened(event) {
      const { created } = await outbox.enqueue(event)
      if (created)
        queueMicrotask(() => {
          try {
            onEnqueued()
          } catch {
            // A wake-up that fails is made good by the dispatcher's poll.
          }
        })
    },
  }
}
