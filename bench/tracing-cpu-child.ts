/**
 * One side of the tracing-cpu benchmark (bench/tracing-cpu.ts), in a process of its own: the whole
 * app in this process (createApp, the processor in its worker thread), driven through
 * `server.inject` (no sockets, no load generator competing for the cores), and the process's CPU
 * time (every thread: process.cpuUsage) per request. Ingest counts until every consumer of the log (the processor, analytics) has
 * applied the events, so the processor's batch spans are in the figure.
 *
 * The logging and tracing settings come from the env the parent gives (INKSTREAM_LOG_LEVEL,
 * OTEL_*). Each phase: a warm-up of BENCH_TRACING_INGEST (10,000) events or BENCH_TRACING_RENDER
 * (1,000) previews, then calls for BENCH_TRACING_INGEST_SECONDS (8) or _RENDER_SECONDS (8), started
 * at the pair's barrier (BENCH_TRACING_BARRIER) as fast as they complete (closed loop), then, with
 * BENCH_TRACING_EQUAL_LOAD=1, the same again at equal load (open loop, at the rate the parent gives
 * both children of the pair).
 * BENCH_TRACING_BURN_MICROS adds that much busy waiting on the main thread per call (the
 * calibration side). Prints one JSON line: { ingestCpuMicros, renderCpuMicros, ingestPerSecond,
 * renderPerSecond, equalLoad?: { the same at equal load, and the rates }, spanCpuMicros (with
 * tracing on: the tracer's own cost per span, spanFloor) }.
 */
import { rmSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { type ProxyTracerProvider, SpanKind, trace } from '@opentelemetry/api'
import { ANALYTICS_GROUP } from '../src/analytics/analytics-store.ts'
import { createApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { PROFILES_GROUP } from '../src/pipeline/processor.ts'

/** Warm-up calls before each measured phase (not counted). */
const INGEST_WARM_UP = Number(process.env.BENCH_TRACING_INGEST ?? 10000)
const RENDER_WARM_UP = Number(process.env.BENCH_TRACING_RENDER ?? 1000)
/** How long each measured phase drives calls (wall clock; the pair's two children at the same time). */
const INGEST_SECONDS = Number(process.env.BENCH_TRACING_INGEST_SECONDS ?? 8)
const RENDER_SECONDS = Number(process.env.BENCH_TRACING_RENDER_SECONDS ?? 8)
const SPANS = Number(process.env.BENCH_TRACING_SPANS ?? 20000)
const TEMPLATE = {
  subject: 'Hi {{ first_name | default: "there" }}',
  html: `<html><body><h1>Hi {{ first_name | default: "there" }},</h1>
<p>You left {{ last_cart_product.name | default: "something" }} ({{ last_cart_product.price }} EUR) in your cart.</p>
{% for p in recent_products %}<p><a href="{{ p.url }}">{{ p.name }}</a> — {{ p.price }} EUR</p>{% endfor %}</body></html>`,
}
const PROFILE = {
  first_name: 'Ada',
  last_cart_product: { name: 'Desk lamp', price: 49 },
  recent_products: Array.from({ length: 5 }, (_, i) => ({
    name: `Product ${i}`,
    url: `https://shop.example/p/${i}`,
    price: 10 + i,
  })),
}
const EVENTS = ['Product Viewed', 'Product Added', 'Order Completed']

const dataDir = process.argv[2]!
// INKSTREAM_* settings pass through (INKSTREAM_LOG_LEVEL is the side's).
const config = loadConfig(process.env, { port: 0, dataDir })
const app = await createApp(config)
const { server, workspace } = app
const writeAuth = `Basic ${Buffer.from(`${workspace.writeKey}:`).toString('base64')}`
const adminAuth = `Bearer ${workspace.adminKey}`

let seq = 0
const track = async () => {
  const i = seq++
  const res = await server.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: writeAuth, 'content-type': 'application/json' },
    payload: {
      userId: `user-${i % 500}`,
      anonymousId: `anon-${i % 700}`,
      event: EVENTS[i % 3],
      messageId: `m-${process.pid}-${i}`,
      timestamp: new Date().toISOString(),
      properties: { sku: `sku-${i % 97}`, price: (i % 50) + 0.99, currency: 'EUR' },
      context: { library: { name: 'analytics.js', version: '4.1.0' } },
    },
  })
  if (res.statusCode !== 200) throw new Error(`track: ${res.statusCode} ${res.body}`)
}
const preview = async () => {
  const res = await server.inject({
    method: 'POST',
    url: '/v1/templates/obs/preview',
    headers: { authorization: adminAuth, 'content-type': 'application/json' },
    payload: { profile: PROFILE, userId: 'ada' },
  })
  if (res.statusCode !== 200) throw new Error(`preview: ${res.statusCode} ${res.body}`)
}

/** `n` calls, `concurrency` in flight. */
async function drive(n: number, concurrency: number, fn: () => Promise<void>): Promise<void> {
  let left = n
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await fn()
    }),
  )
}

/** Calls started until `deadline` (performance.now()), `concurrency` in flight; how many. */
async function driveUntil(deadline: number, concurrency: number, fn: () => Promise<void>): Promise<number> {
  let n = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        n++
        await fn()
      }
    }),
  )
  return n
}

/**
 * With BENCH_TRACING_BARRIER set (tracing-cpu.ts runs a pair): says on stdout that this phase is
 * warmed up, and waits for the parent's go on stdin, which comes when both children of the pair are
 * ready. The two then measure the same phase over the same seconds: before, one child's render ran
 * while the other still ingested, and render CPU per request moved 679–1,674 µs between children of
 * one configuration.
 */
const lines = process.env.BENCH_TRACING_BARRIER ? createInterface({ input: process.stdin }) : undefined
const go = lines?.[Symbol.asyncIterator]()
/**
 * Waits at the pair's barrier; `rate` (calls/s this child just sustained) goes to the parent with
 * the ready message. Resolves with the number the parent's go carries (the equal load's rate), 0
 * when none.
 */
async function barrier(phase: string, rate?: number): Promise<number> {
  if (go === undefined) return 0
  process.stdout.write(`${JSON.stringify({ ready: phase, ...(rate === undefined ? {} : { rate }) })}\n`)
  const line = await go.next()
  return Number(String(line.value ?? '').split(' ')[1] ?? 0) || 0
}

/**
 * The calibration side's known cost (BENCH_TRACING_BURN_MICROS): that many µs of busy waiting on
 * the main thread before each call, no allocation, nothing else. What the bench reads for it, set
 * beside what it is, says how the method scales a cost added to the request path.
 */
const BURN_MICROS = Number(process.env.BENCH_TRACING_BURN_MICROS ?? 0)
/** Each phase measured a second time at equal load (measure()). */
const EQUAL_LOAD = process.env.BENCH_TRACING_EQUAL_LOAD === '1'
const burning = (fn: () => Promise<void>): (() => Promise<void>) =>
  BURN_MICROS > 0
    ? () => {
        const until = performance.now() + BURN_MICROS / 1000
        while (performance.now() < until) {}
        return fn()
      }
    : fn

/**
 * Calls at `rate` per second until `deadline` (open loop: started on a 1 ms timer whether or not
 * earlier ones are done, at most `cap` in flight); how many were started.
 */
async function driveAtRate(
  deadline: number,
  rate: number,
  cap: number,
  fn: () => Promise<void>,
): Promise<number> {
  const t0 = performance.now()
  let n = 0
  let inFlight = 0
  let failed: unknown
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now()
      if (failed !== undefined || now >= deadline) {
        if (inFlight === 0) resolve()
        else setTimeout(tick, 1)
        return
      }
      const due = Math.floor(((now - t0) / 1000) * rate)
      while (n < due && inFlight < cap) {
        n++
        inFlight++
        fn().then(
          () => {
            inFlight--
          },
          (err: unknown) => {
            inFlight--
            failed = err
          },
        )
      }
      setTimeout(tick, 1)
    }
    tick()
  })
  if (failed !== undefined) throw failed
  return n
}

/**
 * Until every consumer of the log applied the events: the processor and analytics. Waiting for the
 * processor alone left analytics' backlog to run inside the render figure (render CPU per request
 * moved 885–2,037 µs between children of one configuration) and outside the ingest one.
 */
async function processed(): Promise<void> {
  for (const group of [PROFILES_GROUP, ANALYTICS_GROUP])
    while ((await app.log.lag(group)) > 0) await new Promise((r) => setTimeout(r, 5))
}

/**
 * The first export of this thread's spans: what it loads on first use (the exporter's HTTP
 * transport) is then loaded before the measured calls, as in a server that has run for a while.
 */
async function flushSpans(): Promise<void> {
  const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as {
    forceFlush?: () => Promise<void>
  }
  await provider.forceFlush?.()
}

/**
 * CPU µs (all threads) and wall-clock rate per call of `fn`, in the steady state: after a warm-up
 * (JIT, SQLite's page cache, the first span export), not counted, calls for `seconds` (started at
 * the pair's barrier), then until `settle` says their work is done. With a short warm-up, one-time
 * costs made up a fifth of the figure and fell unevenly on the sides (a 1 %-sampled side paid its
 * first export inside the measured calls).
 *
 * Then, with BENCH_TRACING_EQUAL_LOAD=1, the same at equal load. Closed loop, a side that is slower
 * per call also runs at a lower rate, and this app's batches (the log's group commits, the
 * processor's and analytics' reads) are then smaller, so every event carries more of their fixed
 * cost: a cost added to the request path is read at more than its size. At one rate for both
 * children the processor's batches are alike, but below full throughput a busier HTTP thread lets
 * more requests gather per group commit, and the calibration's known cost was read at far less
 * than its size (docs/benchmarks.md, "Tracing overhead", tenth session): a diagnostic, off by
 * default.
 */
async function measure(
  phase: string,
  seconds: number,
  warmUp: number,
  concurrency: number,
  call: () => Promise<void>,
  settle: () => Promise<void>,
) {
  const fn = burning(call)
  await drive(warmUp, concurrency, fn)
  await settle()
  await flushSpans()
  await barrier(phase)
  const closed = await timed(settle, () => {
    const t0 = performance.now()
    return driveUntil(t0 + seconds * 1000, concurrency, fn)
  })
  if (!EQUAL_LOAD) return { ...closed, equalLoad: undefined }
  // The same phase again at equal load: both children of the pair at one rate, set by the parent
  // below the slower one's closed-loop rate (without a pair: 0.9 of this child's own).
  await flushSpans()
  const rate =
    (await barrier(`${phase} at equal load`, closed.perSecond)) || Math.round(closed.perSecond * 0.9)
  const equal = await timed(settle, () =>
    driveAtRate(performance.now() + seconds * 1000, rate, 4 * concurrency, fn),
  )
  return { ...closed, equalLoad: { ...equal, rate } }
}

/** CPU µs (all threads) per call and calls/s of `run` (which says how many calls it made), until settled. */
async function timed(settle: () => Promise<void>, run: () => Promise<number>) {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const n = await run()
  await settle()
  const cpu = process.cpuUsage(cpu0)
  const elapsed = (performance.now() - t0) / 1000
  return { cpuMicros: (cpu.user + cpu.system) / n, perSecond: n / elapsed }
}

/**
 * The floor of one traced request with the tracer as registered (src/observe/span-recorder.ts since
 * 2026-11-30, the OpenTelemetry SDK before: sampler, batch span
 * processor, OTLP exporter): CPU µs (all threads) per span shaped like a request's (server kind,
 * the same attributes, a status code set at the end), started, ended and exported, nothing else.
 * Undefined with tracing off. Set beside the baseline's CPU per event, it says how much of the 5 %
 * budget the tracer itself takes before any of the instrumentation's own work.
 */
async function spanFloor(n: number): Promise<number | undefined> {
  const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate()
  if (!('forceFlush' in provider)) return undefined
  const tracer = provider.getTracer('inkstream-bench')
  const one = (i: number) => {
    const span = tracer.startSpan('POST /v1/track', {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': 'POST', 'http.route': '/v1/track', 'http.request.id': `req-${i}` },
    })
    span.setAttribute('http.response.status_code', 200)
    span.end()
  }
  for (let i = 0; i < n / 2; i++) one(i)
  await flushSpans()
  const cpu0 = process.cpuUsage()
  // In slices of 500, each exported before the next: every span is encoded and sent (made faster
  // than they are sent, the spans past the full queue were dropped, and cost less than a sent one).
  for (let at = 0; at < n; at += 500) {
    for (let i = at; i < Math.min(n, at + 500); i++) one(i)
    await flushSpans()
  }
  await flushSpans()
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) / n
}

try {
  const put = await server.inject({
    method: 'PUT',
    url: '/v1/templates/obs',
    headers: { authorization: adminAuth, 'content-type': 'application/json' },
    payload: TEMPLATE,
  })
  if (put.statusCode >= 300) throw new Error(`template: ${put.statusCode} ${put.body}`)
  const ingest = await measure('ingest', INGEST_SECONDS, INGEST_WARM_UP, 32, track, processed)
  const render = await measure('render', RENDER_SECONDS, RENDER_WARM_UP, 8, preview, async () => {})
  const spanCpuMicros = await spanFloor(SPANS)
  process.stdout.write(
    `${JSON.stringify({
      ...(spanCpuMicros === undefined ? {} : { spanCpuMicros }),
      ingestCpuMicros: ingest.cpuMicros,
      renderCpuMicros: render.cpuMicros,
      ingestPerSecond: ingest.perSecond,
      renderPerSecond: render.perSecond,
      equalLoad: ingest.equalLoad &&
        render.equalLoad && {
          ingestCpuMicros: ingest.equalLoad.cpuMicros,
          renderCpuMicros: render.equalLoad.cpuMicros,
          ingestPerSecond: ingest.equalLoad.perSecond,
          renderPerSecond: render.equalLoad.perSecond,
          ingestRate: ingest.equalLoad.rate,
          renderRate: render.equalLoad.rate,
        },
    })}\n`,
  )
} finally {
  lines?.close()
  await app.close()
  rmSync(dataDir, { recursive: true, force: true })
}
