/**
 * ingest-batch: durable events/s through POST /v1/batch, 100 events (~340 bytes each) per request.
 * A 2xx from Inkstream means the events are committed to SQLite (WAL, synchronous=FULL).
 * Afterwards checks that 2xx × 100 equals the collector's accepted-events counter for the run.
 */
import { cpuMeter, round, type ServerUnderTest, startBare, startInkstream } from './lib/children.ts'
import { BodyPool } from './lib/events.ts'
import { type LoadSpec, measureThroughput } from './lib/load.ts'
import { counter, type Samples, scrape, settledCounter } from './lib/prometheus.ts'
import { type BenchResult, fmt, noiseWarning, waitUntil } from './lib/report.ts'

const EVENTS_PER_REQUEST = 100
const GOAL_EVENTS_PER_SECOND = 50_000
const ACCEPTED = 'inkstream_ingest_events_total{outcome="accepted"}'
const CONSUMER_LAG = 'inkstream_log_consumer_lag{group="profiles"}'

const spec = (): LoadSpec => ({
  path: '/v1/batch',
  bodies: new BodyPool(EVENTS_PER_REQUEST),
  connections: 16,
  warmupSeconds: 3,
  seconds: 10,
})

async function measure(server: ServerUnderTest, onInkstream: boolean) {
  const s = spec()
  let before = 0
  let stopCpu = cpuMeter(server.pid)
  const load = await measureThroughput(server, s, async () => {
    if (onInkstream) before = await settledCounter(server.url, ACCEPTED)
    stopCpu = cpuMeter(server.pid)
  })
  const cpu = stopCpu()
  return { load, cpu, before, bytesPerEvent: s.bodies.bytesPerEvent }
}

export async function ingestBatch(): Promise<BenchResult> {
  const bare = await startBare()
  const base = await measure(bare, false).finally(() => bare.stop())

  const ink = await startInkstream()
  try {
    const run = await measure(ink, true)
    const after = await scrape(ink.url)
    const accepted = counter(after, ACCEPTED) - run.before
    const expected = run.load.ok * EVENTS_PER_REQUEST
    // How far the processor (same process, same thread) is behind, and how long it needs to catch up.
    const backlog = counter(after, CONSUMER_LAG)
    const t0 = performance.now()
    let lag: Samples = after
    const drained = await waitUntil(async () => {
      lag = await scrape(ink.url)
      return counter(lag, CONSUMER_LAG) === 0
    }, 60_000)
    const drainSeconds = (performance.now() - t0) / 1000

    const eventsPerSecond = run.load.perSecond * EVENTS_PER_REQUEST
    const baseline = base.load.perSecond * EVENTS_PER_REQUEST
    const ratio = eventsPerSecond / baseline
    const logCheck = accepted === expected && run.load.non2xx === 0 && run.load.errors === 0
    const met = eventsPerSecond >= GOAL_EVENTS_PER_SECOND && logCheck
    return {
      benchmark: 'ingest-batch',
      metric: 'durable events/s (2xx responses × 100 / seconds)',
      inkstream: round(eventsPerSecond),
      baseline: round(baseline),
      ratio: round(ratio, 3),
      goal: `>= ${GOAL_EVENTS_PER_SECOND} durable events/s`,
      met,
      details: {
        connections: spec().connections,
        eventsPerRequest: EVENTS_PER_REQUEST,
        bytesPerEvent: run.bytesPerEvent,
        inkstream: { ...run.load, cpu: run.cpu },
        baseline: { ...base.load, cpu: base.cpu },
        logCheck: { ok: logCheck, acceptedInLog: accepted, expected2xxTimes100: expected },
        processor: {
          backlogAtEnd: backlog,
          drainSeconds: drained ? round(drainSeconds, 1) : null,
          drainTimedOut: !drained,
          remaining: counter(lag, CONSUMER_LAG),
        },
      },
      summary:
        `ingest-batch: inkstream ${fmt(eventsPerSecond)} durable events/s ` +
        `vs bare node:http ${fmt(baseline)} (ratio ${ratio.toFixed(3)}); ` +
        `goal >= ${fmt(GOAL_EVENTS_PER_SECOND)}: ${met ? 'MET' : 'NOT MET'}; ` +
        `log check ${logCheck ? 'ok' : 'FAILED'} ` +
        `(${fmt(accepted)} accepted vs ${fmt(run.load.ok)} × ${EVENTS_PER_REQUEST}); ` +
        `processor backlog ${fmt(backlog)} events at end, ` +
        `drained in ${drained ? `${drainSeconds.toFixed(1)} s` : '> 60 s'}` +
        noiseWarning(run.cpu, base.cpu),
    }
  } finally {
    await ink.stop()
  }
}
