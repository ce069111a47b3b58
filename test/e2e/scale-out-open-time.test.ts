/**
 * Open-time content in scale-out mode, on real Kafka, PostgreSQL and Redis, across processes: one
 * process runs collector + processor, one api + sender, one api alone. A campaign with a live block
 * is sent by the api + sender process (its outbox); the block's URL from that message is opened on
 * the first api process, which draws it and stores it in the Redis block cache, then on the second,
 * which answers the same image from Redis without drawing it. The JSON shows the profile's data.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { PNG } from 'pngjs'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { tempDir } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { REDIS_URL, redisMissing } from '../helpers/redis.ts'
import { type ServerProcess, startServerProcess, testKey } from '../helpers/server-process.ts'

const skip = (await kafkaMissing()) || (await pgSkip()) || (await redisMissing())

/** Polls `probe` every 100 ms until it answers something other than undefined, or fails after `ms`. */
async function eventually<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** `inkstream_open_time_cache_total` of one process, by `layer/result`. */
async function cacheCounts(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const counts: Record<string, number> = {}
  for (const m of text.matchAll(/^inkstream_open_time_cache_total\{layer="(\w+)",result="(\w+)"\} (\d+)$/gm))
    counts[`${m[1]}/${m[2]}`] = Number(m[3])
  return counts
}

test('scale-out: a live block drawn by one api process is served from Redis by another', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const database = await freshDatabase()
  const writeKey = testKey('wk')
  const adminKey = testKey('ak')
  const dirs = [tempDir('inkstream-ot-in-'), tempDir('inkstream-ot-a-'), tempDir('inkstream-ot-b-')]
  const env = {
    INKSTREAM_KAFKA_BROKERS: kafkaBrokers().join(','),
    INKSTREAM_KAFKA_TOPIC: KafkaEventLog.uniqueTopic('inkstream-open-time'),
    INKSTREAM_DATABASE_URL: database.url,
    INKSTREAM_REDIS_URL: REDIS_URL,
    INKSTREAM_FROM: 'Shop <news@shop.example.com>',
  }
  const servers: ServerProcess[] = []
  t.after(async () => {
    for (const s of servers) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL')
        await s.exited
      }
    }
    await database.drop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const start = async (dataDir: string, roles: string) => {
    const s = await startServerProcess({ dataDir, writeKey, adminKey, env, args: ['--role', roles] })
    servers.push(s)
    return s
  }
  const ingest = await start(dirs[0]!, 'collector,processor')
  const a = await start(dirs[1]!, 'api,sender')
  const b = await start(dirs[2]!, 'api')
  const admin = (base: string, method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })

  // A name no earlier run drew: the block cache is keyed by what is drawn, and Redis outlives runs.
  const name = `Ann-${randomBytes(4).toString('hex')}`
  const template = {
    subject: 'Hello',
    html: `<p>Hello</p>{% live "hero" width: 400, height: 100 %}<div style="display:flex;width:400px;height:100px;background:#fff"><span style="font-size:28px">Hi {{ first_name }}</span></div>{% fallback %}Hello there{% endlive %}`,
  }
  assert.equal((await admin(a.url, 'PUT', '/v1/templates/live', template)).status, 201)
  const sent = await fetch(`${ingest.url}/v1/identify`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ userId: 'ann', traits: { email: 'ann@example.com', firstName: name } }),
  })
  assert.equal(sent.status, 200)
  await eventually('the profile in PostgreSQL', 30_000, async () =>
    (await admin(b.url, 'GET', '/v1/profiles/ann')).status === 200 ? true : undefined,
  )
  const put = await admin(a.url, 'PUT', '/v1/campaigns/hello', {
    templateId: 'live',
    audience: { userIds: ['ann'] },
  })
  assert.ok(put.status < 300, await put.text())
  const started = await admin(a.url, 'POST', '/v1/campaigns/hello/start')
  assert.equal(started.status, 202, await started.text())

  const outbox = join(dirs[1]!, 'outbox')
  const raw = await eventually('the message in the sender outbox', 30_000, async () => {
    let files: string[] = []
    try {
      files = readdirSync(outbox).filter((f) => f.endsWith('.eml'))
    } catch {}
    return files[0] === undefined ? undefined : readFileSync(join(outbox, files[0]), 'utf8')
  })
  // The HTML part is quoted-printable: soft line breaks and =3D undone before looking for the URL.
  const decoded = raw.replace(/=\r\n/g, '').replace(/=3D/g, '=')
  const path = /https?:\/\/[^/"]+(\/o\/[^/"]+\/hero\.png)/.exec(decoded)?.[1]
  assert.ok(path, decoded)

  const open = async (base: string) => {
    const res = await fetch(`${base}${path}`)
    assert.equal(res.status, 200, `${base}: ${res.headers.get('x-ink-error-code')}`)
    assert.equal(res.headers.get('content-type'), 'image/png')
    return { bytes: Buffer.from(await res.arrayBuffer()), fallbacks: res.headers.get('x-ink-fallbacks') }
  }
  // On a loaded machine the first drawing may miss the open's deadline: that open gets the fallback
  // image (x-ink-fallbacks: 1, never cached) and the drawing lands in the cache for the next open
  // (CI failed on it once). Up to three more opens for the drawn image; it is the one compared below.
  let first = await open(a.url)
  let late = 0
  while (first.fallbacks !== '0' && late < 3) {
    late++
    await new Promise((r) => setTimeout(r, 500))
    first = await open(a.url)
  }
  const img = PNG.sync.read(first.bytes)
  assert.deepEqual([img.width, img.height, first.fallbacks], [400, 100, '0'])
  const drawnBy = await cacheCounts(a.url)
  if (late === 0) assert.deepEqual(drawnBy, { 'png/miss': 1 })
  else
    assert.ok((drawnBy['png/miss'] ?? 0) >= 1, `the first process never drew it: ${JSON.stringify(drawnBy)}`)

  // A lookup slower than 50 ms counts as `timeout` and the image is drawn (a slow Redis must not cost
  // the open's deadline): on a loaded machine the first lookup may be that slow. What must never
  // happen is a `miss` (the other process's drawing not in Redis). Up to three opens for one hit.
  let counts: Record<string, number> = {}
  for (let i = 0; i < 3 && counts['png/hit'] === undefined; i++) {
    const second = await open(b.url)
    assert.ok(second.bytes.equals(first.bytes), 'the second process answered another image')
    counts = await cacheCounts(b.url)
  }
  assert.equal(
    counts['png/miss'],
    undefined,
    `the second process did not find it in Redis: ${JSON.stringify(counts)}`,
  )
  assert.equal(
    counts['png/hit'],
    1,
    `the second process drew instead of reading Redis: ${JSON.stringify(counts)}`,
  )

  const json = await (await fetch(`${b.url}${path.replace(/\.png$/, '.json')}`)).json()
  assert.deepEqual(
    [json.items?.[0]?.text, json.items?.[0]?.fallback],
    [`Hi ${name}`, false],
    JSON.stringify(json),
  )
})
