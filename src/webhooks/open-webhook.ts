/**
 * The open webhook of one process, composed from its outbox and the content config: the OpenHooks
 * the open-time routes call, and, in a process that dispatches (the sender role), the dispatcher.
 * Without a webhook configured, opens are not enqueued and nothing is dispatched; the deliveries
 * route still answers (what earlier runs left).
 */
import type { Clock } from '../core/types.ts'
import { NO_OPEN_HOOKS, type OpenHooks, outboxOpenHooks } from './open-hooks.ts'
import type { WebhookOutbox } from './outbox.ts'
import type { WebhookConfig } from './webhook-config.ts'
import { WebhookDispatcher, type WebhookDispatcherDeps } from './webhook-dispatcher.ts'

export interface OpenWebhook {
  hooks: OpenHooks
  /** Undefined without a webhook or in a process that does not dispatch. */
  dispatcher: WebhookDispatcher | undefined
  /** Starts the dispatcher, if any (after listen, with the other senders). */
  start(): void
  close(): Promise<void>
}

export function composeOpenWebhook(
  outbox: WebhookOutbox,
  webhook: WebhookConfig | undefined,
  o: { dispatch: boolean; clock: Clock; logger: WebhookDispatcherDeps['logger']; retentionMs?: number },
): OpenWebhook {
  if (webhook === undefined)
    return { hooks: NO_OPEN_HOOKS, dispatcher: undefined, start: () => {}, close: async () => {} }
  const dispatcher = o.dispatch
    ? new WebhookDispatcher({
        outbox,
        webhook,
        clock: o.clock,
        logger: o.logger,
        ...(o.retentionMs === undefined ? {} : { retentionMs: o.retentionMs }),
      })
    : undefined
  // In the dispatching process an open goes out at once; elsewhere the sender's poll finds it.
  const hooks = outboxOpenHooks(outbox, () => dispatcher?.wake())
  return {
    hooks,
    dispatcher,
    start: () => dispatcher?.start(),
    close: async () => dispatcher?.close(),
  }
}
