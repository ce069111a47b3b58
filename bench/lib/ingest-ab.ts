/**
 * The collector benches' shared core (ingest-track, ingest-batch): Inkstream and the bare
 * node:http + JSON.parse server both up for the whole run, measured in interleaved rounds with
 * rotating order at each connection count, the ratio taken per round. Every Inkstream sample
 * checks the log (accepted-events counter delta == 2xx × events per request, no non-2xx, no
 * errors) and then waits for the in-process processor to drain, so its backlog does not run
 * during the next sample.
 */
import {
  type InterleavedResult,
  interleaved,
  ratioPerRound,
  roundsFromEnv,
  type Sample,
  type Spread,
} from './ab.ts'
import { cpuMeter, round, type ServerUnderTest, startBare, startInkstream } from './children.ts'
import { BodyPool } from './events.ts'
import { measureThroughput } from './load.ts'
import { counter, scrape, settledCounter } from './prometheus.ts'
import { waitUntil } from './report.ts'

const ACCEPTED = 'inkstream_ingest_events_total{outcome="accepted"}'
const CONSUMER_LAG = 'inkstream_log_consumer_lag{group="profiles"}'

export interface IngestAbSpec {
  path: string
  /** undefined: one event per request body (/v1/track); n: a batch of n events. */
  eventsPerRequest: number | undefined
  connections: readonly number[]
}

export interface ByConnections {
  connections: number
  /** Per-round inkstream ÷ bare, in events/s. */
  ratio: Spread
  ab: InterleavedResult<'inkstream' | 'bare'>
}

export interface IngestAbResult {
  rounds: number
  secondsPerSample: number
  bytesPerEvent: number
  logOk: boolean
  byConnections: ByConnections[]
}

/** BENCH_SECONDS: the measured seconds per sample (after a 2 s warm-up). */
const secondsFromEnv = (fallback: number): number => {
  const env = Number(process.env.BENCH_SECONDS)
  return Number.isFinite(env) && env > 0 ? env : fallback
}

/** How far the processor is behind at a sample's end; then waits (up to 2 min) until it caught up. */
async function drainProcessor(url: string) {
  const backlogAtEnd = counter(await scrape(url), CONSUMER_LAG)
  const t0 = performance.now()
  const drained = await waitUntil(async () => counter(await scrape(url), CONSUMER_LAG) === 0, 120_000, 200)
  return { backlogAtEnd, drainSeconds: drained ? round((performance.now() - t0) / 1000, 1) : null }
}

export async function ingestAb(spec: IngestAbSpec): Promise<IngestAbResult> {
  const rounds = roundsFromEnv(3)
  const seconds = secondsFromEnv(8)
  const perRequest = spec.eventsPerRequest ?? 1
  let logOk = true
  let bytesPerEvent = 0

  const measure = async (
    server: ServerUnderTest,
    connections: number,
    onInkstream: boolean,
  ): Promise<Sample> => {
    const bodies = new BodyPool(spec.eventsPerRequest)
    bytesPerEvent = bodies.bytesPerEvent
    let before = 0
    let stopCpu = cpuMeter(server.pid)
    const load = await measureThroughput(
      server,
      { path: spec.path, bodies, connections, warmupSeconds: 2, seconds },
      async () => {
        if (onInkstream) before = await settledCounter(server.url, ACCEPTED)
        stopCpu = cpuMeter(server.pid)
      },
    )
    const cpu = stopCpu()
    const value = round(load.perSecond * perRequest)
    const clean = load.non2xx === 0 && load.errors === 0
    if (!onInkstream) {
      logOk &&= clean
      return { value, cpu, details: { ...load } }
    }
    const accepted = (await settledCounter(server.url, ACCEPTED)) - before
    logOk &&= clean && accepted === load.ok * perRequest
    const processor = await drainProcessor(server.url)
    return { value, cpu, details: { ...load, acceptedInLog: accepted, processor } }
  }

  const [bare, ink] = await Promise.all([startBare(), startInkstream()])
  try {
    const byConnections: ByConnections[] = []
    for (const connections of spec.connections) {
      const ab = await interleaved(
        {
          inkstream: () => measure(ink, connections, true),
          bare: () => measure(bare, connections, false),
        },
        rounds,
      )
      byConnections.push({ connections, ratio: ratioPerRound(ab.sides.inkstream, ab.sides.bare), ab })
    }
    return { rounds, secondsPerSample: seconds, bytesPerEvent, logOk, byConnections }
  } finally {
    await Promise.all([bare.stop(), ink.stop()])
  }
}

/** The worst connection count by median ratio: the one a goal is judged on. */
export const worstOf = (r: IngestAbResult): ByConnections =>
  r.byConnections.reduce((a, b) => (b.ratio.median < a.ratio.median ? b : a))

/** The JSON `details` of a result: every sample, per connection count, with load and other cores' use. */
export const detailsOf = (r: IngestAbResult): Record<string, unknown> => ({
  rounds: r.rounds,
  secondsPerSample: r.secondsPerSample,
  bytesPerEvent: r.bytesPerEvent,
  logCheck: { ok: r.logOk, rule: 'accepted counter delta == 2xx × events per request; no non-2xx or errors' },
  byConnections: r.byConnections.map((p) => ({
    connections: p.connections,
    ratio: p.ratio,
    inkstream: p.ab.sides.inkstream,
    bare: p.ab.sides.bare,
    loadAverages: p.ab.loadAverages,
    worstOtherCores: p.ab.worstOtherCores,
  })),
})

/** "load 1.2/1.5/…, other cores up to 0.40" for a summary line. */
export const noiseOf = (r: IngestAbResult): string =>
  `load ${r.byConnections.flatMap((p) => p.ab.loadAverages).join('/')}, other cores up to ` +
  `${Math.max(...r.byConnections.map((p) => p.ab.worstOtherCores ?? 0)).toFixed(2)}`
