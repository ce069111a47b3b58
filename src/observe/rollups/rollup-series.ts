/**
 * Which series are rolled up, from which metrics (docs/architecture.md, "Observability (issue 12)"),
 * in two halves:
 *
 * - `sampleRegistry`: the raw parts of one process's registry, cumulative (a counter's total, a
 *   histogram's cumulative bucket counts, count and sum, summed over its other labels). The roller
 *   writes the difference between two samples.
 * - `seriesOf`: the series of one merged minute (parts summed over instances): rates, ratios and
 *   p95s. A ratio with nothing to divide by, or a p95 of no observations, is null (no data).
 */
import type { Registry } from 'prom-client'
import type { MergedMinute } from './rollup-store.ts'

/** The series every deployment has; plus `cc_success_ratio:<source>` per connected-content source seen. */
export const BASE_SERIES = [
  'ingest_rate',
  'pipeline_lag_p95',
  'render_p95',
  'fallback_rate',
  'send_failure_rate',
  'open_rate',
  'click_rate',
] as const

export const CC_SERIES_PREFIX = 'cc_success_ratio:'

/** Written by every process once per flush: a minute with it had a process counting (zero is then zero, not "no data"). */
export const HEARTBEAT = '_instances'

const FAILED_KINDS = new Set(['bounced', 'failed', 'unknown'])

/** A raw part's key in a sample: name, tab, le. */
export const partKey = (name: string, le: string): string => `${name}\t${le}`

type Value = { value: number; labels: Record<string, string | number | undefined>; metricName?: string }

async function valuesOf(registry: Registry, name: string): Promise<Value[] | undefined> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return undefined
  return (await metric.get()).values as Value[]
}

/** The cumulative raw parts of `registry`: part key → value. */
export async function sampleRegistry(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const add = (name: string, le: string, v: number) => {
    const k = partKey(name, le)
    out.set(k, (out.get(k) ?? 0) + v)
  }
  const counter = async (metric: string, part: (labels: Value['labels']) => string | undefined) => {
    for (const v of (await valuesOf(registry, metric)) ?? []) {
      const name = part(v.labels)
      if (name !== undefined) add(name, '', v.value)
    }
  }
  const histogram = async (metric: string, name: string) => {
    for (const v of (await valuesOf(registry, metric)) ?? []) {
      if (v.metricName === `${metric}_bucket`) add(name, String(v.labels.le), v.value)
      else if (v.metricName === `${metric}_count`) add(name, 'count', v.value)
      else if (v.metricName === `${metric}_sum`) add(name, 'sum', v.value)
    }
  }
  await counter('inkstream_ingest_events_total', (l) =>
    l.outcome === 'accepted' ? 'ingest_accepted' : undefined,
  )
  await histogram('inkstream_pipeline_lag_seconds', 'pipeline_lag')
  await histogram('inkstream_render_duration_seconds', 'render')
  await counter('inkstream_fallbacks_total', () => 'fallbacks')
  for (const v of (await valuesOf(registry, 'inkstream_connected_content_calls_total')) ?? []) {
    const source = String(v.labels.source ?? '')
    add(`cc_calls:${source}`, '', v.value)
    if (v.labels.outcome === 'success') add(`cc_success:${source}`, '', v.value)
  }
  for (const v of (await valuesOf(registry, 'inkstream_delivery_outcomes_total')) ?? []) {
    const kind = String(v.labels.kind)
    if (kind === 'skipped') continue
    add('sends', '', v.value)
    if (FAILED_KINDS.has(kind)) add('send_failures', '', v.value)
  }
  await counter('inkstream_email_opens_total', (l) => (String(l.machine) === 'false' ? 'opens' : undefined))
  await counter('inkstream_email_clicks_total', () => 'clicks')
  return out
}

/**
 * What changed from `before` to `after` (samples of one registry); a part that went down restarted
 * from 0. Parts that did not change are left out, except within a histogram that changed: all its
 * buckets are kept (zeros too), so its p95 interpolates from the right bucket below.
 */
export function sampleDelta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>) {
  const deltas: { name: string; le: string; value: number }[] = []
  const changed = new Set<string>()
  for (const [key, v] of after) {
    const prev = before.get(key) ?? 0
    const value = v >= prev ? v - prev : v
    const tab = key.indexOf('\t')
    const name = key.slice(0, tab)
    if (value !== 0) changed.add(name)
    deltas.push({ name, le: key.slice(tab + 1), value })
  }
  return deltas.filter((d) => d.value !== 0 || (d.le !== '' && changed.has(d.name)))
}

/**
 * The 0.95 quantile of a histogram's cumulative buckets, as Prometheus's histogram_quantile computes
 * it: linear inside the bucket that holds the rank, from the bucket below's bound (0 for the first);
 * the highest finite bound when the rank falls in +Inf. Null with no observations.
 */
export function quantileOf(parts: ReadonlyMap<string, number> | undefined, q = 0.95): number | null {
  if (!parts) return null
  const buckets = [...parts.entries()]
    .filter(([le]) => le !== 'count' && le !== 'sum')
    .map(([le, c]) => [le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), c] as const)
    .sort((a, b) => a[0] - b[0])
  const total = buckets.at(-1)?.[1] ?? 0
  if (total <= 0) return null
  const rank = q * total
  let prevBound = 0
  let prevCount = 0
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return prevBound
      if (count === prevCount) return bound
      return prevBound + (bound - prevBound) * ((rank - prevCount) / (count - prevCount))
    }
    prevBound = bound
    prevCount = count
  }
  return prevBound
}

/** The series of one merged minute: name → value (null: no data). */
export function seriesOf(minute: MergedMinute): Map<string, number | null> {
  const out = new Map<string, number | null>()
  const alive = (minute.get(HEARTBEAT)?.get('') ?? 0) > 0
  const counter = (name: string): number | null => minute.get(name)?.get('') ?? (alive ? 0 : null)
  const ratio = (num: number | null, den: number | null): number | null =>
    num === null || den === null || den <= 0 ? null : num / den
  const renders = minute.get('render')?.get('count') ?? (alive ? 0 : null)
  out.set('ingest_rate', counter('ingest_accepted'))
  out.set('pipeline_lag_p95', quantileOf(minute.get('pipeline_lag')))
  out.set('render_p95', quantileOf(minute.get('render')))
  out.set('fallback_rate', ratio(counter('fallbacks'), renders))
  out.set('send_failure_rate', ratio(counter('send_failures'), counter('sends')))
  out.set('open_rate', counter('opens'))
  out.set('click_rate', counter('clicks'))
  for (const name of minute.keys()) {
    if (!name.startsWith('cc_calls:')) continue
    const source = name.slice('cc_calls:'.length)
    out.set(`${CC_SERIES_PREFIX}${source}`, ratio(counter(`cc_success:${source}`), counter(name)))
  }
  return out
}
