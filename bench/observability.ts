/**
 * observability: what ECS logging and OpenTelemetry tracing cost. Four `inkstream start` servers,
 * measured one at a time in interleaved rounds (bench/lib/ab.ts: the order rotates each round,
 * BENCH_ROUNDS rounds, 3 by default; ratios per round):
 * - baseline: INKSTREAM_LOG_LEVEL=silent, no OTLP endpoint (logging silent, tracing not registered);
 * - shipped: the default log level (info), no OTLP endpoint (observability as shipped);
 * - exporter: info, OTEL_EXPORTER_OTLP_ENDPOINT at a local receiver that discards what it gets;
 * - sampled: the same with OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1.
 * Workloads: ingest (POST /v1/track, one event each, 50 connections) and render (POST
 * /v1/templates/:id/preview with an inline profile: a Renderer.render with its span, 8 connections).
 * Metrics (prom-client) are on in all four. Also the server's CPU per request (steadier than
 * throughput on a loaded machine) and others' core use per sample. Goal (issue 12): each ratio to the baseline >= 0.95.
 */
import autocannon from 'autocannon'
import { requestId } from '../src/observe/logging.ts'
import { inSpan, startTracing } from '../src/observe/tracing.ts'
import { fmtSpread, interleaved, ratioPerRound, roundsFromEnv, type Sample, spread } from './lib/ab.ts'
import { cpuMeter, cpuSeconds, round, type ServerUnderTest, startInkstream } from './lib/children.ts'
import { BodyPool } from './lib/events.ts'
import { measureThroughput } from './lib/load.ts'
import {
  startDiscardingReceiver,
  TRACING_CONFIGS,
  type TracingConfig,
  tracingEnv,
} from './lib/otlp-receiver.ts'
import { counter, scrape } from './lib/prometheus.ts'
import { type BenchResult, waitUntil } from './lib/report.ts'

const GOAL = 0.95
const CONSUMER_LAG = 'inkstream_log_consumer_lag{group="profiles"}'
const CONFIGS = TRACING_CONFIGS
type ConfigName = TracingConfig

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
  const env = tracingEnv(receiver.url)
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
    const bodies = new BodyPool(undefined)
    const measureSide = async (name: ConfigName): Promise<Sample> => {
      const server = servers[name]
      for (const s of Object.values(servers)) await settled(s)
      let cpu0 = 0
      let meter = cpuMeter(server.pid)
      const spec = { path: '/v1/track', bodies, connections: 50, warmupSeconds: 2, seconds: 6 }
      const load = await measureThroughput(server, spec, async () => {
        await settled(server)
        cpu0 = cpuSeconds(server.pid) ?? 0
        meter = cpuMeter(server.pid)
      })
      const cpu = meter()
      if (load.non2xx > 0 || load.errors > 0) throw new Error(`${name}: ${load.non2xx} non-2xx on ingest`)
      // The processor's work for these events counts too: measured once it caught up.
      await settled(server)
      const ingestCpu = (((cpuSeconds(server.pid) ?? 0) - cpu0) / load.ok) * 1e6
      for (const s of Object.values(servers)) await settled(s)
      await previewRate(server, 2)
      cpu0 = cpuSeconds(server.pid) ?? 0
      const rendered = await previewRate(server, 6)
      const renderCpu = (((cpuSeconds(server.pid) ?? 0) - cpu0) / rendered.ok) * 1e6
      if (rendered.non2xx > 0) throw new Error(`${name}: ${rendered.non2xx} failed previews`)
      process.stderr.write(
        `observability: ${name}: ingest ${round(load.perSecond)} req/s (${round(ingestCpu)} CPU µs each), ` +
          `render ${round(rendered.perSecond)}/s (${round(renderCpu)} CPU µs each), others' cores ${cpu.otherCores}\n`,
      )
      const details = { render: rendered.perSecond, ingestCpu, renderCpu }
      return { value: load.perSecond, cpu, details }
    }
    const run = await interleaved(
      Object.fromEntries(CONFIGS.map((c) => [c, () => measureSide(c)])) as Record<
        ConfigName,
        () => Promise<Sample>
      >,
      roundsFromEnv(3),
    )
    const of = (c: ConfigName, key: 'render' | 'ingestCpu' | 'renderCpu') =>
      run.sides[c].samples.map((x) => x.details?.[key] as number)
    // Per round, side ÷ baseline (both ran back to back); throughput: 0.95 = 5 % fewer per second.
    // CPU per request: baseline ÷ side, the throughput kept when the server is CPU-bound.
    const versus = (c: Exclude<ConfigName, 'baseline'>) => ({
      ingest: ratioPerRound(run.sides[c], run.sides.baseline),
      render: spread(of(c, 'render').map((v, i) => round(v / of('baseline', 'render')[i]!, 4))),
      ingestCpuKept: spread(of(c, 'ingestCpu').map((v, i) => round(of('baseline', 'ingestCpu')[i]! / v, 4))),
      renderCpuKept: spread(of(c, 'renderCpu').map((v, i) => round(of('baseline', 'renderCpu')[i]! / v, 4))),
    })
    const ratios = { shipped: versus('shipped'), exporter: versus('exporter'), sampled: versus('sampled') }
    const medians = (key: 'render' | 'ingestCpu' | 'renderCpu') =>
      Object.fromEntries(CONFIGS.map((c) => [c, round(spread(of(c, key)).median)]))
    const worst = Math.min(...Object.values(ratios).flatMap((r) => [r.ingest.median, r.render.median]))
    const met = worst >= GOAL
    const line = (c: Exclude<ConfigName, 'baseline'>) =>
      `${c} ingest ${fmtSpread(ratios[c].ingest)} render ${fmtSpread(ratios[c].render)} ` +
      `(CPU kept ${ratios[c].ingestCpuKept.median.toFixed(3)} / ${ratios[c].renderCpuKept.median.toFixed(3)})`
    return {
      benchmark: 'observability',
      metric: 'ingest req/s and renders/s, observability on ÷ logging silent and tracing off',
      inkstream: Math.min(ratios.exporter.ingest.median, ratios.exporter.render.median),
      baseline: 1,
      ratio: worst,
      goal: `every ratio >= ${GOAL} (metrics + logging + tracing cost <= 5 %)`,
      met,
      details: {
        rounds: run.rounds,
        ratios,
        ingestPerSecond: Object.fromEntries(CONFIGS.map((c) => [c, round(run.sides[c].spread.median)])),
        renderPerSecond: medians('render'),
        cpuMicrosPerRequest: { ingest: medians('ingestCpu'), render: medians('renderCpu') },
        loadAverages: run.loadAverages,
        worstOtherCores: run.worstOtherCores,
        samples: run.sides,
        hotPathNs: await hotPath(receiver.url),
        exported: receiver.counts(),
      },
      summary:
        `observability (${run.rounds} interleaved rounds, ratio to logging silent + tracing off, median (min–max)): ` +
        `${line('shipped')}; ${line('exporter')}; ${line('sampled')}; ` +
        `load ${run.loadAverages.join('/')}; goal >= ${GOAL}: ${met ? 'MET' : 'NOT MET'}`,
    }
  } finally {
    for (const s of Object.values(servers)) await s.stop()
    await receiver.close()
  }
}
