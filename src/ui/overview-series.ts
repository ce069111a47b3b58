/**
 * The overview page's numbers for one interval (issue 13), from the raw parts of a registry sample
 * delta or of a merged rollup minute (src/observe/rollups/rollup-series.ts names the parts): counts
 * stay counts (the page divides by `seconds` for a rate, and a count is exact where a rate is not),
 * quantiles come from the histogram buckets with quantileOf, as Prometheus computes them.
 */
import { quantileOf } from '../observe/rollups/rollup-series.ts'
import type { MergedMinute } from '../observe/rollups/rollup-store.ts'

/** One point of every overview chart. Durations in seconds; null: no observation in the interval. */
export interface OverviewPoint {
  /** The end of the interval, epoch ms. */
  t: number
  /** The interval's length in seconds (2 live, 60 for a rollup minute). */
  seconds: number
  /** Events accepted by the collector (durable in the log). */
  ingest: number
  lagP50: number | null
  lagP99: number | null
  renders: number
  renderP50: number | null
  renderP95: number | null
  /** Placeholders that fell back. */
  fallbacks: number
  /** Messages handled by the send path (skips not counted) and those that failed (bounced, failed, unknown). */
  sends: number
  sendFailures: number
  /** Human opens (machine opens are left out) and clicks. */
  opens: number
  clicks: number
  /** Connected-content calls and successes by source host. */
  cc: Record<string, { calls: number; success: number }>
}

/** The point of one interval ending at `t`, `seconds` long, from the parts counted in it. */
export function overviewPoint(parts: MergedMinute, t: number, seconds: number): OverviewPoint {
  const count = (name: string): number => parts.get(name)?.get('') ?? 0
  const cc: OverviewPoint['cc'] = {}
  for (const name of parts.keys()) {
    if (!name.startsWith('cc_calls:')) continue
    const source = name.slice('cc_calls:'.length)
    cc[source] = { calls: count(name), success: count(`cc_success:${source}`) }
  }
  const lag = parts.get('pipeline_lag')
  const render = parts.get('render')
  return {
    t,
    seconds,
    ingest: count('ingest_accepted'),
    lagP50: quantileOf(lag, 0.5),
    lagP99: quantileOf(lag, 0.99),
    renders: render?.get('count') ?? 0,
    renderP50: quantileOf(render, 0.5),
    renderP95: quantileOf(render, 0.95),
    fallbacks: count('fallbacks'),
    sends: count('sends'),
    sendFailures: count('send_failures'),
    opens: count('opens'),
    clicks: count('clicks'),
    cc,
  }
}

/** Folds `{name, le, value}` parts (a sampleDelta) into the name → le → value map overviewPoint reads. */
export function partsOf(deltas: Iterable<{ name: string; le: string; value: number }>): MergedMinute {
  const out: MergedMinute = new Map()
  for (const d of deltas) {
    let m = out.get(d.name)
    if (!m) {
      m = new Map()
      out.set(d.name, m)
    }
    m.set(d.le, (m.get(d.le) ?? 0) + d.value)
  }
  return out
}
