/**
 * processor: how fast the processor folds and commits a backlog (events/s), embedded mode.
 *
 * 100,000 track events are appended through POST /v1/batch (500 a request, 4 at a time); the
 * processor works meanwhile, so a backlog builds up. From the moment the last append is
 * acknowledged, the processor runs alone: the rate at which it drains the backlog
 * (inkstream_pipeline_events_total over the time until the consumer lag is 0) is its throughput —
 * read the log, dedupe, resolve identities, fold traits, evaluate segments, commit.
 * Baseline (bench/bare-commit.ts, a child process): a bare better-sqlite3 loop writing the same
 * rows for the same events with the same pragmas and commit size — the physical limit.
 * The sides alternate, two rounds each; medians are reported.
 */
import { spawn } from 'node:child_process'
import { cpuMeter, ROOT, round, type ServerUnderTest, startInkstream } from './lib/children.ts'
import { BodyPool, basicAuth } from './lib/events.ts'
import { counter, scrape } from './lib/prometheus.ts'
import { type BenchResult, fmt, noiseWarning, waitUntil } from './lib/report.ts'

const EVENTS = 100_000
const PER_REQUEST = 500
const CONNECTIONS = 4
/** INKSTREAM_PROCESSOR_BATCH_SIZE's default. */
const BATCH = 2000
const ROUNDS = 2
const APPLIED = 'inkstream_pipeline_events_total{outcome="applied"}'
const CONSUMER_LAG = 'inkstream_log_consumer_lag{group="profiles"}'
/** A backlog smaller than this at the end of the appends measures too little of the processor. */
const MIN_BACKLOG = 20_000
/** The lookups, log reads and folds may cost at most 4× what the bare writes cost. */
const GOAL_RATIO = 0.25

async function append(server: ServerUnderTest): Promise<void> {
  const pool = new BodyPool(PER_REQUEST)
  let sent = 0
  const worker = async () => {
    while (sent < EVENTS) {
      sent += PER_REQUEST
      const res = await fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(server.writeKey) },
        body: new Uint8Array(pool.next()),
      })
      if (res.status !== 200) throw new Error(`POST /v1/batch answered ${res.status}: ${await res.text()}`)
      await res.arrayBuffer()
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, worker))
}

async function drainRate(): Promise<{
  eventsPerSecond: number
  backlog: number
  seconds: number
  cpu: unknown
}> {
  const ink = await startInkstream()
  try {
    await append(ink)
    const stopCpu = cpuMeter(ink.pid)
    const t0 = performance.now()
    const at0 = await scrape(ink.url)
    const backlog = counter(at0, CONSUMER_LAG)
    const applied0 = counter(at0, APPLIED)
    let applied1 = applied0
    const drained = await waitUntil(
      async () => {
        const s = await scrape(ink.url)
        applied1 = counter(s, APPLIED)
        return counter(s, CONSUMER_LAG) === 0
      },
      120_000,
      50,
    )
    const seconds = (performance.now() - t0) / 1000
    if (!drained) throw new Error(`the processor did not drain ${backlog} events within 120 s`)
    if (backlog < MIN_BACKLOG)
      throw new Error(`only ${backlog} events were left when the appends ended; raise EVENTS`)
    return { eventsPerSecond: (applied1 - applied0) / seconds, backlog, seconds, cpu: stopCpu() }
  } finally {
    await ink.stop()
  }
}

function bareCommit(): Promise<{ eventsPerSecond: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/bare-commit.ts', String(EVENTS), String(BATCH)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`bare-commit exited ${code}`)),
    )
  })
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

export async function processor(): Promise<BenchResult> {
  const bare: number[] = []
  const ink: Awaited<ReturnType<typeof drainRate>>[] = []
  for (let r = 0; r < ROUNDS; r++) {
    bare.push((await bareCommit()).eventsPerSecond)
    ink.push(await drainRate())
  }
  const inkstream = median(ink.map((i) => i.eventsPerSecond))
  const baseline = median(bare)
  const ratio = inkstream / baseline
  const cpus = ink.map((i) => i.cpu as { otherCores: number | null })
  return {
    benchmark: 'processor',
    metric:
      'events/s folded and committed from a backlog (embedded) vs a bare better-sqlite3 loop writing the same rows',
    inkstream: round(inkstream),
    baseline: round(baseline),
    ratio: round(ratio, 3),
    goal: `ratio ≥ ${GOAL_RATIO}; and no lower than the previous revision's (npm run bench -- --against <rev> processor)`,
    met: ratio >= GOAL_RATIO,
    details: {
      events: EVENTS,
      batchSize: BATCH,
      rounds: ink.map((i) => ({ ...i, eventsPerSecond: round(i.eventsPerSecond) })),
      bareRounds: bare.map((b) => round(b)),
    },
    summary:
      `processor: ${fmt(inkstream)} events/s from a backlog vs ${fmt(baseline)} for the bare SQLite loop ` +
      `(ratio ${ratio.toFixed(3)})${noiseWarning(...cpus)}`,
  }
}
