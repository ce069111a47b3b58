/**
 * trigger: behavioural trigger latency with delay 0, from just before the client POSTs a
 * `Product Viewed` event to the moment an SMTP server in this process has received the whole
 * message (end of DATA). Inkstream runs as `inkstream start` in a child process with
 * INKSTREAM_SMTP_URL pointing here. Events are paced (RATE per second, each for a different
 * profile), so this is latency at a light steady load, not under saturation.
 * Baseline: the RTT of the same POSTs against the bare node:http server, in the same run.
 *
 * scale-out-trigger: the same, in scale-out mode (Kafka + PostgreSQL) across two processes: events
 * go to a `collector,processor` process, the message is sent by an `api,sender` process, which hears
 * of the job through PostgreSQL NOTIFY. Needs `npm run services:up`.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { SMTPServer } from 'smtp-server'
import { cpuMeter, round, type ServerUnderTest, startBare, startInkstream } from './lib/children.ts'
import { basicAuth } from './lib/events.ts'
import { benchDatabase } from './lib/pg.ts'
import { counter, percentile, scrape } from './lib/prometheus.ts'
import { type BenchResult, fmt, noiseWarning, waitUntil } from './lib/report.ts'

const RATE = 20
const SAMPLES = 300
const WARMUP = 20
const GOAL_P99_MS = 1000
const CONSUMER_LAG = 'inkstream_log_consumer_lag{group="profiles"}'

interface Receiver {
  port: number
  /** performance.now() at the end of DATA, by recipient address. */
  arrivals: Map<string, number>
  waiters: Map<string, (at: number) => void>
  close(): Promise<void>
}

async function startReceiver(): Promise<Receiver> {
  const arrivals = new Map<string, number>()
  const waiters = new Map<string, (at: number) => void>()
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      stream.on('data', () => {})
      stream.on('end', () => {
        const at = performance.now()
        for (const rcpt of session.envelope.rcptTo) {
          arrivals.set(rcpt.address, at)
          waiters.get(rcpt.address)?.(at)
        }
        callback()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.server.address()
  if (address === null || typeof address === 'string') throw new Error('no SMTP port')
  return {
    port: address.port,
    arrivals,
    waiters,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

const event = (userId: string) =>
  JSON.stringify({
    batch: [
      {
        type: 'track',
        userId,
        event: 'Product Viewed',
        messageId: randomUUID(),
        properties: { name: 'Kettle', price: 49 },
      },
    ],
  })

async function post(server: ServerUnderTest, path: string, body: string): Promise<void> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: basicAuth(server.writeKey), 'content-type': 'application/json' },
    body,
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`POST ${path}: ${res.status} ${text}`)
}

async function admin(server: ServerUnderTest, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${text}`)
}

/** Sends `count` requests at RATE/s, each measured by `one`; returns the latencies in ms, sorted. */
async function pacedSamples(count: number, one: (i: number) => Promise<number>): Promise<number[]> {
  const samples: Promise<number>[] = []
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / RATE
    const wait = due - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    samples.push(one(i))
  }
  return (await Promise.all(samples)).sort((a, b) => a - b)
}

/** The bare node:http server's RTT for the same POSTs at the same pace, ms, sorted. */
async function baselineRtts(): Promise<number[]> {
  const bare = await startBare()
  try {
    const body = event('bare')
    const one = async () => {
      const t0 = performance.now()
      await post(bare, '/v1/batch', body)
      return performance.now() - t0
    }
    await pacedSamples(WARMUP, one)
    return await pacedSamples(SAMPLES, one)
  } finally {
    await bare.stop()
  }
}

/** Where the measurement talks to: events in, admin API, the consumer-lag metric. */
interface Targets {
  ingest: ServerUnderTest
  admin: ServerUnderTest
  lag: ServerUnderTest
  /** The process whose CPU is metered (the one that sends). */
  pid: number
  receiver: Receiver
}

async function measure(
  name: string,
  mode: string,
  targets: Targets,
  baseline: number[],
): Promise<BenchResult> {
  const { ingest } = targets
  await admin(targets.admin, '/v1/templates/browse', {
    subject: 'Still thinking about the {{ event.properties.name }}?',
    html:
      '<html><body><h1>Hi {{ first_name | default: "there" }}</h1>' +
      '<p>The {{ event.properties.name }} ({{ event.properties.price }} EUR) is still here.</p>' +
      '<a href="https://shop.example.com/p/kettle">Back to the kettle</a></body></html>',
  })
  await admin(targets.admin, '/v1/triggers/viewed', { event: 'Product Viewed', templateId: 'browse' })
  const users = Array.from({ length: WARMUP + SAMPLES }, (_, i) => `trig-${i}`)
  await post(
    ingest,
    '/v1/batch',
    JSON.stringify({
      batch: users.map((u, i) => ({
        type: 'identify',
        userId: u,
        traits: { email: `${u}@example.com`, first_name: `Ann${i}` },
      })),
    }),
  )
  const caughtUp = await waitUntil(
    async () => counter(await scrape(targets.lag.url), CONSUMER_LAG) === 0,
    30_000,
  )
  if (!caughtUp) throw new Error('the processor did not apply the identify calls within 30 s')

  const one = (offset: number) => async (i: number) => {
    const userId = users[offset + i]!
    const address = `${userId}@example.com`
    const arrived = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message for ${address} within 10 s`)), 10_000)
      targets.receiver.waiters.set(address, (at) => {
        clearTimeout(timer)
        resolve(at)
      })
    })
    const t0 = performance.now()
    await post(ingest, '/v1/batch', event(userId))
    return (await arrived) - t0
  }
  await pacedSamples(WARMUP, one(0))
  const meter = cpuMeter(targets.pid)
  const samples = await pacedSamples(SAMPLES, one(WARMUP))
  const cpu = meter()

  const p50 = percentile(samples, 0.5)
  const p99 = percentile(samples, 0.99)
  const baseP99 = percentile(baseline, 0.99)
  const ratio = p99 / baseP99
  const met = p99 <= GOAL_P99_MS
  return {
    benchmark: name,
    metric: `trigger latency p99, ms (event POST sent → message received by an SMTP server), delay 0, ${mode}`,
    inkstream: round(p99, 2),
    baseline: round(baseP99, 2),
    ratio: round(ratio, 2),
    goal: `p99 < ${fmt(GOAL_P99_MS)} ms`,
    met,
    details: {
      samples: samples.length,
      eventsPerSecond: RATE,
      latencyMs: {
        p50: round(p50, 2),
        p90: round(percentile(samples, 0.9), 2),
        p99: round(p99, 2),
        max: round(samples.at(-1) ?? Number.NaN, 2),
      },
      baselineRttMs: { p50: round(percentile(baseline, 0.5), 2), p99: round(baseP99, 2) },
      cpu,
      note:
        'each event is for a different profile (identified beforehand with an email); the trigger has no ' +
        'segment, no delay and no frequency cap; the message is rendered, tracked and sent over SMTP ' +
        `(pooled nodemailer) by the dispatcher; ${mode}.`,
    },
    summary:
      `${name}: event → SMTP received p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms ` +
      `(${samples.length} events at ${RATE}/s, ${mode}) vs bare node:http RTT p99 ${baseP99.toFixed(2)} ms ` +
      `(ratio ${ratio.toFixed(1)}); goal p99 < ${fmt(GOAL_P99_MS)} ms: ${met ? 'MET' : 'NOT MET'}` +
      noiseWarning(cpu),
  }
}

export async function trigger(): Promise<BenchResult> {
  const baseline = await baselineRtts()
  const receiver = await startReceiver()
  const ink = await startInkstream({
    INKSTREAM_SMTP_URL: `smtp://127.0.0.1:${receiver.port}`,
    INKSTREAM_FROM: 'Shop <news@shop.example.com>',
  })
  try {
    const targets: Targets = { ingest: ink, admin: ink, lag: ink, pid: ink.pid, receiver }
    return await measure('trigger', 'one embedded process (SQLite)', targets, baseline)
  } finally {
    await ink.stop()
    await receiver.close()
  }
}

export async function scaleOutTrigger(): Promise<BenchResult> {
  const baseline = await baselineRtts()
  const receiver = await startReceiver()
  const database = await benchDatabase()
  const env = {
    INKSTREAM_KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    INKSTREAM_KAFKA_TOPIC: `inkstream-bench-${randomBytes(5).toString('hex')}`,
    INKSTREAM_KAFKA_PARTITIONS: '4',
    INKSTREAM_DATABASE_URL: database.url,
    INKSTREAM_WRITE_KEY: `wk_${randomBytes(12).toString('hex')}`,
    INKSTREAM_ADMIN_KEY: `ak_${randomBytes(12).toString('hex')}`,
    INKSTREAM_SMTP_URL: `smtp://127.0.0.1:${receiver.port}`,
    INKSTREAM_FROM: 'Shop <news@shop.example.com>',
  }
  const servers: ServerUnderTest[] = []
  try {
    const pipeline = await startInkstream(env, ['--role', 'collector,processor'])
    servers.push(pipeline)
    const delivery = await startInkstream(env, ['--role', 'api,sender'])
    servers.push(delivery)
    const targets: Targets = { ingest: pipeline, admin: delivery, lag: pipeline, pid: delivery.pid, receiver }
    return await measure(
      'scale-out-trigger',
      'scale-out: collector+processor and api+sender processes, Kafka + PostgreSQL',
      targets,
      baseline,
    )
  } finally {
    for (const s of servers.reverse()) await s.stop()
    await receiver.close()
    await database.drop()
  }
}
