/**
 * open-time: what `/o/<token>/<block>.png|.json` and `/o/<token>/view` answer in, at a steady rate
 * (open loop, one GET every 2 ms = 500/s, each to another recipient), against a bare node:http
 * server answering a static PNG of the same size in the same run; cache misses then hits; and with a
 * connected-content source that never answers, the slowest answer against the deadline.
 *
 * Inkstream runs as `inkstream start` in a child process (embedded); the bench reads the child's
 * link-signing keys from its data dir to sign one open-time token per recipient, as a send would.
 * Goals (issue 11): cached p99 ≤ 10 ms; uncached PNG p99 ≤ 80 ms; uncached JSON p99 ≤ 20 ms; with a
 * hanging source, p100 ≤ deadline + 25 ms.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { DATABASE_FILE } from '../src/compose/embedded-files.ts'
import { type TokenKeyRow, tokenKeysFromRows } from '../src/delivery/token-keys.ts'
import { createTokenCodec } from '../src/delivery/tokens.ts'
import { ROOT, type ServerUnderTest, startInkstream } from './lib/children.ts'
import { basicAuth } from './lib/events.ts'
import { type BenchResult, fmt, waitUntil } from './lib/report.ts'

const RATE_PER_S = 500
const SECONDS = 4
const RECIPIENTS = RATE_PER_S * SECONDS
const DEADLINE_MS = 250

const CARD = `{% live "card" width: 600, height: 240 %}<div style="display:flex;width:600px;height:240px;background:#ffffff;padding:24px">
<div style="display:flex;width:160px;height:160px;background:#3c78c8;border-radius:8px"></div>
<div style="display:flex;flex-direction:column;justify-content:center;margin-left:24px">
<span style="font-size:14px;color:#6b7280">Still thinking about it?</span>
<span style="font-size:26px;font-weight:700;color:#111827">{{ last_viewed }}</span>
<span style="font-size:20px;color:#111827">{{ price }} EUR</span></div></div>{% fallback %}Our new arrivals are in.{% endlive %}`

const SLOW = (url: string) =>
  `{% live "slow" width: 600, height: 240 %}{% connected_content ${url} :save s :timeout 5000 %}<div style="display:flex;width:600px;height:240px"><span>{{ s.title }}</span></div>{% fallback %}Later today.{% endlive %}`

interface Timing {
  sent: number
  ok: number
  /** Answers that were a fallback (x-ink-fallbacks > 0): data or drawing late. */
  fellBack: number
  other: number
  errors: number
  p50: number
  p99: number
  max: number
}

const pct = (sorted: number[], p: number) =>
  Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN) * 100) / 100

/** One GET every 1000/RATE ms on schedule, path i for the i-th; round-trip times. */
async function pacedGet(base: string, path: (i: number) => string, n: number): Promise<Timing> {
  const { hostname, port } = new URL(base)
  const agent = new Agent({ keepAlive: true, maxSockets: 128 })
  const rtt: number[] = []
  let ok = 0
  let fellBack = 0
  let other = 0
  let errors = 0
  const interval = 1000 / RATE_PER_S
  const start = performance.now()
  const inFlight: Promise<void>[] = []
  for (let i = 0; i < n; i++) {
    const wait = start + i * interval - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    inFlight.push(
      new Promise<void>((resolve) => {
        const t0 = performance.now()
        const req = request({ hostname, port, path: path(i), agent }, (res) => {
          res.resume()
          const fb = Number(res.headers['x-ink-fallbacks'] ?? 0)
          res.on('end', () => {
            rtt.push(performance.now() - t0)
            if (fb > 0) fellBack++
            if (res.statusCode === 200) ok++
            else other++
            resolve()
          })
        })
        req.on('error', () => {
          errors++
          resolve()
        })
        req.end()
      }),
    )
  }
  await Promise.all(inFlight)
  agent.destroy()
  rtt.sort((a, b) => a - b)
  return { sent: n, ok, fellBack, other, errors, p50: pct(rtt, 0.5), p99: pct(rtt, 0.99), max: pct(rtt, 1) }
}

/** bench/static-png-server.ts in a child process. */
async function startStaticPng(size: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/static-png-server.ts', size], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error('static PNG server did not start')), 30_000)
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /listening at (http:\/\/\S+)\n/.exec(out)
      if (m?.[1]) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
  })
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

async function admin(server: ServerUnderTest, method: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

export async function openTime(): Promise<BenchResult> {
  // A source that accepts connections and never answers (here, not in the server under test).
  const hanging = createServer(() => {})
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r))
  const hangHost = `127.0.0.1:${(hanging.address() as AddressInfo).port}`
  const dir = mkdtempSync(join(tmpdir(), 'inkstream-open-time-'))
  const contentFile = join(dir, 'content.json')
  writeFileSync(
    contentFile,
    JSON.stringify({
      connectedContent: { allowHosts: [hangHost] },
      openTime: { deadlineMs: DEADLINE_MS, cacheTtlSeconds: 60, ampSenders: [] },
    }),
  )
  const ink = await startInkstream({ INKSTREAM_CONTENT_FILE: contentFile })
  const bare = await startStaticPng('600x240')
  try {
    const put = (await admin(ink, 'PUT', '/v1/templates/open-bench', {
      subject: 'Bench',
      html: `<p>Hello {{ nickname }}</p>\n${CARD}\n${SLOW(`http://${hangHost}/hang`)}`,
    })) as { version: number }
    // One recipient per request: every first open is a block-cache miss.
    for (let i = 0; i < RECIPIENTS; i += 500) {
      const batch = Array.from({ length: Math.min(500, RECIPIENTS - i) }, (_, k) => ({
        type: 'identify',
        userId: `r${i + k}`,
        traits: { nickname: `R${i + k}`, last_viewed: `Brass lamp no. ${i + k}`, price: 40 + ((i + k) % 50) },
      }))
      const res = await fetch(`${ink.url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basicAuth(ink.writeKey), 'content-type': 'application/json' },
        body: JSON.stringify({ batch }),
      })
      if (!res.ok) throw new Error(`batch: ${res.status}`)
    }
    const last = `r${RECIPIENTS - 1}`
    const processed = await waitUntil(async () => {
      const r = await fetch(`${ink.url}/v1/profiles/${last}`, {
        headers: { authorization: `Bearer ${ink.adminKey}` },
      })
      return r.ok
    }, 60_000)
    if (!processed) throw new Error('the profiles were not processed in 60 s')

    const db = new Database(join(ink.dataDir ?? '', DATABASE_FILE), { readonly: true })
    const rows = db
      .prepare('SELECT kid, secret FROM token_keys ORDER BY created_at, kid')
      .all() as TokenKeyRow[]
    db.close()
    const codec = createTokenCodec({ ...tokenKeysFromRows(rows), clock: { now: Date.now } })
    const workspaceId = 'default'
    const tokens = Array.from({ length: RECIPIENTS }, (_, i) =>
      codec.sign(
        {
          kind: 'open-time',
          workspaceId,
          campaignId: 'bench',
          recipient: `r${i}`,
          messageId: `bench-${i}`,
          templateId: 'open-bench',
          version: put.version,
        },
        86_400_000,
      ),
    )
    const probe = await fetch(`${ink.url}/o/${tokens[0]}/card.json`)
    if (probe.status !== 200) throw new Error(`probe: ${probe.status} ${await probe.text()}`)

    process.stderr.write('open-time: warm-up\n')
    await pacedGet(bare.url, () => '/x.png', 500)
    await pacedGet(ink.url, (i) => `/o/${tokens[i % 50]}/card.png`, 500)

    process.stderr.write('open-time: baseline, png (miss, hit), json, view, hanging source\n')
    const baseline = await pacedGet(bare.url, (i) => `/b/${i}.png`, RECIPIENTS)
    const pngMiss = await pacedGet(ink.url, (i) => `/o/${tokens[i]}/card.png`, RECIPIENTS)
    // Draw every recipient's card once, unpaced (the uncached pass above answered many with fallbacks).
    for (const t of tokens)
      for (let attempt = 0; attempt < 50; attempt++) {
        const res = await fetch(`${ink.url}/o/${t}/card.png`)
        await res.arrayBuffer()
        if (res.headers.get('x-ink-fallbacks') === '0') break
        await new Promise((r) => setTimeout(r, 20))
      }
    const pngHit = await pacedGet(ink.url, (i) => `/o/${tokens[i]}/card.png`, RECIPIENTS)
    // The profile cache keeps a profile 5 s: after 6 s the JSON reads every profile from the store.
    await new Promise((r) => setTimeout(r, 6_000))
    const jsonUncached = await pacedGet(ink.url, (i) => `/o/${tokens[i]}/card.json`, RECIPIENTS)
    const jsonCached = await pacedGet(ink.url, (i) => `/o/${tokens[i]}/card.json`, RECIPIENTS)
    const view = await pacedGet(ink.url, (i) => `/o/${tokens[i]}/view`, RECIPIENTS)
    const slowPng = await pacedGet(ink.url, (i) => `/o/${tokens[i]}/slow.png`, RECIPIENTS / 4)
    const slowJson = await pacedGet(ink.url, (i) => `/o/${tokens[i]}/slow.json`, RECIPIENTS / 4)

    const goals = {
      cachedP99: pngHit.p99 <= 10 && jsonCached.p99 <= 10,
      uncachedPngP99: pngMiss.p99 <= 80,
      uncachedJsonP99: jsonUncached.p99 <= 20,
      hangingP100: Math.max(slowPng.max, slowJson.max) <= DEADLINE_MS + 25,
    }
    const met = Object.values(goals).every(Boolean)
    const line = (name: string, t: Timing) =>
      `${name} p50 ${fmt(t.p50, 2)} p99 ${fmt(t.p99, 2)} max ${fmt(t.max, 2)} ms (${t.ok}/${t.sent} ok, ${t.fellBack} fallbacks)`
    return {
      benchmark: 'open-time',
      metric: 'p99 ms of a cached .png open at 500/s (baseline: static PNG from bare node:http)',
      inkstream: pngHit.p99,
      baseline: baseline.p99,
      ratio: Math.round((pngHit.p99 / baseline.p99) * 100) / 100,
      goal: 'cached p99 ≤ 10 ms; uncached PNG p99 ≤ 80 ms; uncached JSON p99 ≤ 20 ms; hanging source p100 ≤ deadline + 25 ms',
      met,
      details: {
        ratePerSecond: RATE_PER_S,
        deadlineMs: DEADLINE_MS,
        baseline,
        pngMiss,
        pngHit,
        jsonUncached,
        jsonCached,
        view,
        slowPng,
        slowJson,
        goals,
      },
      summary: [
        `open-time at ${RATE_PER_S}/s (${met ? 'goals met' : 'goals NOT all met'}):`,
        `  ${line('baseline static png', baseline)}`,
        `  ${line('png uncached       ', pngMiss)}`,
        `  ${line('png cached         ', pngHit)}`,
        `  ${line('json uncached      ', jsonUncached)}`,
        `  ${line('json cached        ', jsonCached)}`,
        `  ${line('view               ', view)}`,
        `  ${line('png, source hangs  ', slowPng)}`,
        `  ${line('json, source hangs ', slowJson)}`,
      ].join('\n'),
    }
  } finally {
    await ink.stop()
    await bare.stop()
    hanging.closeAllConnections()
    hanging.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
