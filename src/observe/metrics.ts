/**
 * Prometheus metrics (DESIGN.md §6). One registry per app instance, so tests can build many.
 * Names follow Prometheus conventions: base units in the name (`_seconds`), `_total` on counters.
 * Labels that carry ids written by users (campaigns, triggers, templates, placeholders, hosts) go
 * through a BoundedLabel: past its bound a new value is reported as `other` (docs/architecture.md, "Observability (issue 12)").
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { BoundedLabel } from './bounded-label.ts'
import type { SpanOutcomes } from './tracing.ts'

/** Distinct values let through per bounded label (the rest are `other`); see docs/architecture.md, "Observability (issue 12)". */
export const LABEL_BOUNDS = {
  /** Campaign and trigger ids (`id` of the delivery outcomes, `campaign` of the progress gauge). */
  id: 200,
  /** (template, placeholder) pairs of the fallback counter: both become `other` past the bound. */
  fallback: 500,
  /** Connected-content source hosts. */
  source: 100,
} as const

export interface Metrics {
  registry: Registry
  ingestEvents: Counter<'outcome'>
  ingestRequests: Counter<'route' | 'status'>
  pipelineLag: Histogram
  processedEvents: Counter<'outcome'>
  profileConflicts: Counter
  /** Events in the log not yet committed, per consumer group watched (watchConsumerGroup). */
  consumerLag: Gauge<'group'>
  processorBatchSize: Histogram
  processorCommitDuration: Histogram
  renderDuration: Histogram<'mode' | 'outcome'>
  fallbacks: Counter<'template' | 'placeholder' | 'reason'>
  connectedContentCalls: Counter<'source' | 'outcome'>
  connectedContentDuration: Histogram<'source'>
  /** Cache lookups by layer (profile, connected_content, open_time_block, open_time_image) and result. */
  cacheRequests: Counter<'layer' | 'result'>
  /** Outcomes of the one send path (src/delivery/deliver.ts) by origin (campaign, trigger), id and kind. */
  deliveryOutcomes: Counter<'origin' | 'id' | 'kind'>
  /** Outcome events that could not be appended to the event log (the send itself stands). */
  deliveryEventErrors: Counter<'origin'>
  transportSendDuration: Histogram<'outcome'>
  sendQueueDepth: Gauge<'queue'>
  campaignProgress: Gauge<'campaign'>
  triggerJobDelay: Histogram
  triggerJobsHeld: Counter
  emailOpens: Counter<'origin' | 'machine'>
  emailClicks: Counter<'origin'>
  emailUnsubscribes: Counter<'origin'>
  /** Delivery feedback (bounces, complaints, ESP events) by source, kind and result (recorded, unmatched). */
  feedback: Counter<'source' | 'kind' | 'result'>
  /** The bounded labels (one set per registry, so every series of an id agrees on `other`). */
  labels: { id: BoundedLabel; fallback: BoundedLabel; source: BoundedLabel }
  /** Consumer groups whose lag is read before each scrape (watchConsumerGroup). */
  consumerGroups: Set<string>
  /** Spans of this process's tracers by outcome (exported, failed, dropped): observeTraceSpans. */
  traceSpans: Counter<'outcome'>
  /** The last outcomes each tracer (thread) reported, so each report adds only what is new. */
  traceSources: Map<string, SpanOutcomes>
}

/** Lag buckets in seconds: fine below 100 ms, where the real-time goal sits. */
const LAG_BUCKETS = [
  0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30,
]
/** Outgoing calls (SMTP, connected content): a few ms on a LAN up to the 10 s+ of a stalled server. */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** Trigger job delay (due → sent): the goal is seconds; backoffs after failures reach minutes. */
const DELAY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600]
/** Events per processor batch (the batch size is a config value, 500 by default). */
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]
const COMMIT_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]

const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
]

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry()
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: 'inkstream_' })
    // Gauges named like counters (promtool check metrics refuses them); the same numbers are in
    // inkstream_nodejs_active_{handles,requests,resources}{type}, summed over `type`.
    for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(`inkstream_${name}`)
  }
  const registers = [registry]
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers })
  const histogram = <L extends string>(name: string, help: string, buckets: number[], labelNames: L[] = []) =>
    new Histogram<L>({ name, help, labelNames, buckets, registers })
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new Gauge<L>({ name, help, labelNames, registers })
  const bounded = (label: string, bound: number) =>
    `${label} keeps its first ${bound} distinct values, later ones are "other"`
  return {
    registry,
    ingestEvents: counter(
      'inkstream_ingest_events_total',
      'Events received by the collector, by outcome (accepted = durable in the log).',
      ['outcome'],
    ),
    ingestRequests: counter(
      'inkstream_ingest_requests_total',
      'Collector HTTP requests by route and status code.',
      ['route', 'status'],
    ),
    pipelineLag: histogram(
      'inkstream_pipeline_lag_seconds',
      'Time from an event being received by the collector to its profile change being committed.',
      LAG_BUCKETS,
    ),
    processedEvents: counter(
      'inkstream_pipeline_events_total',
      'Events handled by the processor, by outcome (applied, duplicate).',
      ['outcome'],
    ),
    profileConflicts: counter(
      'inkstream_pipeline_conflicts_total',
      'Processor batches refused because another processor changed a profile they read (each applied again).',
    ),
    consumerLag: gauge(
      'inkstream_log_consumer_lag',
      'Events in the log not yet committed by the consumer group, read at scrape time.',
      ['group'],
    ),
    processorBatchSize: histogram(
      'inkstream_processor_batch_size',
      'Log records per processor batch (applied and duplicates).',
      BATCH_BUCKETS,
    ),
    processorCommitDuration: histogram(
      'inkstream_processor_commit_duration_seconds',
      'Time of the processor batch commit (profiles, identities, memberships, jobs, offsets in one transaction).',
      COMMIT_BUCKETS,
    ),
    renderDuration: histogram(
      'inkstream_render_duration_seconds',
      'Render duration by mode (pre-send, open-time) and outcome.',
      [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      ['mode', 'outcome'],
    ),
    fallbacks: counter(
      'inkstream_fallbacks_total',
      `Placeholders that fell back, by template, placeholder and reason (missing, timeout, error, invalid); the (template, placeholder) pair keeps its first ${LABEL_BOUNDS.fallback} distinct values, later ones are both "other".`,
      ['template', 'placeholder', 'reason'],
    ),
    connectedContentCalls: counter(
      'inkstream_connected_content_calls_total',
      `Connected-content calls by source host and outcome (success, stale, timeout, error, refused, circuit-open); ${bounded('source', LABEL_BOUNDS.source)}.`,
      ['source', 'outcome'],
    ),
    connectedContentDuration: histogram(
      'inkstream_connected_content_duration_seconds',
      `Connected-content call duration (cache hits included) by source host; ${bounded('source', LABEL_BOUNDS.source)}.`,
      CALL_BUCKETS,
      ['source'],
    ),
    cacheRequests: counter(
      'inkstream_cache_requests_total',
      'Cache lookups by layer (profile, connected_content, open_time_block, open_time_image) and result (hit, miss, stale: served past its TTL, error: failed or timed out).',
      ['layer', 'result'],
    ),
    deliveryOutcomes: counter(
      'inkstream_delivery_outcomes_total',
      `Messages handled by the send path, by origin (campaign, trigger), campaign or trigger id and outcome kind (sent, bounced, failed, unknown, suppressed, skipped); ${bounded('id', LABEL_BOUNDS.id)}.`,
      ['origin', 'id', 'kind'],
    ),
    deliveryEventErrors: counter(
      'inkstream_delivery_event_errors_total',
      'Send outcome events that could not be appended to the event log, by origin.',
      ['origin'],
    ),
    transportSendDuration: histogram(
      'inkstream_transport_send_duration_seconds',
      'Time of one transport.send (an SMTP transaction, retries counted apart) by outcome (sent, temporary, permanent, invalid, error).',
      CALL_BUCKETS,
      ['outcome'],
    ),
    sendQueueDepth: gauge(
      'inkstream_send_queue_depth',
      'Messages waiting to be sent, read at scrape time: trigger_jobs (pending jobs already due) and campaign_recipients (recipients left in the campaigns this process runs).',
      ['queue'],
    ),
    campaignProgress: gauge(
      'inkstream_campaign_progress_ratio',
      `Share of the audience handled (0..1) of each campaign this process is running; ${bounded('campaign', LABEL_BOUNDS.id)}.`,
      ['campaign'],
    ),
    triggerJobDelay: histogram(
      'inkstream_trigger_job_delay_seconds',
      'Time from a trigger job being due to its message being sent (from the latest due time for a job sent after a retry).',
      DELAY_BUCKETS,
    ),
    triggerJobsHeld: counter(
      'inkstream_trigger_jobs_held_total',
      "Trigger jobs held because they came due in the recipient's quiet hours (each hold counts; the job is sent when they end).",
    ),
    emailOpens: counter(
      'inkstream_email_opens_total',
      'Opens recorded (pixel and open-time content), by origin (campaign, trigger) and machine (true: an image proxy, scanner or preview bot by its User-Agent).',
      ['origin', 'machine'],
    ),
    emailClicks: counter(
      'inkstream_email_clicks_total',
      'Tracked link clicks recorded, by origin (campaign, trigger).',
      ['origin'],
    ),
    emailUnsubscribes: counter(
      'inkstream_email_unsubscribes_total',
      'Unsubscribes recorded (page and RFC 8058 one-click), by origin (campaign, trigger).',
      ['origin'],
    ),
    feedback: counter(
      'inkstream_feedback_total',
      'Delivery feedback received after the SMTP session (mailbox DSN/ARF, SES, SendGrid, Postmark), by source, kind (delivered, delayed: the provider still retries, bounced, complained, opened, clicked) and result (recorded: appended as an event; unmatched: no message or single profile found, nothing appended).',
      ['source', 'kind', 'result'],
    ),
    labels: {
      id: new BoundedLabel(LABEL_BOUNDS.id),
      fallback: new BoundedLabel(LABEL_BOUNDS.fallback),
      source: new BoundedLabel(LABEL_BOUNDS.source),
    },
    consumerGroups: new Set(),
    traceSpans: counter(
      'inkstream_trace_spans_total',
      'Spans recorded by the tracers of this process (with OTEL_EXPORTER_OTLP_ENDPOINT set), by outcome: exported (the collector took them), failed (the collector refused the export or did not answer in time: its spans are lost), dropped (the export queue, OTEL_BSP_MAX_QUEUE_SIZE, was full). The processor thread reports after each of its exports.',
      ['outcome'],
    ),
    traceSources: new Map(),
  }
}

const SPAN_OUTCOMES = ['exported', 'failed', 'dropped'] as const

/**
 * Adds to inkstream_trace_spans_total what one tracer (`source`: a thread; a restarted thread
 * reports as a new source) did since its last report. Each tracer counts from its own start; totals
 * below the last ones reported for a source are taken as a new start too (counted from 0), so the
 * counter never goes back.
 */
export function observeTraceSpans(
  metrics: Pick<Metrics, 'traceSpans' | 'traceSources'>,
  source: string,
  spans: SpanOutcomes,
): void {
  const last = metrics.traceSources.get(source)
  const restarted = last !== undefined && SPAN_OUTCOMES.some((o) => spans[o] < last[o])
  for (const outcome of SPAN_OUTCOMES) {
    const added = last === undefined || restarted ? spans[outcome] : spans[outcome] - last[outcome]
    // inc(0) too: every outcome is a series from the first report, so rate() and ratios have both sides.
    metrics.traceSpans.inc({ outcome }, added)
  }
  metrics.traceSources.set(source, { ...spans })
}

/** What a processor batch reports for metrics (BatchReport in src/pipeline/processor.ts). */
export interface BatchMetrics {
  lagSeconds: readonly number[]
  applied: number
  duplicates: number
  /** Records in the batch; absent from reports of older processors. */
  size?: number
  /** Seconds the commit took. */
  commitSeconds?: number
}

/** Records a processor batch (lag per event, outcomes, size, commit time) in the metrics. */
export function observeBatch(metrics: Metrics, report: BatchMetrics): void {
  for (const s of report.lagSeconds) metrics.pipelineLag.observe(s)
  if (report.applied > 0) metrics.processedEvents.inc({ outcome: 'applied' }, report.applied)
  if (report.duplicates > 0) metrics.processedEvents.inc({ outcome: 'duplicate' }, report.duplicates)
  if (report.size !== undefined) metrics.processorBatchSize.observe(report.size)
  if (report.commitSeconds !== undefined) metrics.processorCommitDuration.observe(report.commitSeconds)
}

/**
 * Adds a consumer group whose lag is read before each scrape (inkstream_log_consumer_lag{group}).
 * Every part of the process that consumes the log registers its group here.
 */
export function watchConsumerGroup(metrics: Pick<Metrics, 'consumerGroups'>, group: string): void {
  metrics.consumerGroups.add(group)
}

/** Reads the lag of every watched group (a group whose lag cannot be read keeps its last value). */
export async function readConsumerLags(
  metrics: Pick<Metrics, 'consumerGroups' | 'consumerLag'>,
  lag: (group: string) => Promise<number>,
): Promise<void> {
  await Promise.all(
    [...metrics.consumerGroups].map(async (group) => {
      const l = await lag(group).catch(() => null)
      if (l !== null) metrics.consumerLag.set({ group }, l)
    }),
  )
}

/** `trigger` for a campaign id `trigger:<id>` (the campaign id of a trigger's messages), else `campaign`. */
export function originOf(campaignId: string): 'campaign' | 'trigger' {
  return campaignId.startsWith('trigger:') ? 'trigger' : 'campaign'
}

/** The `id` label of a campaign id: the trigger's id for `trigger:<id>`, bounded. */
export function idLabel(metrics: Pick<Metrics, 'labels'>, campaignId: string): string {
  const id = campaignId.startsWith('trigger:') ? campaignId.slice('trigger:'.length) : campaignId
  return metrics.labels.id.of(id)
}
