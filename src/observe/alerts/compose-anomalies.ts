/**
 * Anomaly detection in one process, composed from its stores: the roller (every process writes its
 * own rollups), and, in a process with the api or sender role, the watcher (one per deployment: the
 * holder of its lock in scale-out), the alert webhook's dispatcher (kind `alert` deliveries, any
 * such process sends them) and the API's dependencies. start() runs after listen, close() writes the
 * partial minute.
 */
import type { Registry } from 'prom-client'
import type { Clock } from '../../core/types.ts'
import type { WebhookOutbox } from '../../webhooks/outbox.ts'
import type { WebhookConfig } from '../../webhooks/webhook-config.ts'
import { WebhookDispatcher } from '../../webhooks/webhook-dispatcher.ts'
import { Roller } from '../rollups/roller.ts'
import type { RollupStore } from '../rollups/rollup-store.ts'
import { alertEffects } from './alert-effects.ts'
import type { AlertStore } from './alert-store.ts'
import { AnomalyWatcher, WATCHER_LOCK } from './anomaly-watcher.ts'

type Logger = {
  warn(obj: unknown, msg: string): void
  info(obj: unknown, msg: string): void
  error(obj: unknown, msg: string): void
}

export interface AnomaliesDeps {
  rollups: RollupStore
  alerts: AlertStore
  registry: Registry
  clock: Clock
  logger: Logger
  retentionMs: number
  /** The watcher's stores and lock; undefined in a process that does not watch (no api or sender role). */
  watch:
    | {
        outbox: WebhookOutbox
        workspaceId: string
        webhook: WebhookConfig | undefined
        locks: { tryHold(name: string): Promise<boolean>; release(name: string): Promise<void> } | undefined
        /** Names this deployment's watcher lock (the Kafka topic): deployments may share a database. */
        deployment: string
        /** Delivered and failed webhook rows older than this are deleted (webhook-dispatcher.ts). */
        webhookRetentionMs?: number
      }
    | undefined
}

export interface Anomalies {
  roller: Roller
  watcher: AnomalyWatcher | undefined
  dispatcher: WebhookDispatcher | undefined
  start(): Promise<void>
  close(): Promise<void>
}

/** The alert webhook of the config (INKSTREAM_ALERT_WEBHOOK_URL and _SECRET, set together). */
export function alertWebhookOf(config: {
  alertWebhookUrl?: string | undefined
  alertWebhookSecret?: string | undefined
}): WebhookConfig | undefined {
  const { alertWebhookUrl: url, alertWebhookSecret: secret } = config
  return url === undefined || secret === undefined ? undefined : { url, secret }
}

export function composeAnomalies(deps: AnomaliesDeps): Anomalies {
  const { clock, logger } = deps
  const roller = new Roller({
    registry: deps.registry,
    store: deps.rollups,
    clock,
    logger,
    retentionMs: deps.retentionMs,
  })
  const w = deps.watch
  const dispatcher =
    w?.webhook === undefined
      ? undefined
      : new WebhookDispatcher({
          outbox: w.outbox,
          webhook: w.webhook,
          kind: 'alert',
          clock,
          logger,
          ...(w.webhookRetentionMs === undefined ? {} : { retentionMs: w.webhookRetentionMs }),
        })
  const watcher =
    w === undefined
      ? undefined
      : new AnomalyWatcher({
          rollups: deps.rollups,
          alerts: deps.alerts,
          clock,
          logger,
          locks: w.locks,
          lockName: `${WATCHER_LOCK}:${w.deployment}`,
          // Ended episodes go with the rollups they were found in.
          retentionMs: deps.retentionMs,
          effects: alertEffects({
            alerts: deps.alerts,
            registry: deps.registry,
            logger,
            webhook:
              w.webhook === undefined
                ? undefined
                : { outbox: w.outbox, workspaceId: w.workspaceId, onEnqueued: () => dispatcher?.wake() },
          }),
        })
  return {
    roller,
    watcher,
    dispatcher,
    async start() {
      await roller.start()
      watcher?.start()
      dispatcher?.start()
    },
    async close() {
      await dispatcher?.close()
      await watcher?.close()
      await roller.close()
    },
  }
}
