/**
 * What the watcher does when an episode starts or ends: stores the alert, logs it (warn on start,
 * info on end), sets `inkstream_anomaly_active{series}` (1 during an episode, 0 after) and enqueues a
 * signed webhook delivery (kind `alert`) in the durable outbox, for the alert dispatcher to send.
 * Every step is idempotent (the alert's id and the delivery's key derive from the series and the
 * start), so acting on a minute twice (a crash before the watermark moved) changes nothing.
 */
import { Gauge, type Registry } from 'prom-client'
import type { WebhookOutbox } from '../../webhooks/outbox.ts'
import type { Episode } from '../anomaly/episodes.ts'
import { type Alert, type AlertStore, alertId } from './alert-store.ts'

export const ANOMALY_GAUGE = 'inkstream_anomaly_active'
export const STARTED_TYPE = 'anomaly.started'
export const ENDED_TYPE = 'anomaly.ended'

export interface AlertEffects {
  started(episode: Episode): Promise<void>
  ended(episode: Episode & { endedAt: number }): Promise<void>
  /** Sets the gauge only (after a rebuild). */
  active(series: string, on: boolean): void
}

export interface AlertEffectsDeps {
  alerts: AlertStore
  registry: Registry
  logger: { warn(obj: unknown, msg: string): void; info(obj: unknown, msg: string): void }
  /** With an alert webhook configured: the outbox, the workspace its rows belong to, and a wake-up for the dispatcher. */
  webhook?: { outbox: WebhookOutbox; workspaceId: string; onEnqueued?: () => void } | undefined
}

/** The gauge, registered once per registry (another part may have registered it first). */
export function anomalyGauge(registry: Registry): Gauge<'series'> {
  const existing = registry.getSingleMetric(ANOMALY_GAUGE)
  if (existing instanceof Gauge) return existing as Gauge<'series'>
  return new Gauge({
    name: ANOMALY_GAUGE,
    help: 'Whether the anomaly detector is in an episode for a rollup series (1) or not (0); set by the watching process.',
    labelNames: ['series'],
    registers: [registry],
  })
}

/** The alert as the API and the webhook show it. */
export const alertView = (a: Alert) => ({
  id: a.id,
  series: a.series,
  state: a.endedAt === null ? ('active' as const) : ('ended' as const),
  startedAt: new Date(a.startedAt).toISOString(),
  endedAt: a.endedAt === null ? null : new Date(a.endedAt).toISOString(),
  expected: { lower: a.expectedLower, upper: a.expectedUpper },
  observed: a.observed,
  peakScore: a.peakScore,
})

const finite = (n: number): number => (Number.isFinite(n) ? n : n > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE)

export function alertEffects(deps: AlertEffectsDeps): AlertEffects {
  const gauge = anomalyGauge(deps.registry)
  const enqueue = async (alert: Alert, type: string, transition: string) => {
    const hook = deps.webhook
    if (!hook) return
    const { created } = await hook.outbox.enqueueMessage({
      workspaceId: hook.workspaceId,
      kind: 'alert',
      key: `${alert.id}:${transition}`,
      type,
      data: { alert: alertView(alert) },
    })
    if (created) hook.onEnqueued?.()
  }
  return {
    async started(ep) {
      const alert: Alert = {
        id: alertId(ep.series, ep.startedAt),
        series: ep.series,
        startedAt: ep.startedAt,
        endedAt: null,
        expectedLower: finite(ep.expectedLower),
        expectedUpper: finite(ep.expectedUpper),
        observed: ep.observed,
        peakScore: finite(ep.peakScore),
      }
      const created = await deps.alerts.insert(alert)
      gauge.set({ series: ep.series }, 1)
      if (created) deps.logger.warn({ alert: alertView(alert) }, `anomaly started: ${ep.series}`)
      await enqueue(alert, STARTED_TYPE, 'started')
    },
    async ended(ep) {
      const id = alertId(ep.series, ep.startedAt)
      const done = await deps.alerts.end(id, ep.endedAt, finite(ep.peakScore))
      gauge.set({ series: ep.series }, 0)
      if (!done) return
      if (done.changed) deps.logger.info({ alert: alertView(done.alert) }, `anomaly ended: ${ep.series}`)
      await enqueue(done.alert, ENDED_TYPE, 'ended')
    },
    active(series, on) {
      gauge.set({ series }, on ? 1 : 0)
    },
  }
}
