/**
 * lag: pipeline lag (request arrival at the collector → profile committed) at a steady 5,000
 * events/s (50-event batches every 10 ms for 15 s), from the server's inkstream_pipeline_lag_seconds
 * histogram, with the acknowledgement round-trip time p99 of the same requests beside it.
 * Baseline: the round-trip time of the same paced requests against the bare server. Both servers
 * stay up and take turns, interleaved (lib/ab.ts): each round measures both, order rotating.
 */
import { fmtSpread, interleaved, ratioPerRound, roundsFromEnv, type Sample } from './lib/ab.ts'
import { cpuMeter, round, type ServerUnderTest, startBare, startInkstream } from './lib/children.ts'
import { BodyPool } from './lib/events.ts'
import { type PacedResult, type PacedSpec, paced } from './lib/paced.ts'
import { counter, histogram, histogramDelta, percentile, quantile, scrape } from './lib/prometheus.ts'
import { type BenchResult, fmt, waitUntil } from './lib/report.ts'

const EVENTS_PER_REQUEST = 50
const INTERVAL_MS = 10
const SECONDS = Number(process.env.BENCH_LAG_SECONDS) || 15
const WARMUP_SECONDS = 2
const GOAL_P99_MS = 20
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
  const ink = await startInkstream()
  try {
    await paced(bare, warmup)
    await paced(ink, warmup)
    if (!(await drained(ink))) throw new Error('the processor did not catch up with the warm-up within 30 s')
    const run = await interleaved(
      {
        bare: async (): Promise<Sample> => {
          const stopCpu = cpuMeter(bare.pid)
          const r = await paced(bare, spec)
          return { value: round(percentile(r.rttMs, 0.99), 2), cpu: stopCpu(), details: summary(r) }
        },
        inkstream: async (): Promise<Sample> => {
          const before = histogram(await scrape(ink.url), LAG)
          const stopCpu = cpuMeter(ink.pid)
          const r = await paced(ink, spec)
          const cpu = stopCpu()
          const caughtUp = await drained(ink)
          const h = histogramDelta(histogram(await scrape(ink.url), LAG), before)
          const p50 = quantile(h, 0.5)
          const p99 = quantile(h, 0.99)
          if (!p50 || !p99) throw new Error('no pipeline lag observations during the round')
          return {
            value: round(p99.value * 1000, 2),
            cpu,
            details: {
              lagMs: { p50: round(p50.value * 1000, 2), p99: round(p99.value * 1000, 2) },
              p99AtLeast: p99.atLeast,
              processorCaughtUp: caughtUp,
              observations: h[h.length - 1]?.count ?? 0,
              expected: r.ok * EVENTS_PER_REQUEST,
              achievedEventsPerSecond: round((r.ok * EVENTS_PER_REQUEST) / r.seconds),
              ackRttMs: rtt(r),
              ...summary(r),
            },
          }
        },
      },
      roundsFromEnv(3),
    )
    const { inkstream, bare: base } = run.sides
    const ackP99 = inkstream.samples.map((s) => (s.details?.ackRttMs as { p99: number } | undefined)?.p99)
    const honest = inkstream.samples.every((s) => s.details?.processorCaughtUp && !s.details?.p99AtLeast)
    const met = honest && inkstream.spread.median <= GOAL_P99_MS
    const ratio = ratioPerRound(inkstream, base)
    return {
      benchmark: 'lag',
      metric: 'pipeline lag p99, ms (request arrival → profile committed), at 5,000 events/s',
      inkstream: inkstream.spread.median,
      baseline: base.spread.median,
      ratio: ratio.median,
      goal: `median over rounds of the lag p99 <= ${GOAL_P99_MS} ms at ${fmt((EVENTS_PER_REQUEST * 1000) / INTERVAL_MS)} events/s, every round caught up`,
      met,
      details: {
        targetEventsPerSecond: (EVENTS_PER_REQUEST * 1000) / INTERVAL_MS,
        quantileMethod: 'linear interpolation within histogram buckets (as Prometheus histogram_quantile)',
        lagP99Ms: inkstream.spread,
        ackRttP99Ms: ackP99,
        bareRttP99Ms: base.spread,
        lagToBareRtt: ratio,
        loadAverages: run.loadAverages,
        worstOtherCores: run.worstOtherCores,
        samples: run.sides,
      },
      summary:
        `lag: p99 ${fmtSpread(inkstream.spread, 1)} ms from request arrival to profile commit; ` +
        `ack RTT p99 ${ackP99.join('/')} ms; bare RTT p99 ${fmtSpread(base.spread, 2)} ms; ` +
        `goal p99 <= ${GOAL_P99_MS} ms: ${met ? 'MET' : 'NOT MET'}; ` +
        `load ${run.loadAverages.join('/')}, other cores ≤ ${run.worstOtherCores}`,
    }
  } finally {
    await ink.stop()
    await bare.stop()
  }
}
