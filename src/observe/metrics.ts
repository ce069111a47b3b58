/** Prometheus metrics (DESIGN.md §6). One registry per app instance, so tests can build many. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

export interface Metrics {
  registry: Registry
  ingestEvents: Counter<'outcome'>
  ingestRequests: Counter<'route' | 'status'>
  pipelineLag: Histogram
  processedEvents: Counter<'outcome'>
  profileConflicts: Counter
  consumerLag: Gauge<'group'>
  renderDuration: Histogram<'mode' | 'outcome'>
  fallbacks: Counter<'template' | 'placeholder' | 'reason'>
  connectedContentCalls: Counter<'source' | 'outcome'>
  /** Outcomes of the one send path (src/delivery/deliver.ts) by origin (campaign, trigger) and kind. */
  deliveryOutcomes: Counter<'origin' | 'kind'>
  /** Outcome events that could not be appended to the event log (the send itself stands). */
  deliveryEventErrors: Counter<'origin'>
}

/** Lag buckets in seconds: fine below 100 ms, where the real-time goal sits. */
const LAG_BUCKETS = [
  0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30,
]

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry()
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'inkstream_' })
  return {
    registry,
    ingestEvents: new Counter({
      name: 'inkstream_ingest_events_total',
      help: 'Events received by the collector, by outcome (accepted = durable in the log).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    ingestRequests: new Counter({
      name: 'inkstream_ingest_requests_total',
      help: 'Collector HTTP requests by route and status code.',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    pipelineLag: new Histogram({
      name: 'inkstream_pipeline_lag_seconds',
      help: 'Time from an event being received by the collector to its profile change being committed.',
      buckets: LAG_BUCKETS,
      registers: [registry],
    }),
    processedEvents: new Counter({
      name: 'inkstream_pipeline_events_total',
      help: 'Events handled by the processor, by outcome (applied, duplicate).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    profileConflicts: new Counter({
      name: 'inkstream_pipeline_conflicts_total',
      help: 'Processor batches refused because another processor changed a profile they read (each applied again).',
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'inkstream_log_consumer_lag',
      help: 'Events in the log not yet committed by the consumer group.',
      labelNames: ['group'],
      registers: [registry],
    }),
    renderDuration: new Histogram({
      name: 'inkstream_render_duration_seconds',
      help: 'Render duration by mode (pre-send, open-time) and outcome.',
      labelNames: ['mode', 'outcome'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: 'inkstream_fallbacks_total',
      help: 'Placeholders that fell back, by template, placeholder and reason (missing, timeout, error, invalid).',
      labelNames: ['template', 'placeholder', 'reason'],
      registers: [registry],
    }),
    connectedContentCalls: new Counter({
      name: 'inkstream_connected_content_calls_total',
      help: 'Connected-content calls by source host and outcome.',
      labelNames: ['source', 'outcome'],
      registers: [registry],
    }),
    deliveryOutcomes: new Counter({
      name: 'inkstream_delivery_outcomes_total',
      help: 'Messages handled by the send path, by origin (campaign, trigger) and outcome kind (sent, bounced, failed, unknown, suppressed, skipped).',
      labelNames: ['origin', 'kind'],
      registers: [registry],
    }),
    deliveryEventErrors: new Counter({
      name: 'inkstream_delivery_event_errors_total',
      help: 'Send outcome events that could not be appended to the event log, by origin.',
      labelNames: ['origin'],
      registers: [registry],
    }),
  }
}

/** Records a processor batch (lag per event, outcomes) in the metrics. */
export function observeBatch(
  metrics: Metrics,
  report: { lagSeconds: readonly number[]; applied: number; duplicates: number },
): void {
  for (const s of report.lagSeconds) metrics.pipelineLag.observe(s)
  if (report.applied > 0) metrics.processedEvents.inc({ outcome: 'applied' }, report.applied)
  if (report.duplicates > 0) metrics.processedEvents.inc({ outcome: 'duplicate' }, report.duplicates)
}
