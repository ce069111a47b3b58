/**
 * observability: what ECS logging and OpenTelemetry tracing cost. Three `inkstream start` servers,
 * measured one at a time in interleaved rounds (the order rotates each round):
 * - baseline: INKSTREAM_LOG_LEVEL=silent, no OTLP endpoint (logging silent, tracing not registered);
 * - shipped: the default log level (info), no OTLP endpoint (observability as shipped);
 * - exporter: info, OTEL_EXPORTER_OTLP_ENDPOINT at a local receiver that discards what it gets.
 * Workloads: ingest (POST /v1/track, one event each, 50 connections) and render (POST
 * /v1/templates/:id/preview with an inline profile: a Renderer.render with its span, 8 connections).
 * Metrics (prom-client) are on in all three. Goal (issue 12): each ratio to the baseline >= 0.95.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import autocannon from 'autocannon'
import { requestId } from '../src/observe/logging.ts'
import { inSpan, startTracing } from '../src/observe/tracing.ts'
import { cpuSeconds, round, type ServerUnderTest, startInkstream } from './lib/children.ts'
import { BodyPool } from './lib/events.ts'
import { measureThroughput } from './lib/load.ts'
import { counter, scrape } from './lib/prometheus.ts'
import { type BenchResult, waitUntil } from './lib/report.ts'

const GOAL = 0.95
const ROUNDS = Number(process.env.BENCH_OBS_ROUNDS ?? 3)
const CONSUMER_LAG = 'inkstream_log_consumer_lag{group="profiles"}'
const CONFIGS = ['baseline', 'shipped', 'exporter', 'sampled'] as const
type ConfigName = (typeof CONFIGS)[number]

const TEMPLATE = {
  subject: 'Hi {{ first_name | default: "there" }}',
  html: `<html><body><h1>Hi {{ first_name | default: "there" }},</h1>
<p>You left {{ last_cart_product.name | default: "something" }} ({{ last_cart_product.price }} EUR) in your cart.</p>
<p>Orders in the last 30 days: {{ orders_30d | default: 0 }}. Shipping to {{ location.city | default: "you" }}.</p>
{% for p in recent_products %}<p><a href="{{ p.url }}">{{ p.name }}</a> — {{ p.price }} EUR</p>{% endfor %}
<p>{{ nickname | default: "friend" }} · <a href="https://shop.example/u">Unsubscribe</a></p></body></html>`,
}
const PROFILE = {
  first_name: 'Ada',
  orders_30d: 3,
  location: { city: 'Lyon' },
  last_cart_product: { name: 'Desk lamp', price: 49 },
  recent_products: Array.from({ length: 5 }, (_, i) => ({
    name: `Product ${i}`,
    url: `https://shop.example/p/${i}`,
    price: 10 + i,
  })),
}

/** A local OTLP/HTTP endpoint that reads and drops every export, counting them. */
async function startDiscardingReceiver() {
  let exports = 0
  let bytes = 0
  const server = createServer((req, res) => {
    req.on('data', (c: Buffer) => {
      bytes += c.length
    })
    req.on('end', () => {
      exports++
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ exports, bytes }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

/** Renders/s through the preview route: a warm-up, then a fixed-duration run. */
function previewRate(
  server: ServerUnderTest,
  seconds: number,
): Promise<{ ok: number; perSecond: number; non2xx: number }> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${server.url}/v1/templates/obs/preview`,
        connections: 8,
        duration: seconds,
        method: 'POST',
        headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ profile: PROFILE, userId: 'ada' }),
      },
      (err, result) =>
        err
          ? reject(err)
          : resolve({
              ok: result['2xx'],
              perSecond: result['2xx'] / seconds,
              non2xx: result.non2xx + result.errors,
            }),
    )
  })
}

async function settled(server: ServerUnderTest): Promise<void> {
  const ok = await waitUntil(async () => counter(await scrape(server.url), CONSUMER_LAG) === 0, 120_000, 200)
  if (!ok) throw new Error(`${server.name}: the processor did not catch up`)
}

const perConfig = () =>
  Object.fromEntries(CONFIGS.map((c) => [c, []])) as unknown as Record<ConfigName, number[]>
/** ns per call of `fn`, median of 5 runs of `n` calls (in this process: steady on a busy machine). */
async function nsPerCall(n: number, fn: () => unknown): Promise<number> {
  const runs: number[] = []
  for (let k = 0; k < 5; k++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await fn()
    runs.push(Number(process.hrtime.bigint() - t0) / n)
  }
  return median(runs)
}

/**
 * What the added code costs per request in the server's hot path, measured in this process: the
 * request id and the span helper (a new trace), with tracing off and on. Only what every revision
 * has: compare.ts runs this file against older ones too.
 */
async function hotPath(receiverUrl: string) {
  const noop = async () => undefined
  const req = { headers: {} } as never
  const attributes = () => ({ 'inkstream.events': 1 })
  const off = {
    direct: await nsPerCall(200_000, noop),
    inSpan: await nsPerCall(200_000, () => inSpan('x', { root: true, attributes }, noop)),
    requestId: await nsPerCall(200_000, () => requestId(req)),
  }
  const tracing = await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl })
  try {
    const on = {
      inSpan: await nsPerCall(20_000, () => inSpan('x', { root: true, attributes }, noop)),
    }
    return { off, on }
  } finally {
    await tracing?.shutdown()
  }
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
}

export async function observability(): Promise<BenchResult> {
  const receiver = await startDiscardingReceiver()
  const env: Record<ConfigName, Record<string, string>> = {
    baseline: { INKSTREAM_LOG_LEVEL: 'silent', OTEL_EXPORTER_OTLP_ENDPOINT: '' },
    shipped: { INKSTREAM_LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: '' },
    exporter: { INKSTREAM_LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    // The SDK's standard sampler variables: one trace in ten recorded and exported.
    sampled: {
      INKSTREAM_LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    },
  }
  const servers = {} as Record<ConfigName, ServerUnderTest>
  try {
    for (const name of CONFIGS) {
      const s = await startInkstream({ ...env[name], OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' })
      servers[name] = s
      const res = await fetch(`${s.url}/v1/templates/obs`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(TEMPLATE),
      })
      if (res.status >= 300) throw new Error(`template: ${res.status} ${await res.text()}`)
    }
    const ingest: Record<ConfigName, number[]> = perConfig()
    const render: Record<ConfigName, number[]> = perConfig()
    // Server CPU (all its threads) per request: steadier than throughput on a busy machine.
    const ingestCpu: Record<ConfigName, number[]> = perConfig()
    const renderCpu: Record<ConfigName, number[]> = perConfig()
    const bodies = new BodyPool(undefined)
    for (let r = 0; r < ROUNDS; r++) {
      const order = CONFIGS.map((_, i) => CONFIGS[(i + r) % CONFIGS.length]!)
      for (const name of order) {
        const server = servers[name]
        for (const s of Object.values(servers)) await settled(s)
        let cpu0 = 0
        const spec = { path: '/v1/track', bodies, connections: 50, warmupSeconds: 2, seconds: 6 }
        const load = await measureThroughput(server, spec, async () => {
          await settled(server)
          cpu0 = cpuSeconds(server.pid) ?? 0
        })
        if (load.non2xx > 0 || load.errors > 0) throw new Error(`${name}: ${load.non2xx} non-2xx on ingest`)
        // The processor's work for these events counts too: measured once it caught up.
        await settled(server)
        ingestCpu[name].push((((cpuSeconds(server.pid) ?? 0) - cpu0) / load.ok) * 1e6)
        ingest[name].push(load.perSecond)
        for (const s of Object.values(servers)) await settled(s)
        await previewRate(server, 2)
        cpu0 = cpuSeconds(server.pid) ?? 0
        const rendered = await previewRate(server, 6)
        renderCpu[name].push((((cpuSeconds(server.pid) ?? 0) - cpu0) / rendered.ok) * 1e6)
        if (rendered.non2xx > 0) throw new Error(`${name}: ${rendered.non2xx} failed previews`)
        render[name].push(rendered.perSecond)
        process.stderr.write(
          `observability: round ${r + 1} ${name}: ingest ${round(load.perSecond)} req/s ` +
            `(${round(ingestCpu[name].at(-1)!)} CPU µs each), render ${round(rendered.perSecond)}/s ` +
            `(${round(renderCpu[name].at(-1)!)} CPU µs each)\n`,
        )
      }
    }
    const m = (xs: Record<ConfigName, number[]>) =>
      Object.fromEntries(CONFIGS.map((c) => [c, round(median(xs[c]))])) as Record<ConfigName, number>
    const ingestMedian = m(ingest)
    const renderMedian = m(render)
    const ingestCpuMedian = m(ingestCpu)
    const renderCpuMedian = m(renderCpu)
    const versus = (med: Record<ConfigName, number>) =>
      Object.fromEntries(CONFIGS.slice(1).map((c) => [c, round(med[c] / med.baseline, 3)])) as Record<
        Exclude<ConfigName, 'baseline'>,
        number
      >
    // Throughput relative to the baseline (0.95 = 5 % fewer per second).
    const ratios = { ingest: versus(ingestMedian), render: versus(renderMedian) }
    // CPU per request relative to the baseline (1.05 = 5 % more CPU per request).
    const cpuRatios = { ingest: versus(ingestCpuMedian), render: versus(renderCpuMedian) }
    const worst = Math.min(...Object.values(ratios.ingest), ...Object.values(ratios.render))
    const met = worst >= GOAL
    return {
      benchmark: 'observability',
      metric: 'ingest req/s and renders/s, observability on ÷ logging silent and tracing off',
      inkstream: Math.min(ratios.ingest.exporter, ratios.render.exporter),
      baseline: 1,
      ratio: worst,
      goal: `every ratio >= ${GOAL} (metrics + logging + tracing cost <= 5 %)`,
      met,
      details: {
        rounds: ROUNDS,
        ingest: { medians: ingestMedian, perRound: ingest },
        render: { medians: renderMedian, perRound: render },
        ratios,
        cpuMicrosPerRequest: {
          ingest: ingestCpuMedian,
          render: renderCpuMedian,
          perRound: { ingestCpu, renderCpu },
        },
        cpuRatios,
        hotPathNs: await hotPath(receiver.url),
        exported: receiver.counts(),
      },
      summary:
        `observability (medians of ${ROUNDS} interleaved rounds): ingest ${ingestMedian.baseline} req/s ` +
        `baseline; × shipped ${ratios.ingest.shipped}, exporter ${ratios.ingest.exporter}, sampled 10 % ` +
        `${ratios.ingest.sampled}; render ${renderMedian.baseline}/s baseline; × ${ratios.render.shipped}, ` +
        `${ratios.render.exporter}, ${ratios.render.sampled}; CPU per request × ingest ` +
        `${Object.values(cpuRatios.ingest).join(' / ')}, render ${Object.values(cpuRatios.render).join(' / ')}; ` +
        `goal >= ${GOAL}: ${met ? 'MET' : 'NOT MET'}`,
    }
  } finally {
    for (const s of Object.values(servers)) await s.stop()
    await receiver.close()
  }
}
