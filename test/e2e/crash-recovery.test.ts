/**
 * Crash recovery end to end: the real server in a child process, a concurrent load of Segment
 * batches, SIGKILL mid-load, a restart on the same data dir, then the durability promise (every
 * 200 is in the log) and the exactly-once promise (profiles count each logged messageId once,
 * also when clients retry after the crash).
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { DATABASE_FILE, LOG_FILE } from '../../src/app.ts'
import { tempDir } from '../helpers/app.ts'
import {
  readMetric,
  type ServerProcess,
  startServerProcess,
  testKey,
  waitForZeroLag,
} from '../helpers/server-process.ts'

const USERS = 30
const LOOPS = 16
const BATCH_SIZE = 20
const LOAD_MS = 1200
/** Uploads left half-sent over the kill, so some requests are certainly in flight when it lands. */
const HELD_OPEN = 4

interface Sent {
  userId: string
  revenue: number
}

interface Request {
  path: '/v1/batch' | '/v1/track'
  body: Record<string, unknown>
  messageIds: string[]
}

const orderCompleted = (messageId: string, userId: string, revenue: number) => ({
  type: 'track',
  event: 'Order Completed',
  messageId,
  userId,
  properties: { order_id: messageId, revenue },
})

/** Builds the requests one load loop sends: batches of BATCH_SIZE, every fourth one a single /v1/track. */
function nextRequest(loop: number, seq: number, sent: Map<string, Sent>): Request {
  const make = (i: number) => {
    const messageId = `crash-${loop}-${seq}-${i}`
    const userId = `user-${(loop * 7 + seq * 3 + i) % USERS}`
    const revenue = 1 + ((loop * 31 + seq * 17 + i * 13) % 97)
    sent.set(messageId, { userId, revenue })
    return orderCompleted(messageId, userId, revenue)
  }
  if (seq % 4 === 3) {
    const { type: _type, ...event } = make(0)
    return { path: '/v1/track', body: event, messageIds: [event.messageId] }
  }
  const batch = Array.from({ length: BATCH_SIZE }, (_, i) => make(i))
  return { path: '/v1/batch', body: { batch }, messageIds: batch.map((e) => e.messageId) }
}

async function post(url: string, writeKey: string, req: Request): Promise<Response> {
  return fetch(`${url}${req.path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
    },
    body: JSON.stringify(req.body),
  })
}

/**
 * Sends the headers and half the body, then waits: the server cannot answer before the rest
 * arrives. Resolves with the status if it answers anyway, or with the error once the server dies.
 */
function halfSentUpload(url: string, writeKey: string, req: Request): Promise<number | Error> {
  const body = Buffer.from(JSON.stringify(req.body))
  return new Promise((resolve) => {
    const r = httpRequest(`${url}${req.path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': body.length,
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
      },
    })
    r.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    r.on('error', resolve)
    r.write(body.subarray(0, body.length >> 1))
  })
}

/** messageId → how many rows of the log hold it, read through a second (read-only) SQLite connection. */
function readLog(dataDir: string): Map<string, { rows: number; userId: string; revenue: number }> {
  const db = new Database(join(dataDir, LOG_FILE), { readonly: true, fileMustExist: true })
  try {
    const out = new Map<string, { rows: number; userId: string; revenue: number }>()
    const rows = db.prepare('SELECT message_id, payload FROM log_events ORDER BY offset').all() as {
      message_id: string
      payload: string
    }[]
    for (const row of rows) {
      const e = JSON.parse(row.payload) as { userId: string; properties: { revenue: number } }
      const seen = out.get(row.message_id)
      if (seen) seen.rows++
      else out.set(row.message_id, { rows: 1, userId: e.userId, revenue: e.properties.revenue })
    }
    return out
  } finally {
    db.close()
  }
}

/** The log's head and the processor's applied offset, read without recovering or changing the file. */
function readPositions(dataDir: string): { head: number; applied: number } {
  const logDb = new Database(join(dataDir, LOG_FILE), { readonly: true, fileMustExist: true })
  const db = new Database(join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true })
  try {
    const head = logDb.prepare('SELECT coalesce(max(offset), 0) FROM log_events').pluck().get() as number
    const applied = db.prepare(
      "SELECT coalesce(max(offset), 0) FROM processor_offsets WHERE group_id = 'profiles'",
    )
    return { head, applied: applied.pluck().get() as number }
  } finally {
    logDb.close()
    db.close()
  }
}

async function profileTraits(
  url: string,
  adminKey: string,
  userId: string,
): Promise<Record<string, unknown> | null> {
  const res = await fetch(`${url}/v1/profiles/${encodeURIComponent(userId)}`, {
    headers: { authorization: `Bearer ${adminKey}` },
  })
  if (res.status === 404) return null
  assert.equal(res.status, 200, `GET /v1/profiles/${userId}`)
  const body = (await res.json()) as { traits: Record<string, unknown> }
  return body.traits
}

/** Asserts that each user's count and sum traits equal their distinct logged events. */
async function assertProfilesMatchLog(url: string, adminKey: string, logged: ReturnType<typeof readLog>) {
  const expected = new Map<string, { orders: number; revenue: number }>()
  for (let u = 0; u < USERS; u++) expected.set(`user-${u}`, { orders: 0, revenue: 0 })
  for (const { userId, revenue } of logged.values()) {
    const e = expected.get(userId)!
    e.orders++
    e.revenue += revenue
  }
  for (const [userId, { orders, revenue }] of expected) {
    const traits = await profileTraits(url, adminKey, userId)
    if (orders === 0) {
      assert.equal(traits, null, `${userId} has no logged events, so no profile`)
      continue
    }
    assert.ok(traits, `${userId} has ${orders} logged events but no profile`)
    assert.deepEqual(
      { orders_total: traits.orders_total, revenue_total: traits.revenue_total },
      { orders_total: orders, revenue_total: revenue },
      `traits of ${userId}`,
    )
  }
}

test('acknowledged events survive SIGKILL and are applied exactly once', { timeout: 120_000 }, async (t) => {
  const dataDir = tempDir('inkstream-crash-')
  const writeKey = testKey('wk')
  const adminKey = testKey('ak')
  const servers: ServerProcess[] = []
  t.after(async () => {
    for (const s of servers) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        process.kill(s.pid, 'SIGKILL')
        await s.exited
      }
    }
    rmSync(dataDir, { recursive: true, force: true })
  })

  // Phase 1: load, then SIGKILL while requests are in flight.
  const first = await startServerProcess({ dataDir, writeKey, adminKey })
  servers.push(first)
  const sent = new Map<string, Sent>()
  const acked = new Set<string>()
  const failed: Request[] = []
  const unexpected: string[] = []
  let running = true
  const loop = async (n: number) => {
    for (let seq = 0; running; seq++) {
      const req = nextRequest(n, seq, sent)
      try {
        const res = await post(first.url, writeKey, req)
        const body = (await res.json()) as { success?: boolean; accepted?: number }
        if (res.ok && body.success === true) {
          if (req.path === '/v1/batch' && body.accepted !== BATCH_SIZE) unexpected.push(JSON.stringify(body))
          for (const id of req.messageIds) acked.add(id)
        } else {
          // Only the kill may fail a request; a 4xx/5xx from a live server is a bug to report.
          unexpected.push(`${res.status} ${JSON.stringify(body)}`)
          failed.push(req)
        }
      } catch {
        failed.push(req)
      }
    }
  }
  const loadStart = Date.now()
  const loops = Array.from({ length: LOOPS }, (_, n) => loop(n))
  await new Promise((r) => setTimeout(r, LOAD_MS - 200))
  const heldRequests = Array.from({ length: HELD_OPEN }, (_, k) => nextRequest(LOOPS + k, 0, sent))
  const held = heldRequests.map((req) => halfSentUpload(first.url, writeKey, req))
  await new Promise((r) => setTimeout(r, 200))
  const ackedBeforeKill = acked.size
  process.kill(first.pid, 'SIGKILL')
  running = false
  const exit = await first.exited
  await Promise.all(loops)
  const loadFailures = failed.length
  const heldOutcomes = await Promise.all(held)
  failed.push(...heldRequests)
  t.diagnostic(
    `load ran ${Date.now() - loadStart} ms: ${sent.size} events sent, ${acked.size} acked ` +
      `(${ackedBeforeKill} before the kill), ${loadFailures} load requests failed`,
  )

  assert.equal(exit.signal, 'SIGKILL', 'the server was killed, not shut down')
  assert.deepEqual(unexpected, [], 'no request failed while the server was alive')
  assert.ok(acked.size > 0, 'some events were acknowledged before the kill')
  assert.deepEqual(
    heldOutcomes.map((o) => (o instanceof Error ? 'failed' : o)),
    Array(HELD_OPEN).fill('failed'),
    'no half-sent upload was answered; each failed when the server died',
  )

  // Phase 2: restart on the same data dir; the log holds every ack, profiles count each event once.
  const atKill = readPositions(dataDir)
  t.diagnostic(`at the kill: log head ${atKill.head}, processor applied up to ${atKill.applied}`)
  const second = await startServerProcess({ dataDir, writeKey, adminKey })
  servers.push(second)
  await waitForZeroLag(second.url, 30_000, second.output)
  const logged = readLog(dataDir)
  const missing = [...acked].filter((id) => !logged.has(id))
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged events are not in the log`)
  const unknown = [...logged.keys()].filter((id) => !sent.has(id))
  assert.deepEqual(unknown, [], 'the log holds only events that were sent')
  for (const [id, entry] of logged) {
    assert.equal(entry.rows, 1, `${id} was sent once, so it is logged once`)
    assert.deepEqual(
      { userId: entry.userId, revenue: entry.revenue },
      sent.get(id),
      `${id} is logged as sent`,
    )
  }
  const durableUnacked = [...logged.keys()].filter((id) => !acked.has(id)).length
  t.diagnostic(
    `${logged.size} events in the log after the restart; ${durableUnacked} of them durable but not acked`,
  )
  await assertProfilesMatchLog(second.url, adminKey, logged)

  // Phase 3: clients retry what failed (same messageIds) and re-send a few acked batches whose
  // 200 they might have lost; each event still counts once.
  const retries = failed.filter((_, i) => i % 2 === 0)
  const ackedBatches = new Map<string, Request>()
  for (const [id] of sent) {
    const [, loopN, seq] = id.split('-')
    const key = `${loopN}-${seq}`
    if (ackedBatches.size < 3 && acked.has(id) && !ackedBatches.has(key)) {
      const req = nextRequest(Number(loopN), Number(seq), new Map())
      if (req.path === '/v1/batch') ackedBatches.set(key, req)
    }
  }
  const resend = [...retries, ...ackedBatches.values()]
  const alreadyLogged = resend.flatMap((r) => r.messageIds).filter((id) => logged.has(id)).length
  assert.ok(alreadyLogged >= BATCH_SIZE, 'the re-sent requests include events already applied')
  const duplicatesBefore = await readMetric(
    second.url,
    'inkstream_pipeline_events_total{outcome="duplicate"}',
  )
  for (const req of resend) {
    const res = await post(second.url, writeKey, req)
    assert.equal(res.status, 200, `retry of ${req.messageIds[0]}: ${await res.text()}`)
  }
  await waitForZeroLag(second.url, 30_000, second.output)
  const duplicatesAfter = await readMetric(second.url, 'inkstream_pipeline_events_total{outcome="duplicate"}')
  assert.equal(
    duplicatesAfter - duplicatesBefore,
    alreadyLogged,
    'every re-sent event already applied is a duplicate',
  )

  const final = readLog(dataDir)
  for (const req of resend)
    for (const id of req.messageIds) assert.ok(final.has(id), `retried ${id} is in the log`)
  await assertProfilesMatchLog(second.url, adminKey, final)
  t.diagnostic(
    `${resend.length} requests re-sent (${alreadyLogged} events already applied); ${final.size} distinct events`,
  )

  // A clean shutdown after all this still exits 0.
  process.kill(second.pid, 'SIGTERM')
  assert.deepEqual(await second.exited, { code: 0, signal: null }, second.output())
})
