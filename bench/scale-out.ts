/**
 * scale-out: Kafka + PostgreSQL mode, 2 processor processes (`inkstream start --role processor`)
 * against 1, on equal backlogs.
 *
 * Every sample starts from nothing: a fresh database and a fresh 8-partition topic. The same
 * request bodies (built once: the same events, users and profile mix, BENCH_SCALEOUT_EVENTS events,
 * default 120,000) are posted to a collector (`--role collector`, acks=all) until Kafka holds them
 * all; the collector stops; then the processors start on that backlog. The drain rate is the
 * profiles group's lag once every processor is up, divided by the time until that lag is 0 (the
 * group's rebalance when the second member joins is inside it). The processors' applied counters
 * must add up to the events posted. Sides alternate in interleaved rounds, order rotating
 * (bench/lib/ab.ts); `met` comes only from the median per-round ratio 2 ÷ 1.
 *
 * The broker and PostgreSQL run on the same machine: during each drain the cores used by the
 * processors, the broker, this database's PostgreSQL backends (and PostgreSQL's shared background
 * processes), this process and everything else are read from /proc. With one processor those
 * parts use some share of the machine; two processors can be at most (cores − others) ÷ that share
 * as fast, whatever the code does: `cpuCeilingRatio` reports that limit from the one-processor rounds.
 *
 * Needs `npm run services:up` (Kafka on 127.0.0.1:9092, PostgreSQL on 5432).
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs'
import pg from 'pg'
import { KafkaEventLog, kafkaGroupId } from '../src/log/kafka-event-log.ts'
import { PROFILES_GROUP } from '../src/pipeline/processor.ts'
import { fmtSpread, interleaved, ratioPerRound, roundsFromEnv, type Sample, spread } from './lib/ab.ts'
import { cpuSeconds, round, type ServerUnderTest, startInkstream } from './lib/children.ts'
import { BodyPool, basicAuth } from './lib/events.ts'
import { benchDatabase } from './lib/pg.ts'
import { counter, scrape } from './lib/prometheus.ts'
import { type BenchResult, fmt, noiseWarning, waitUntil } from './lib/report.ts'

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const EVENTS = Number(process.env.BENCH_SCALEOUT_EVENTS ?? 120_000)
const PER_BODY = 100
const PARTITIONS = 8
const POSTERS = 8
const GOAL = 1.8
const APPLIED = 'inkstream_pipeline_events_total{outcome="applied"}'

/** The processes whose CPU is read during a drain. */
interface Stack {
  processors: number[]
  /** The database's name: its backends carry it in their process title. */
  database: string
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** pid → part of the stack (or undefined: someone else's), from /proc. */
function classify(stack: Stack): Map<number, string> {
  const parts = new Map<number, string>()
  for (const [i, pid] of stack.processors.entries()) parts.set(pid, `processor${i + 1}`)
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || parts.has(pid)) continue
    const comm = readText(`/proc/${pid}/comm`)?.trim()
    if (comm === 'postgres') {
      const title = readText(`/proc/${pid}/cmdline`)?.replaceAll('\0', ' ') ?? ''
      // Backends are titled "postgres: [cluster: ]user database host(port) state"; processes without a
      // client (checkpointer, WAL writer, …) serve every database.
      if (title.includes(stack.database)) parts.set(pid, 'postgresBackends')
      else if (!/\(\d+\)/.test(title)) parts.set(pid, 'postgresShared')
    } else if (comm === 'java' && readText(`/proc/${pid}/cmdline`)?.includes('kafka.Kafka')) {
      parts.set(pid, 'kafkaBroker')
    }
  }
  return parts
}

/** All CPU seconds the machine used (/proc/stat: everything but idle and iowait). */
function machineSeconds(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .map(Number)
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100
}

/**
 * Cores each part of the stack used between start and stop. Processes are looked for every 500 ms:
 * a PostgreSQL backend that appears meanwhile counts from 0 (it began inside the window), one that
 * ends keeps its last reading.
 */
function stackMeter(stack: Stack): () => Record<string, number> {
  const t0 = performance.now()
  const machine0 = machineSeconds()
  const self0 = process.cpuUsage()
  const first = new Map<number, number>()
  const last = new Map<number, number>()
  let parts = new Map<number, string>()
  const sample = (initial: boolean) => {
    parts = new Map([...parts, ...classify(stack)])
    for (const pid of parts.keys()) {
      const s = cpuSeconds(pid)
      if (s === undefined) continue
      if (!first.has(pid)) first.set(pid, initial ? s : 0)
      last.set(pid, s)
    }
  }
  sample(true)
  const timer = setInterval(() => sample(false), 500)
  return () => {
    clearInterval(timer)
    sample(false)
    const seconds = (performance.now() - t0) / 1000
    const used: Record<string, number> = {}
    for (const [pid, part] of parts) used[part] = (used[part] ?? 0) + (last.get(pid)! - first.get(pid)!)
    const self = process.cpuUsage(self0)
    used.bench = (self.user + self.system) / 1e6
    const stackTotal = Object.values(used).reduce((a, b) => a + b, 0)
    used.others = Math.max(0, machineSeconds() - machine0 - stackTotal)
    const cores: Record<string, number> = {}
    for (const [k, v] of Object.entries(used)) cores[k] = round(v / seconds, 2)
    cores.stack = round(stackTotal / seconds, 2)
    return cores
  }
}

/** Posts every body, POSTERS at a time; throws on any answer but 2xx (the backlog must be exact). */
async function produce(collector: ServerUnderTest, bodies: readonly Buffer[]): Promise<number> {
  const t0 = performance.now()
  let next = 0
  const headers = { 'content-type': 'application/json', authorization: basicAuth(collector.writeKey) }
  await Promise.all(
    Array.from({ length: POSTERS }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!
        const res = await fetch(`${collector.url}/v1/batch`, {
          method: 'POST',
          headers,
          body: new Uint8Array(body),
        })
        if (!res.ok) throw new Error(`collector answered ${res.status}: ${await res.text()}`)
        await res.arrayBuffer()
      }
    }),
  )
  return (bodies.length * PER_BODY) / ((performance.now() - t0) / 1000)
}

/**
 * What the profiles hold: every bench event is a view, a cart add or an order, each counted by one
 * of the default computed traits, so their counts add up to the events applied, once each.
 */
async function countedInProfiles(url: string): Promise<{ counted: number; dedupeRows: number }> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const counted = await client.query<{ n: string }>(
      `SELECT coalesce(sum((b.value->>0)::bigint), 0) AS n
         FROM profiles p, jsonb_each(p.state->'computed') t, jsonb_each(t.value->'buckets') b
        WHERE t.key IN ('products_viewed_7d', 'carts_7d', 'orders_total')`,
    )
    const dedupe = await client.query<{ n: string }>('SELECT count(*) AS n FROM dedupe')
    return { counted: Number(counted.rows[0]!.n), dedupeRows: Number(dedupe.rows[0]!.n) }
  } finally {
    await client.end()
  }
}

/** Partitions of the topic each member of the group holds now. */
async function assignment(topic: string): Promise<number[][]> {
  const admin = new Kafka({ brokers: BROKERS, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    const { groups } = await admin.describeGroups([kafkaGroupId(topic, PROFILES_GROUP)])
    return (groups[0]?.members ?? []).map(
      (m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [],
    )
  } finally {
    await admin.disconnect()
  }
}

async function drain(count: number, bodies: readonly Buffer[]): Promise<Sample> {
  const database = await benchDatabase()
  const topic = `inkstream-bench-${randomBytes(5).toString('hex')}`
  const env = {
    INKSTREAM_KAFKA_BROKERS: BROKERS.join(','),
    INKSTREAM_KAFKA_TOPIC: topic,
    INKSTREAM_KAFKA_PARTITIONS: String(PARTITIONS),
    INKSTREAM_DATABASE_URL: database.url,
    INKSTREAM_WRITE_KEY: `wk_${randomBytes(12).toString('hex')}`,
    INKSTREAM_ADMIN_KEY: `ak_${randomBytes(12).toString('hex')}`,
  }
  const events = bodies.length * PER_BODY
  const servers: ServerUnderTest[] = []
  let log: KafkaEventLog | undefined
  try {
    const collector = await startInkstream(env, ['--role', 'collector'])
    const ingestPerSecond = await produce(collector, bodies).finally(() => collector.stop())
    log = await KafkaEventLog.open({ brokers: BROKERS, topic })
    const lag = () => log!.lag(PROFILES_GROUP)
    const produced = await lag()
    if (produced !== events) throw new Error(`the topic holds ${produced} events, not the ${events} posted`)

    const spawned = performance.now()
    servers.push(
      ...(await Promise.all(
        Array.from({ length: count }, () => startInkstream(env, ['--role', 'processor'])),
      )),
    )
    const t0 = performance.now()
    const backlog = await lag()
    const meter = stackMeter({
      processors: servers.map((s) => s.pid),
      database: database.url.split('/').at(-1)!,
    })
    const drained = await waitUntil(async () => (await lag()) === 0, 600_000, 100)
    const seconds = (performance.now() - t0) / 1000
    const cores = meter()
    if (!drained) throw new Error(`${count} processor(s) did not drain the backlog within 600 s`)
    const partitions = await assignment(topic)
    const perProcessor = await Promise.all(servers.map(async (s) => counter(await scrape(s.url), APPLIED)))
    const applied = perProcessor.reduce((a, b) => a + b, 0)
    const profiles = await countedInProfiles(database.url)
    if (applied !== events || profiles.counted !== events || profiles.dedupeRows !== events)
      process.stderr.write(
        `scale-out: WARNING: ${events} events posted, processors counted ${applied} applied, ` +
          `the profiles count ${profiles.counted}, dedupe holds ${profiles.dedupeRows}\n`,
      )
    const rate = backlog / seconds
    process.stderr.write(
      `scale-out: ${count} processor(s): ${fmt(backlog)} events in ${seconds.toFixed(1)} s = ${fmt(rate)}/s; cores ${JSON.stringify(cores)}\n`,
    )
    return {
      value: rate,
      cpu: {
        serverCores: cores.stack!,
        serverCpuWaitShare: null,
        loadGenCores: cores.bench!,
        otherCores: cores.others!,
      },
      details: {
        backlog,
        appliedBeforeAllUp: events - backlog,
        drainSeconds: round(seconds, 2),
        startUpSeconds: round((t0 - spawned) / 1000, 2),
        appliedPerProcessor: perProcessor,
        countedInProfiles: profiles.counted,
        dedupeRows: profiles.dedupeRows,
        partitionsPerMember: partitions,
        cores,
        cpuMicrosecondsPerEvent: round((cores.stack! * seconds * 1e6) / backlog, 1),
        collectorIngestPerSecond: Math.round(ingestPerSecond),
      },
    }
  } finally {
    await log?.close()
    for (const s of servers) await s.stop()
    await database.drop().catch(() => {})
  }
}

export async function scaleOut(): Promise<BenchResult> {
  const pool = new BodyPool(PER_BODY)
  // One set of bodies for every sample: byte-identical backlogs (a fresh database each time, so
  // the same messageIds are never duplicates).
  const bodies = Array.from({ length: Math.ceil(EVENTS / PER_BODY) }, () => pool.next())
  const result = await interleaved(
    { one: () => drain(1, bodies), two: () => drain(2, bodies) },
    roundsFromEnv(),
  )
  const { one, two } = result.sides
  const ratio = ratioPerRound(two, one)
  const machineCores = cpus().length
  // With one processor, the stack (processors, broker, PostgreSQL) used `stack` cores for `rate`:
  // on the cores others left free, the same work per event allows at most this ratio.
  const ceilings = one.samples.map((s) => {
    const c = (s.details!.cores as Record<string, number>) ?? {}
    return round(Math.min(2, (machineCores - (c.others ?? 0)) / c.stack!), 2)
  })
  const cpuCeiling = spread(ceilings)
  const met = ratio.median >= GOAL
  return {
    benchmark: 'scale-out',
    metric: `events/s drained by 2 processor processes vs 1 (Kafka + PostgreSQL), equal ${fmt(bodies.length * PER_BODY)}-event backlogs`,
    inkstream: Math.round(two.spread.median),
    baseline: Math.round(one.spread.median),
    ratio: ratio.median,
    goal: `2 processors ≥ ${GOAL} × 1 (median per-round ratio)`,
    met,
    details: {
      rounds: result.rounds,
      ratio,
      one,
      two,
      loadAverages: result.loadAverages,
      worstOtherCores: result.worstOtherCores,
      machineCores,
      cpuCeilingRatio: cpuCeiling,
    },
    summary:
      `scale-out: ${fmt(one.spread.median)} events/s with 1 processor, ${fmt(two.spread.median)} with 2: ` +
      `ratio ${fmtSpread(ratio, 2)} over ${result.rounds} rounds (goal ${GOAL}: ${met ? 'met' : 'not met'}); ` +
      `the CPU the 1-processor stack used allows at most ${fmtSpread(cpuCeiling, 2)} on ${machineCores} cores` +
      noiseWarning(...[...one.samples, ...two.samples].map((s) => s.cpu!)),
  }
}
