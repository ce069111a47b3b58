/**
 * lag: pipeline lag (collector received → profile committed) at a steady 5,000 events/s
 * (50-event batches every 10 ms for 15 s), from the server's inkstream_pipeline_lag_seconds
 * histogram. Baseline: round-trip time of the same paced requests against the bare server.
 */
import {
  type CpuUse,
  cpuMeter,
  round,
  type ServerUnderTest,
  startBare,
  startInkstream,
} from './lib/children.ts'
import { BodyPool } from './lib/events.ts'
import { type PacedResult, type PacedSpec, paced } from './lib/paced.ts'
import { counter, histogram, histogramDelta, percentile, quantile, scrape } from './lib/prometheus.ts'
import { type BenchResult, fmt, noiseWarning, waitUntil } from './lib/report.ts'

const EVENTS_PER_REQUEST = 50
const INTERVAL_MS = 10
const SECONDS = 15
const WARMUP_SECONDS = 2
const GOAL_P99_MS = 50
const LAG = 'inkstream_pipeline_lag_seconds'
const CONSUMER_LAG = 'inkstream_log_consumer_lag{group="profiles"}'

const rtt = (r: PacedResult) => ({
  p50: round(percentile(r.rttMs, 0.5), 2),
  p99: round(percentile(r.rttMs, 0.99), 2),
  max: round(r.rttMs[r.rttMs.length - 1] ?? Number.NaN, 2),
})

const summary = (r: PacedResult) => {
  const { rttMs: _all, ...rest } = r
  return { ...rest, seconds: round(r.seconds, 2), maxLateMs: round(r.maxLateMs, 1), rttMs: rtt(r) }
}

const drained = async (server: ServerUnderTest) =>
  waitUntil(async () => counter(await scrape(server.url), CONSUMER_LAG) === 0, 30_000)

export async function lag(): Promise<BenchResult> {
  const bodies = new BodyPool(EVENTS_PER_REQUEST)
  const spec: PacedSpec = { path: '/v1/batch', bodies, intervalMs: INTERVAL_MS, seconds: SECONDS }
  const warmup: PacedSpec = { ...spec, seconds: WARMUP_SECONDS }

  const bare = await startBare()
  let base: PacedResult
  let baseCpu: CpuUse
  try {
    await paced(bare, warmup)
    const stopCpu = cpuMeter(bare.pid)
    base = await paced(bare, spec)
    baseCpu = stopCpu()
  } finally {
    await bare.stop()
  }

  const ink = await startInkstream()
  try {
    await paced(ink, warmup)
    if (!(await drained(ink))) throw new Error('the processor did not catch up with the warm-up within 30 s')
    const before = histogram(await scrape(ink.url), LAG)
    const stopCpu = cpuMeter(ink.pid)
    const run = await paced(ink, spec)
    const cpu = stopCpu()
    const caughtUp = await drained(ink)
    const h = histogramDelta(histogram(await scrape(ink.url), LAG), before)
    const observed = h[h.length - 1]?.count ?? 0
    const p50 = quantile(h, 0.5)
    const p99 = quantile(h, 0.99)
    if (!p50 || !p99) throw new Error('no pipeline lag observations during the run')

    const p99Ms = p99.value * 1000
    const baseP99 = percentile(base.rttMs, 0.99)
    const ratio = p99Ms / baseP99
    const met = caughtUp && !p99.atLeast && p99Ms <= GOAL_P99_MS
    const shown = (q: { value: number; atLeast: boolean }) =>
      `${q.atLeast ? '>= ' : ''}${(q.value * 1000).toFixed(1)} ms`
    return {
      benchmark: 'lag',
      metric: 'pipeline lag p99, ms (received → profile committed)',
      inkstream: round(p99Ms, 2),
      baseline: round(baseP99, 2),
      ratio: round(ratio, 2),
      goal: `p99 <= ${GOAL_P99_MS} ms at ${fmt((EVENTS_PER_REQUEST * 1000) / INTERVAL_MS)} events/s`,
      met,
      details: {
        targetEventsPerSecond: (EVENTS_PER_REQUEST * 1000) / INTERVAL_MS,
        achievedEventsPerSecond: round((run.ok * EVENTS_PER_REQUEST) / run.seconds),
        quantileMethod: 'linear interpolation within histogram buckets (as Prometheus histogram_quantile)',
        lagMs: {
          p50: round(p50.value * 1000, 2),
          p99: round(p99Ms, 2),
          p99AtLeast: p99.atLeast,
          observations: observed,
          expected: run.ok * EVENTS_PER_REQUEST,
        },
        buckets: h.map((b) => ({ le: b.le === Number.POSITIVE_INFINITY ? '+Inf' : b.le, count: b.count })),
        processorCaughtUp: caughtUp,
        inkstream: { ...summary(run), cpu },
        baseline: { ...summary(base), cpu: baseCpu },
      },
      summary:
        `lag: inkstream pipeline lag p50 ${shown(p50)}, p99 ${shown(p99)} ` +
        `at ${fmt((run.ok * EVENTS_PER_REQUEST) / run.seconds)} events/s ` +
        `vs bare node:http RTT p99 ${baseP99.toFixed(2)} ms (ratio ${ratio.toFixed(1)}); ` +
        `goal p99 <= ${GOAL_P99_MS} ms: ` +
        `${met ? 'MET' : 'NOT MET'}; inkstream ack RTT p99 ${rtt(run).p99} ms` +
        noiseWarning(cpu, baseCpu),
    }
  } finally {
    await ink.stop()
  }
}
