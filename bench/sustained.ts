/**
 * sustained: events acknowledged AND applied to profiles per second, end to end (embedded), with the
 * backlog watched, against the storage ceiling, interleaved (lib/ab.ts).
 *
 * Inkstream side, per round (a fresh server): CONNECTIONS clients POST /v1/batch (500 events a
 * request) back to back; after WARMUP_SECONDS, for SECONDS, the events acknowledged and the events
 * the processor applied (inkstream_pipeline_events_total) are counted and the consumer lag is read
 * at both ends. The sustained rate is the events applied per second over the window: an acknowledged
 * event the processor has not applied is backlog, not throughput, and the backlog's growth is
 * reported beside it (zero or less: the processor kept up with every acknowledged event).
 * Ceiling side (bench/bare-commit.ts, pool mode): a bare better-sqlite3 loop writing the rows the
 * processor writes for the same kind of events (the same generator) into an empty store with the same
 * pragmas and commit size. Goal: sustained ≥ 0.5 × ceiling (per-round median).
 */

import { fmtSpread, interleaved, ratioPerRound, roundsFromEnv, type Sample } from './lib/ab.ts'
import { runJsonChild } from './lib/child-json.ts'
import { type CpuUse, cpuMeter, round, type ServerUnderTest, startInkstream } from './lib/children.ts'
import { BodyPool, basicAuth } from './lib/events.ts'
import { counter, scrape } from './lib/prometheus.ts'
import type { BenchResult } from './lib/report.ts'

const PER_REQUEST = 500
const CONNECTIONS = 4
const WARMUP_SECONDS = 3
const SECONDS = Number(process.env.BENCH_SUSTAINED_SECONDS) || 15
/** INKSTREAM_PROCESSOR_BATCH_SIZE's default. */
const BATCH = 2000
const CEILING_EVENTS = 60_000
const GOAL = 0.5
const APPLIED = 'inkstream_pipeline_events_total{outcome="applied"}'
const CONSUMER_LAG = 'inkstream_log_consumer_lag{group="profiles"}'

/** Posts batches back to back until `stop()`; counts the events acknowledged. */
function load(server: ServerUnderTest) {
  const pool = new BodyPool(PER_REQUEST)
  let acked = 0
  let stopped = false
  const worker = async () => {
    while (!stopped) {
      const res = await fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(server.writeKey) },
        body: new Uint8Array(pool.next()),
      })
      await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`POST /v1/batch answered ${res.status}`)
      acked += PER_REQUEST
    }
  }
  const running = Promise.all(Array.from({ length: CONNECTIONS }, worker))
  return {
    acked: () => acked,
    stop: async () => {
      stopped = true
      await running
    },
  }
}

async function endToEnd(): Promise<Sample> {
  const ink = await startInkstream()
  try {
    const traffic = load(ink)
    await new Promise((r) => setTimeout(r, WARMUP_SECONDS * 1000))
    const s0 = await scrape(ink.url)
    const acked0 = traffic.acked()
    const stopCpu = cpuMeter(ink.pid)
    const t0 = performance.now()
    await new Promise((r) => setTimeout(r, SECONDS * 1000))
    const s1 = await scrape(ink.url)
    const seconds = (performance.now() - t0) / 1000
    const cpu: CpuUse = stopCpu()
    const acked = traffic.acked() - acked0
    await traffic.stop()
    const applied = counter(s1, APPLIED) - counter(s0, APPLIED)
    const backlog0 = counter(s0, CONSUMER_LAG)
    const backlog1 = counter(s1, CONSUMER_LAG)
    return {
      value: round(applied / seconds),
      cpu,
      details: {
        ackedPerSecond: round(acked / seconds),
        appliedPerSecond: round(applied / seconds),
        backlogAtStart: backlog0,
        backlogAtEnd: backlog1,
        backlogGrowthPerSecond: round((backlog1 - backlog0) / seconds),
        seconds: round(seconds, 2),
      },
    }
  } finally {
    await ink.stop()
  }
}

export async function sustained(): Promise<BenchResult> {
  const run = await interleaved(
    {
      ceiling: async () => {
        const r = await runJsonChild<{ eventsPerSecond: number; seconds: number; cpu: CpuUse }>(
          'bench/bare-commit.ts',
          ['pool', CEILING_EVENTS, BATCH],
        )
        return { value: round(r.eventsPerSecond), cpu: r.cpu, details: { seconds: r.seconds } }
      },
      inkstream: endToEnd,
    },
    roundsFromEnv(3),
  )
  const { ceiling, inkstream } = run.sides
  const ratio = ratioPerRound(inkstream, ceiling)
  const met = ratio.median >= GOAL
  const growth = inkstream.samples.map((s) => s.details?.backlogGrowthPerSecond as number)
  return {
    benchmark: 'sustained',
    metric: 'events/s acknowledged and applied to profiles (embedded, /v1/batch) vs the storage ceiling',
    inkstream: inkstream.spread.median,
    baseline: ceiling.spread.median,
    ratio: ratio.median,
    goal: `applied events/s ≥ ${GOAL} × the storage ceiling (per-round median)`,
    met,
    details: {
      ratio,
      eventsPerSecond: { inkstream: inkstream.spread, ceiling: ceiling.spread },
      backlogGrowthPerSecond: growth,
      connections: CONNECTIONS,
      eventsPerRequest: PER_REQUEST,
      seconds: SECONDS,
      loadAverages: run.loadAverages,
      worstOtherCores: run.worstOtherCores,
      samples: run.sides,
    },
    summary:
      `sustained: ${inkstream.spread.median} events/s applied end to end vs a ceiling of ` +
      `${ceiling.spread.median} (ratio ${fmtSpread(ratio)}; goal ≥ ${GOAL}: ${met ? 'MET' : 'NOT MET'}); ` +
      `backlog growth/s ${growth.join(', ')}; load ${run.loadAverages.join('/')}, other cores ≤ ${run.worstOtherCores}`,
  }
}
