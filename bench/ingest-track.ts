/**
 * ingest-track: requests/s through POST /v1/track, one ~340-byte event per request, 50 connections,
 * against the bare node:http server answering the same requests. Goal: at least half its req/s.
 */
import { cpuMeter, round, type ServerUnderTest, startBare, startInkstream } from './lib/children.ts'
import { BodyPool } from './lib/events.ts'
import { measureThroughput } from './lib/load.ts'
import { counter, scrape, settledCounter } from './lib/prometheus.ts'
import { type BenchResult, fmt, noiseWarning } from './lib/report.ts'

const GOAL_RATIO = 0.5
const CONNECTIONS = 50
const ACCEPTED = 'inkstream_ingest_events_total{outcome="accepted"}'
const CONSUMER_LAG = 'inkstream_log_consumer_lag{group="profiles"}'

async function measure(server: ServerUnderTest, onInkstream: boolean) {
  let before = 0
  let stopCpu = cpuMeter(server.pid)
  const spec = {
    path: '/v1/track',
    bodies: new BodyPool(undefined),
    connections: CONNECTIONS,
    warmupSeconds: 3,
    seconds: 10,
  }
  const load = await measureThroughput(server, spec, async () => {
    if (onInkstream) before = await settledCounter(server.url, ACCEPTED)
    stopCpu = cpuMeter(server.pid)
  })
  const cpu = stopCpu()
  const accepted = onInkstream ? (await settledCounter(server.url, ACCEPTED)) - before : undefined
  // Whether the processor (same thread) kept up, i.e. whether the rate above is sustainable.
  const backlog = onInkstream ? counter(await scrape(server.url), CONSUMER_LAG) : undefined
  return { load, cpu, accepted, backlog }
}

export async function ingestTrack(): Promise<BenchResult> {
  const bare = await startBare()
  const base = await measure(bare, false).finally(() => bare.stop())
  const ink = await startInkstream()
  const run = await measure(ink, true).finally(() => ink.stop())

  const ratio = run.load.perSecond / base.load.perSecond
  const logCheck = run.accepted === run.load.ok && run.load.non2xx === 0 && run.load.errors === 0
  const met = ratio >= GOAL_RATIO && logCheck
  return {
    benchmark: 'ingest-track',
    metric: 'requests/s (2xx, one event each)',
    inkstream: round(run.load.perSecond),
    baseline: round(base.load.perSecond),
    ratio: round(ratio, 3),
    goal: `>= ${GOAL_RATIO} × bare node:http req/s`,
    met,
    details: {
      connections: CONNECTIONS,
      inkstream: { ...run.load, cpu: run.cpu },
      baseline: { ...base.load, cpu: base.cpu },
      logCheck: { ok: logCheck, acceptedInLog: run.accepted, expected2xx: run.load.ok },
      processorBacklogAtEnd: run.backlog,
    },
    summary:
      `ingest-track: inkstream ${fmt(run.load.perSecond)} req/s ` +
      `vs bare node:http ${fmt(base.load.perSecond)} req/s ` +
      `(ratio ${ratio.toFixed(3)}); goal ratio >= ${GOAL_RATIO}: ${met ? 'MET' : 'NOT MET'}; ` +
      `p99 latency ${run.load.latencyMs.p99} ms vs ${base.load.latencyMs.p99} ms; ` +
      `log check ${logCheck ? 'ok' : 'FAILED'}; processor backlog ${fmt(run.backlog ?? 0)} events at end` +
      noiseWarning(run.cpu, base.cpu),
  }
}
