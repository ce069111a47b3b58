/**
 * healthz (issue 14): is the HTTP event loop free while renders run? `/healthz` round trips, one
 * every PROBE_GAP_MS on one keep-alive socket, on an Inkstream server that is idle, and on the same
 * server while BENCH_HEALTHZ_PREVIEWS (200) previews stay in flight, each waiting for a slow
 * connected-content source (answers after 300 ms; every preview its own URL, so no cache hit) and
 * then rendering a 4-part template. Interleaved rounds (bench/lib/ab.ts): idle and loaded alternate,
 * rotating order. The previews and the source run in a child process (bench/healthz-load.ts) so this
 * process, the prober, stays quiet.
 *
 * Goal: loaded /healthz p99 ≤ 10 ms (median over rounds); the ratio is loaded p99 ÷ idle p99 of the
 * same round. BENCH_HEALTHZ_SECONDS (4) per side per round; BENCH_ROUNDS (3).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fmtSpread, interleaved, ratioPerRound, roundsFromEnv, type Sample } from './lib/ab.ts'
import { cpuMeter, cpuSeconds, ROOT, round, startInkstream } from './lib/children.ts'
import { type BenchResult, noiseWarning } from './lib/report.ts'

const SECONDS = Number(process.env.BENCH_HEALTHZ_SECONDS ?? 4)
const PREVIEWS = Number(process.env.BENCH_HEALTHZ_PREVIEWS ?? 200)
const PROBE_GAP_MS = 10
/** The previews are all in flight before the probes start. */
const RAMP_MS = 1_000
const GOAL_P99_MS = 10

/** Four parts, as a campaign message: subject, preheader, HTML with a loop, generated text. */
const TEMPLATE = (sourceHost: string) => ({
  subject: 'Picked for you, {{ first_name }}',
  preheader: 'Our {{ recs.items | size }} picks of the week',
  html: `{% connected_content http://${sourceHost}/recs?n={{ n }} :save recs :timeout 2000 %}
<h1>Hello {{ first_name | default: "there" }}</h1><h2>{{ recs.title }}</h2>
<ul>{% for item in recs.items %}<li>{{ item | upcase }} — {{ forloop.index }}</li>{% endfor %}</ul>
{% for i in (1..20) %}<p>Row {{ i }} for {{ first_name }}: <a href="https://shop.example/{{ i }}">see it</a></p>{% endfor %}`,
})

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

/** /healthz round trips for `ms`, one at a time with PROBE_GAP_MS between them. */
async function probe(url: string, ms: number): Promise<{ rtts: number[]; failed: number }> {
  const { hostname, port } = new URL(url)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const rtts: number[] = []
  let failed = 0
  const end = performance.now() + ms
  while (performance.now() < end) {
    const t0 = performance.now()
    const ok = await new Promise<boolean>((resolve) => {
      const req = request({ hostname, port, agent, path: '/healthz' }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode === 200))
      })
      req.on('error', () => resolve(false))
      req.end()
    })
    if (ok) rtts.push(performance.now() - t0)
    else failed += 1
    await new Promise((r) => setTimeout(r, PROBE_GAP_MS))
  }
  agent.destroy()
  return { rtts, failed }
}

function summary(rtts: number[]) {
  const sorted = [...rtts].sort((a, b) => a - b)
  return {
    probes: sorted.length,
    p50Ms: round(percentile(sorted, 50), 2),
    p99Ms: round(percentile(sorted, 99), 2),
    maxMs: round(sorted.at(-1) ?? Number.NaN, 2),
  }
}

export async function healthz(): Promise<BenchResult> {
  const load = spawn(process.execPath, ['--import', 'tsx', 'bench/healthz-load.ts'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: load.stdout! })[Symbol.asyncIterator]()
  const nextLine = async () => {
    const r = await lines.next()
    if (r.done) throw new Error('bench/healthz-load.ts ended early')
    return r.value
  }
  const dir = mkdtempSync(join(tmpdir(), 'inkstream-healthz-'))
  let ink: Awaited<ReturnType<typeof startInkstream>> | undefined
  try {
    const sourceHost = (await nextLine()).replace(/^ready /, '')
    const contentFile = join(dir, 'content.json')
    writeFileSync(contentFile, JSON.stringify({ connectedContent: { allowHosts: [sourceHost] } }))
    ink = await startInkstream({ INKSTREAM_CONTENT_FILE: contentFile })
    const server = ink
    const put = await fetch(`${server.url}/v1/templates/slow`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(TEMPLATE(sourceHost)),
    })
    if (put.status >= 300) throw new Error(`saving the template: ${put.status} ${await put.text()}`)
    // Warm both paths (first requests load code) before measuring.
    await probe(server.url, 500)
    load.stdin!.write(`go ${server.url} ${server.adminKey} ${PREVIEWS} 2\n`)
    await nextLine()

    const sides = {
      idle: async (): Promise<Sample> => {
        const cpu = cpuMeter(server.pid)
        const { rtts, failed } = await probe(server.url, SECONDS * 1000)
        const s = summary(rtts)
        return { value: s.p99Ms, cpu: cpu(), details: { ...s, failed } }
      },
      loaded: async (): Promise<Sample> => {
        const loadCpu0 = cpuSeconds(load.pid!)
        load.stdin!.write(`go ${server.url} ${server.adminKey} ${PREVIEWS} ${SECONDS + RAMP_MS / 1000}\n`)
        const finished = nextLine()
        await new Promise((r) => setTimeout(r, RAMP_MS))
        const cpu = cpuMeter(server.pid)
        const { rtts, failed } = await probe(server.url, SECONDS * 1000)
        const use = cpu()
        const previews = JSON.parse(await finished) as { previews: number; ok: number; failed: number }
        const loadCpu1 = cpuSeconds(load.pid!)
        const loadCores =
          loadCpu0 === undefined || loadCpu1 === undefined
            ? null
            : round((loadCpu1 - loadCpu0) / (SECONDS + RAMP_MS / 1000), 2)
        const s = summary(rtts)
        return {
          value: s.p99Ms,
          cpu: use,
          details: {
            ...s,
            failed,
            previews,
            previewsPerSecond: round(previews.ok / (SECONDS + RAMP_MS / 1000)),
            loadChildCores: loadCores,
            // otherCores counts the preview child too (another process); without it:
            otherCoresBesidesLoad:
              use.otherCores === null || loadCores === null
                ? null
                : round(Math.max(0, use.otherCores - loadCores), 2),
          },
        }
      },
    }
    const r = await interleaved(sides, roundsFromEnv(3))
    const ratio = ratioPerRound(r.sides.loaded, r.sides.idle)
    const loadedP99 = r.sides.loaded.spread
    const met = loadedP99.median <= GOAL_P99_MS
    return {
      benchmark: 'healthz',
      metric: `/healthz p99 ms: while ${PREVIEWS} previews wait for a 300 ms source and render (inkstream) vs idle (baseline)`,
      inkstream: loadedP99.median,
      baseline: r.sides.idle.spread.median,
      ratio: ratio.median,
      goal: `loaded /healthz p99 ≤ ${GOAL_P99_MS} ms`,
      met,
      details: {
        rounds: r.rounds,
        loadedP99Ms: loadedP99,
        idleP99Ms: r.sides.idle.spread,
        ratioLoadedToIdle: ratio,
        loadAverages: r.loadAverages,
        worstOtherCores: r.worstOtherCores,
        samples: r.sides,
      },
      summary:
        `healthz: /healthz p99 ${fmtSpread(loadedP99, 1)} ms with ${PREVIEWS} previews in flight vs ` +
        `${fmtSpread(r.sides.idle.spread, 1)} ms idle; ratio ${fmtSpread(ratio, 2)}; goal p99 ≤ ${GOAL_P99_MS} ms: ` +
        `${met ? 'met' : 'NOT met'}${noiseWarning({ otherCores: r.worstOtherCores })}`,
    }
  } finally {
    load.stdin!.end()
    load.kill()
    await ink?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
