/**
 * campaign-scale: does a campaign's memory and start-up grow with its audience? The same Inkstream
 * server (`inkstream start`, a child process, SMTP to the sink of bench/lib/smtp-sink.ts) runs a
 * campaign to a segment of 2,000 members, then one to a segment of 200,000 (BENCH_SCALE_SIZES),
 * seeded straight into the segment_members table (one transaction, the rows the processor writes),
 * after a warm-up campaign of 100 that is not reported.
 * For each: the server's RSS before the start and its peak while sending (VmRSS, sampled every
 * 50 ms), and the time from POST /start to the sink's first message. The campaign sends for
 * BENCH_SCALE_SEND_S seconds (default 45) and is then cancelled: a whole-audience load would
 * happen before the first message, so the first seconds are the ones that show it.
 * Goal (issue 10): RSS grows by < 50 MB more and time to first message < 2x from 2k to 200k.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { type ServerUnderTest, startInkstream } from './lib/children.ts'
import { type BenchResult, fmt, waitUntil } from './lib/report.ts'
import { startSmtpSink } from './lib/smtp-sink.ts'

const SIZES = (process.env.BENCH_SCALE_SIZES ?? '2000,200000').split(',').map(Number)
const SEND_S = Number(process.env.BENCH_SCALE_SEND_S ?? 45)
const WARMUP = 100

/** The child's data dir: startInkstream sets it in the child's environment. */
function dataDirOf(pid: number): string {
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
  const entry = env.find((e) => e.startsWith('INKSTREAM_DATA_DIR='))
  if (!entry) throw new Error('the server has no INKSTREAM_DATA_DIR')
  return entry.slice('INKSTREAM_DATA_DIR='.length)
}

const rssMb = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : Number.NaN
}

interface Run {
  members: number
  rssBeforeMb: number
  rssPeakMb: number
  rssGrowthMb: number
  firstMessageMs: number
  sent: number
  seedS: number
}

/** An admin API call; throws with the answer on a status ≥ 300. */
export async function call(server: ServerUnderTest, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.adminKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const json = (await res.json()) as Record<string, unknown>
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

/** A segment of `n` members with addresses, written as the processor writes member rows. */
async function seed(server: ServerUnderTest, db: Database.Database, n: number): Promise<number> {
  const t0 = performance.now()
  const segment = `scale-${n}`
  await call(server, 'PUT', `/v1/segments/${segment}`, { condition: { scale: n } })
  const ready = await waitUntil(
    async () =>
      db
        .prepare('SELECT members_version FROM segments WHERE segment_id = ? AND members_version IS NOT NULL')
        .get(segment) !== undefined,
    60_000,
  )
  if (!ready) throw new Error(`segment ${segment}: its backfill did not finish`)
  const { workspace_id: ws } = db
    .prepare('SELECT workspace_id FROM segments WHERE segment_id = ?')
    .get(segment) as {
    workspace_id: string
  }
  const insert = db.prepare(
    'INSERT INTO segment_members (workspace_id, segment_id, profile_id, user_id, email, joined_at) VALUES (?, ?, ?, ?, ?, ?)',
  )
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const id = `${n}-${String(i).padStart(7, '0')}`
      insert.run(ws, segment, `p-${id}`, `u-${id}`, `u-${id}@example.com`, 0)
    }
  })()
  return (performance.now() - t0) / 1000
}

async function runOne(
  server: ServerUnderTest,
  db: Database.Database,
  counts: () => Promise<{ messages: number }>,
  n: number,
): Promise<Run> {
  const seedS = await seed(server, db, n)
  const id = `scale-${n}`
  await call(server, 'PUT', `/v1/campaigns/${id}`, {
    templateId: 'scale',
    audience: { segment: id },
    vars: { greeting: 'Hi' },
  })
  // Let the seeding's garbage settle before the baseline.
  await new Promise((r) => setTimeout(r, 1000))
  const rssBeforeMb = rssMb(server.pid)
  let rssPeakMb = rssBeforeMb
  const sampler = setInterval(() => {
    rssPeakMb = Math.max(rssPeakMb, rssMb(server.pid))
  }, 50)
  const before = (await counts()).messages
  const t0 = performance.now()
  await call(server, 'POST', `/v1/campaigns/${id}/start`)
  let firstMessageMs = Number.NaN
  while (performance.now() - t0 < 120_000) {
    if ((await counts()).messages > before) {
      firstMessageMs = performance.now() - t0
      break
    }
    await new Promise((r) => setTimeout(r, 2))
  }
  await waitUntil(async () => {
    const c = (await call(server, 'GET', `/v1/campaigns/${id}`)) as { state: string }
    return c.state === 'done'
  }, SEND_S * 1000)
  const state = ((await call(server, 'GET', `/v1/campaigns/${id}`)) as { state: string }).state
  if (state === 'running') await call(server, 'POST', `/v1/campaigns/${id}/cancel`)
  clearInterval(sampler)
  const sent = (await counts()).messages - before
  return {
    members: n,
    rssBeforeMb,
    rssPeakMb,
    rssGrowthMb: rssPeakMb - rssBeforeMb,
    firstMessageMs,
    sent,
    seedS,
  }
}

export async function campaignScale(): Promise<BenchResult> {
  const sink = await startSmtpSink()
  const server = await startInkstream({
    INKSTREAM_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
    INKSTREAM_FROM: 'news@shop.example.com',
  })
  const db = new Database(join(dataDirOf(server.pid), 'inkstream.db'))
  db.pragma('busy_timeout = 10000')
  try {
    await call(server, 'PUT', '/v1/templates/scale', {
      subject: '{{ campaign.greeting }}, {{ user_id }}',
      html: '<p>{{ campaign.greeting }}, {{ user_id }}! <a href="https://shop.example.com/sale">Sale</a></p>',
    })
    // A warm-up campaign (template compile, the transport's first connection), not reported: the
    // first measured campaign must not pay for what every later one gets for free.
    await runOne(server, db, () => sink.counts(), WARMUP)
    const runs: Run[] = []
    for (const n of SIZES) {
      process.stderr.write(`campaign-scale: ${fmt(n)} members...\n`)
      runs.push(await runOne(server, db, () => sink.counts(), n))
    }
    const small = runs[0]!
    const large = runs[runs.length - 1]!
    const extraGrowth = large.rssGrowthMb - small.rssGrowthMb
    const ttfmRatio = large.firstMessageMs / small.firstMessageMs
    const met = extraGrowth < 50 && ttfmRatio < 2
    const line = (r: Run) =>
      `${fmt(r.members)}: RSS ${fmt(r.rssBeforeMb)} → peak ${fmt(r.rssPeakMb)} MB (+${fmt(r.rssGrowthMb, 1)}), first message ${fmt(r.firstMessageMs)} ms, ${fmt(r.sent)} sent in ${SEND_S} s`
    return {
      benchmark: 'campaign-scale',
      metric: `time to first message, ms, ${fmt(large.members)} members (baseline: ${fmt(small.members)})`,
      inkstream: Math.round(large.firstMessageMs),
      baseline: Math.round(small.firstMessageMs),
      ratio: Math.round(ttfmRatio * 100) / 100,
      goal: 'RSS growth +< 50 MB and time to first message < 2x from 2k to 200k',
      met,
      details: { runs, extraRssGrowthMb: Math.round(extraGrowth * 10) / 10, sendSeconds: SEND_S },
      summary:
        `campaign-scale: ${runs.map(line).join('; ')}; RSS growth ${extraGrowth >= 0 ? '+' : ''}${fmt(extraGrowth, 1)} MB, ` +
        `first message x${fmt(ttfmRatio, 2)} from ${fmt(small.members)} to ${fmt(large.members)} — goal ${met ? 'met' : 'NOT met'}`,
    }
  } finally {
    db.close()
    await server.stop()
    await sink.stop()
  }
}
