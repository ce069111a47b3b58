/**
 * scale-out: Kafka + PostgreSQL mode (`inkstream start --role …` processes), with 1 and then 2
 * processor processes, each time on a fresh topic (8 partitions) and database:
 *
 * 1. durable events/s: POST /v1/batch (100 events) to one collector for 8 s (a 2xx = Kafka has them,
 *    acks=all), against the bare node:http server in the same run;
 * 2. processor throughput: the processors start on that backlog; events applied per second until the
 *    group's lag is 0 (from the moment every processor is up);
 * 3. pipeline lag p99 at a steady 2,500 events/s (50-event batches every 20 ms, 10 s), from the
 *    processors' inkstream_pipeline_lag_seconds histograms (merged).
 *
 * The headline ratio is the processor throughput with 2 processes over 1 (the scaling ratio).
 * Needs `npm run services:up` (Kafka on 127.0.0.1:9092, PostgreSQL on 5432).
 */
import { randomBytes } from 'node:crypto'
import { cpuMeter, round, type ServerUnderTest, startBare, startInkstream } from './lib/children.ts'
import { BodyPool } from './lib/events.ts'
import { type LoadSpec, measureThroughput } from './lib/load.ts'
import { paced } from './lib/paced.ts'
import { benchDatabase } from './lib/pg.ts'
import { counter, type Histogram, histogram, histogramDelta, quantile, scrape } from './lib/prometheus.ts'
import { type BenchResult, fmt, noiseWarning, waitUntil } from './lib/report.ts'

const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
const CONSUMER_LAG = 'inkstream_log_consumer_lag{group="profiles"}'
const LAG = 'inkstream_pipeline_lag_seconds'

const spec = (): LoadSpec => ({
  path: '/v1/batch',
  bodies: new BodyPool(100),
  connections: 16,
  warmupSeconds: 2,
  seconds: 8,
})

const sum = (hs: Histogram[]): Histogram =>
  hs[0]!.map((b, i) => ({ le: b.le, count: hs.reduce((n, h) => n + (h[i]?.count ?? 0), 0) }))

async function withProcessors(count: number) {
  const database = await benchDatabase()
  const env = {
    INKSTREAM_KAFKA_BROKERS: BROKERS,
    INKSTREAM_KAFKA_TOPIC: `inkstream-bench-${randomBytes(5).toString('hex')}`,
    INKSTREAM_KAFKA_PARTITIONS: '8',
    INKSTREAM_DATABASE_URL: database.url,
    INKSTREAM_WRITE_KEY: `wk_${randomBytes(12).toString('hex')}`,
    INKSTREAM_ADMIN_KEY: `ak_${randomBytes(12).toString('hex')}`,
  }
  const servers: ServerUnderTest[] = []
  try {
    const collector = await startInkstream(env, ['--role', 'collector'])
    servers.push(collector)
    process.stderr.write(`scale-out: ${count} processor(s): ingest...\n`)
    const stopCpu = cpuMeter(collector.pid)
    const ingest = await measureThroughput(collector, spec())
    const ingestCpu = stopCpu()
    const lagOf = async () => counter(await scrape(collector.url), CONSUMER_LAG)

    process.stderr.write(`scale-out: ${count} processor(s): draining the backlog...\n`)
    const processors: ServerUnderTest[] = []
    for (let i = 0; i < count; i++) processors.push(await startInkstream(env, ['--role', 'processor']))
    servers.push(...processors)
    const backlog = await lagOf()
    const t0 = performance.now()
    const drained = await waitUntil(async () => (await lagOf()) === 0, 300_000, 100)
    const drainSeconds = (performance.now() - t0) / 1000

    process.stderr.write(`scale-out: ${count} processor(s): lag at 2,500 events/s...\n`)
    const before = await Promise.all(processors.map(async (p) => histogram(await scrape(p.url), LAG)))
    const run = await paced(collector, {
      path: '/v1/batch',
      bodies: new BodyPool(50),
      intervalMs: 20,
      seconds: 10,
    })
    await waitUntil(async () => (await lagOf()) === 0, 60_000, 100)
    const after = await Promise.all(processors.map(async (p) => histogram(await scrape(p.url), LAG)))
    const h = sum(after.map((a, i) => histogramDelta(a, before[i]!)))
    const p99 = quantile(h, 0.99)
    const p50 = quantile(h, 0.5)
    return {
      ingestEventsPerSecond: ingest.perSecond * 100,
      ingestNon2xx: ingest.non2xx + ingest.errors,
      ingestCpu,
      backlog,
      drained,
      drainSeconds: round(drainSeconds, 1),
      appliedPerSecond: drained ? backlog / drainSeconds : Number.NaN,
      lagMs: {
        p50: p50 ? round(p50.value * 1000, 1) : null,
        p99: p99 ? round(p99.value * 1000, 1) : null,
        p99AtLeast: p99?.atLeast ?? null,
        observations: h[h.length - 1]?.count ?? 0,
        pacedOk: run.ok,
      },
    }
  } finally {
    for (const s of servers.reverse()) await s.stop()
    await database.drop().catch(() => {})
  }
}

export async function scaleOut(): Promise<BenchResult> {
  const bare = await startBare()
  const base = await measureThroughput(bare, spec()).finally(() => bare.stop())
  const baseline = base.perSecond * 100
  const one = await withProcessors(1)
  const two = await withProcessors(2)
  const ratio = two.appliedPerSecond / one.appliedPerSecond
  return {
    benchmark: 'scale-out',
    metric: 'events/s applied by 2 processor processes vs 1 (Kafka + PostgreSQL), same backlog shape',
    inkstream: Math.round(two.appliedPerSecond),
    baseline: Math.round(one.appliedPerSecond),
    ratio: round(ratio, 2),
    goal: 'report (no goal set)',
    met: true,
    details: { bareIngestEventsPerSecond: Math.round(baseline), oneProcessor: one, twoProcessors: two },
    summary:
      `scale-out: processors apply ${fmt(one.appliedPerSecond)} events/s (1) → ${fmt(two.appliedPerSecond)} (2), ` +
      `ratio ${ratio.toFixed(2)}; collector durable ingest ${fmt(one.ingestEventsPerSecond)} / ${fmt(two.ingestEventsPerSecond)} events/s ` +
      `vs bare node:http ${fmt(baseline)} (ratio ${(one.ingestEventsPerSecond / baseline).toFixed(2)}); ` +
      `lag p99 at 2,500 events/s: ${one.lagMs.p99} ms (1), ${two.lagMs.p99} ms (2)` +
      noiseWarning(one.ingestCpu),
  }
}
