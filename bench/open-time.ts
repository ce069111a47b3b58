/**
 * open-time (issue 11): latency of `/o/<token>/<block>.png`, `.json` and `/view` at a steady,
 * open-loop request rate (one request every 1/rate s whether or not earlier ones were answered),
 * against a bare node:http server serving a static PNG of the same size and bytes, in the same run,
 * in interleaved rounds.
 *
 * - cached: the same token (one recipient) over and over: the block cache (layer 1) and the profile
 *   cache answer; the JSON and the view still run the Liquid render (they are not cached per
 *   recipient, by design: see docs/architecture.md, "Open-time content").
 * - uncached: a different recipient (its own profile and product name) for every request: the
 *   profile is read from the store, the block rendered and the PNG drawn (satori + resvg).
 * - hanging: a block whose connected-content source accepts the connection and never answers:
 *   every answer must be due by the deadline (p100 ≤ deadlineMs + 25 ms).
 *
 * Goals (issue 11): cached p99 ≤ 10 ms; uncached PNG p99 ≤ 80 ms; uncached JSON p99 ≤ 20 ms; with a
 * hanging source p100 ≤ deadline + 25 ms. Rates: BENCH_OPEN_RATE (cached and baseline, default
 * 500/s), BENCH_OPEN_MISS_RATE (uncached JSON and view, default 200/s), BENCH_OPEN_MISS_PNG_RATE
 * (uncached PNG, default 20/s: every one is a full draw, ~25-30 ms of one core, on one event loop), BENCH_OPEN_ROUNDS (3),
 * BENCH_OPEN_SECONDS (4 per scenario per round).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { type TokenKeyRow, tokenKeysFromRows } from '../src/delivery/token-keys.ts'
import { createTokenCodec, type TokenCodec } from '../src/delivery/tokens.ts'
import { cpuMeter, ROOT, round, type ServerUnderTest, startInkstream } from './lib/children.ts'
import { basicAuth } from './lib/events.ts'
import { scrape } from './lib/prometheus.ts'
import { type BenchResult, fmt, noiseWarning, waitUntil } from './lib/report.ts'

const num = (name: string, dflt: number) => {
  const v = Number(process.env[name] ?? dflt)
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`)
  return v
}
const RATE = num('BENCH_OPEN_RATE', 500)
const MISS_RATE = num('BENCH_OPEN_MISS_RATE', 200)
const MISS_PNG_RATE = num('BENCH_OPEN_MISS_PNG_RATE', 20)
const HANG_RATE = 100
const ROUNDS = num('BENCH_OPEN_ROUNDS', 3)
const SECONDS = num('BENCH_OPEN_SECONDS', 4)
const DEADLINE_MS = 250
const DAY = 86_400_000

const GOALS = { cachedP99: 10, uncachedPngP99: 80, uncachedJsonP99: 20, hangingP100: DEADLINE_MS + 25 }

const TEMPLATE = (slowUrl: string) => ({
  subject: 'Still thinking about it?',
  html: `<p>Hello {{ first_name | default: "there" }}</p>
{% live "hero" width: 600, height: 240 %}<div style="display:flex;flex-direction:column;justify-content:center;width:600px;height:240px;background:#fff4e0;padding:24px"><span style="font-size:30px">Still thinking about {{ last_viewed_product.name }}?</span><span style="font-size:18px;color:#555">Now {{ last_viewed_product.price }} EUR, {{ first_name }}.</span></div>{% fallback %}Our new arrivals are in.{% endlive %}
{% live "slow" width: 600, height: 240 %}{% connected_content ${slowUrl} :save s :timeout 5000 %}<div style="display:flex;width:600px;height:240px"><span>{{ s.title }}</span></div>{% fallback %}Today's picks are in the shop.{% endlive %}
<p><a href="{{ view_url }}">View in your browser</a></p>`,
})

interface Run {
  sent: number
  status: Record<string, number>
  /** Answers with x-ink-fallbacks > 0 (data late or missing, or the drawing lost the race). */
  fallbacks: number
  errors: number
  rttMs: number[]
  maxLateMs: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Open-loop GETs: one every 1000/rate ms for `seconds`; every round trip recorded. */
async function pacedGet(
  base: string,
  pathOf: (i: number) => string,
  rate: number,
  seconds: number,
): Promise<Run> {
  const { hostname, port } = new URL(base)
  const agent = new Agent({ keepAlive: true, maxSockets: 512 })
  const run: Run = { sent: 0, status: {}, fallbacks: 0, errors: 0, rttMs: [], maxLateMs: 0 }
  const one = (path: string) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now()
      const req = request({ hostname, port, path, agent }, (res) => {
        res.resume()
        res.on('end', () => {
          run.rttMs.push(performance.now() - t0)
          const s = String(res.statusCode)
          run.status[s] = (run.status[s] ?? 0) + 1
          if (Number(res.headers['x-ink-fallbacks'] ?? 0) > 0) run.fallbacks++
          resolve()
        })
      })
      req.on('error', () => {
        run.errors++
        resolve()
      })
      req.end()
    })
  const interval = 1000 / rate
  const ticks = Math.round(seconds * rate)
  const inFlight: Promise<void>[] = []
  const start = performance.now()
  for (let i = 0; i < ticks; i++) {
    const due = start + i * interval
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    run.maxLateMs = Math.max(run.maxLateMs, performance.now() - due)
    inFlight.push(one(pathOf(i)))
    run.sent++
  }
  await Promise.all(inFlight)
  agent.destroy()
  return run
}

const pct = (sorted: readonly number[], q: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number)

interface Stats {
  rate: number
  requests: number
  p50: number
  p99: number
  max: number
  status: Record<string, number>
  fallbacks: number
  errors: number
  /** The sender's own worst lateness against its schedule (its jitter, not the server's). */
  senderMaxLateMs: number
  p99ByRound: number[]
}

function merge(runs: readonly Run[], rate: number): Stats {
  const all = runs.flatMap((r) => r.rttMs).sort((a, b) => a - b)
  const status: Record<string, number> = {}
  for (const r of runs) for (const [k, v] of Object.entries(r.status)) status[k] = (status[k] ?? 0) + v
  return {
    rate,
    requests: all.length,
    p50: round(pct(all, 0.5), 2),
    p99: round(pct(all, 0.99), 2),
    max: round(all.at(-1) ?? Number.NaN, 2),
    status,
    fallbacks: runs.reduce((n, r) => n + r.fallbacks, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    senderMaxLateMs: round(Math.max(...runs.map((r) => r.maxLateMs)), 1),
    p99ByRound: runs.map((r) =>
      round(
        pct(
          [...r.rttMs].sort((a, b) => a - b),
          0.99,
        ),
        2,
      ),
    ),
  }
}

/** The child's data dir, from its environment (startInkstream picks it; /proc, Linux only as the rest of the bench). */
function dataDirOf(pid: number): string {
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
  const dir = env.find((e) => e.startsWith('INKSTREAM_DATA_DIR='))?.slice('INKSTREAM_DATA_DIR='.length)
  if (dir === undefined) throw new Error('no INKSTREAM_DATA_DIR in the server environment')
  return dir
}

/** The server's own link-signing keys (read-only), so the bench signs open-time tokens as deliver() does. */
function codecOf(server: ServerUnderTest): TokenCodec {
  const db = new Database(join(dataDirOf(server.pid), 'inkstream.db'), { readonly: true })
  try {
    const rows = db
      .prepare('SELECT kid, secret FROM token_keys ORDER BY created_at, kid')
      .all() as TokenKeyRow[]
    return createTokenCodec({ ...tokenKeysFromRows(rows), clock: { now: () => Date.now() } })
  } finally {
    db.close()
  }
}

async function call(server: ServerUnderTest, method: string, path: string, body: unknown, auth: string) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return res
}

/** Starts bench/bare-png-server.ts serving `file`. */
async function startBarePng(file: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-png-server.ts', file], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const kill = () => child.kill('SIGKILL')
  process.once('exit', kill)
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /listening at (http:\/\/\S+)\n/.exec(out)
      if (m?.[1]) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`bare PNG server exited (${code})`)))
  })
  return {
    url,
    pid: child.pid as number,
    stop: async () => {
      process.off('exit', kill)
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}

export async function openTime(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'inkstream-bench-open-'))
  // A source that accepts connections and never answers.
  const hanging = createServer(() => {})
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r))
  const host = `127.0.0.1:${(hanging.address() as AddressInfo).port}`
  const contentFile = join(dir, 'content.json')
  writeFileSync(
    contentFile,
    JSON.stringify({
      connectedContent: { allowHosts: [host] },
      openTime: { deadlineMs: DEADLINE_MS, cacheTtlSeconds: 30 },
    }),
  )
  const ink = await startInkstream({ INKSTREAM_CONTENT_FILE: contentFile })
  let bare: Awaited<ReturnType<typeof startBarePng>> | undefined
  try {
    const admin = `Bearer ${ink.adminKey}`
    const write = basicAuth(ink.writeKey)
    const put = await call(ink, 'PUT', '/v1/templates/bench-live', TEMPLATE(`http://${host}/hang`), admin)
    const { version } = (await put.json()) as { version: number }

    // Recipients: one for the cached runs, one fresh one per uncached request.
    const missCount = Math.ceil(ROUNDS * SECONDS * (MISS_PNG_RATE + 2 * MISS_RATE)) + 10
    const users = ['u-hit', ...Array.from({ length: missCount }, (_, i) => `u${i}`)]
    process.stderr.write(`bench: open-time: identifying ${users.length} recipients\n`)
    for (let i = 0; i < users.length; i += 500) {
      const batch = users.slice(i, i + 500).flatMap((userId, j) => [
        { type: 'identify', userId, traits: { firstName: `Reader ${i + j}` } },
        {
          type: 'track',
          userId,
          event: 'Product Viewed',
          properties: {
            product_id: `p${i + j}`,
            name: `Walnut lamp no. ${i + j}`,
            price: 40 + ((i + j) % 60),
          },
        },
      ])
      await call(ink, 'POST', '/v1/batch', { batch }, write)
    }
    const drained = await waitUntil(
      async () =>
        ((await (await fetch(`${ink.url}/healthz`)).json()) as { consumerLag: number }).consumerLag === 0,
      120_000,
    )
    if (!drained) throw new Error('the processor did not catch up with the identify events')

    const codec = codecOf(ink)
    let message = 0
    const token = (recipient: string) => {
      message += 1
      return codec.sign(
        {
          kind: 'open-time',
          workspaceId: 'default',
          campaignId: 'bench',
          recipient,
          messageId: `bench-${message}`,
          templateId: 'bench-live',
          version,
        },
        DAY,
      )
    }
    const hit = token('u-hit')
    let nextMiss = 0
    const missPath = (suffix: string) => () => `/o/${token(`u${nextMiss++}`)}/${suffix}`

    // The baseline serves exactly the bytes Inkstream draws for the cached block.
    const png = Buffer.from(await (await fetch(`${ink.url}/o/${hit}/hero.png`)).arrayBuffer())
    const pngFile = join(dir, 'hero.png')
    writeFileSync(pngFile, png)
    bare = await startBarePng(pngFile)

    const scenarios = [
      { name: 'baseline png', base: bare.url, path: () => '/static.png', rate: RATE },
      { name: 'cached png', base: ink.url, path: () => `/o/${hit}/hero.png`, rate: RATE },
      { name: 'cached json', base: ink.url, path: () => `/o/${hit}/hero.json`, rate: RATE },
      { name: 'cached view', base: ink.url, path: () => `/o/${hit}/view`, rate: RATE },
      { name: 'uncached png', base: ink.url, path: missPath('hero.png'), rate: MISS_PNG_RATE },
      { name: 'uncached json', base: ink.url, path: missPath('hero.json'), rate: MISS_RATE },
      { name: 'uncached view', base: ink.url, path: missPath('view'), rate: MISS_RATE },
      { name: 'hanging source png', base: ink.url, path: () => `/o/${hit}/slow.png`, rate: HANG_RATE },
      { name: 'hanging source json', base: ink.url, path: () => `/o/${hit}/slow.json`, rate: HANG_RATE },
    ] as const

    // Warm-up: JIT, fonts, caches (not measured).
    for (const s of scenarios.slice(0, 4)) await pacedGet(s.base, s.path, 200, 1)

    // Block-cache lookups per scenario (layer png|fallback, result hit|miss): shows a "cached" run
    // hit and an "uncached" one missed, rather than assuming it.
    const cacheSamples = async () =>
      [...(await scrape(ink.url)).entries()].filter(([k]) => k.startsWith('inkstream_open_time_cache_total'))
    const blockCache: Record<string, Record<string, number>> = Object.fromEntries(
      scenarios.map((s) => [s.name, {}]),
    )
    const cacheDelta = (before: [string, number][], after: [string, number][]) => {
      const b = new Map(before)
      return Object.fromEntries(
        after
          .map(([k, v]) => [k.replace(/^inkstream_open_time_cache_total/, ''), v - (b.get(k) ?? 0)] as const)
          .filter(([, d]) => d > 0),
      )
    }
    const runs = new Map<string, Run[]>(scenarios.map((s) => [s.name, []]))
    const cpu: Record<string, ReturnType<ReturnType<typeof cpuMeter>>[]> = Object.fromEntries(
      scenarios.map((s) => [s.name, []]),
    )
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of scenarios) {
        process.stderr.write(`bench: open-time: round ${r + 1}/${ROUNDS} ${s.name} at ${s.rate}/s\n`)
        const meter = cpuMeter(s.base === bare.url ? bare.pid : ink.pid)
        const before = await cacheSamples()
        runs.get(s.name)?.push(await pacedGet(s.base, s.path, s.rate, SECONDS))
        cpu[s.name]?.push(meter())
        const delta = cacheDelta(before, await cacheSamples())
        const sum = blockCache[s.name] ?? {}
        for (const [k, v] of Object.entries(delta)) sum[k] = (sum[k] ?? 0) + v
        // Let the event log and processor settle between scenarios (each open records an event).
        await sleep(300)
      }
    }
    const stats = Object.fromEntries(scenarios.map((s) => [s.name, merge(runs.get(s.name) ?? [], s.rate)]))
    const st = (name: string) => stats[name] as Stats

    const cachedP99 = Math.max(st('cached png').p99, st('cached json').p99)
    const hangingMax = Math.max(st('hanging source png').max, st('hanging source json').max)
    const checks = {
      cachedP99: cachedP99 <= GOALS.cachedP99,
      uncachedPngP99: st('uncached png').p99 <= GOALS.uncachedPngP99,
      uncachedJsonP99: st('uncached json').p99 <= GOALS.uncachedJsonP99,
      hangingP100: hangingMax <= GOALS.hangingP100,
      // Honesty: uncached answers must be the real block, not a deadline fallback, and nothing failed.
      noFallbackWhenUncached: st('uncached png').fallbacks === 0 && st('uncached json').fallbacks === 0,
      all200: Object.values(stats).every((s) => Object.keys(s.status).join() === '200' && s.errors === 0),
    }
    const met = Object.values(checks).every(Boolean)
    const line = (name: string) => {
      const s = st(name)
      return `${name} @${s.rate}/s p50 ${s.p50} p99 ${s.p99} max ${s.max} ms${s.fallbacks ? ` (${s.fallbacks} fallbacks)` : ''}`
    }
    const ratio = st('cached png').p99 / st('baseline png').p99
    return {
      benchmark: 'open-time',
      metric: 'p99 ms, cached /o/<token>/<block>.png (baseline: static PNG from bare node:http)',
      inkstream: st('cached png').p99,
      baseline: st('baseline png').p99,
      ratio: round(ratio, 2),
      goal: `cached p99 ≤ ${GOALS.cachedP99} ms; uncached PNG p99 ≤ ${GOALS.uncachedPngP99} ms; uncached JSON p99 ≤ ${GOALS.uncachedJsonP99} ms; hanging source p100 ≤ ${GOALS.hangingP100} ms`,
      met,
      details: {
        rounds: ROUNDS,
        secondsPerScenario: SECONDS,
        deadlineMs: DEADLINE_MS,
        pngBytes: png.length,
        checks,
        stats,
        blockCache,
        cpu,
      },
      summary:
        `open-time: ${scenarios.map((s) => line(s.name)).join('; ')}; ` +
        `cached png p99 / baseline p99 = ${ratio.toFixed(2)}; goals ${met ? 'MET' : 'NOT MET'} ` +
        `(${Object.entries(checks)
          .map(([k, v]) => `${k} ${v ? 'ok' : 'FAILED'}`)
          .join(', ')})` +
        noiseWarning(...Object.values(cpu).flat()) +
        `; ${fmt(missCount)} recipients`,
    }
  } finally {
    await bare?.stop()
    await ink.stop()
    hanging.closeAllConnections()
    await new Promise<void>((r) => hanging.close(() => r()))
    rmSync(dir, { recursive: true, force: true })
  }
}
