/** The tracking routes in process, against a real SQLite event log and suppression store. */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import type { InkEvent } from '../../src/core/types.ts'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import { SqliteSuppressionStore } from '../../src/delivery/sqlite-suppression-store.ts'
import { createTokenCodec, type TokenCodec, type TokenPayload } from '../../src/delivery/tokens.ts'
import { trackingRoutes } from '../../src/delivery/tracking-routes.ts'
import { installErrorHandler } from '../../src/http/error-handler.ts'
import { SqliteEventLog } from '../../src/log/sqlite-event-log.ts'
import { tempDir } from '../helpers/app.ts'

const T0 = 1_800_000_000_000
const DAY = 86_400_000
const K1 = Buffer.alloc(32, 1)
const K2 = Buffer.alloc(32, 2)

const ids = { workspaceId: 'ws-a', campaignId: 'spring-sale', recipient: 'user-1', messageId: 'msg-1' }
const DEST = 'https://shop.example/p/42?utm_source=email&x=%C3%A9#reviews'
const clickPayload: TokenPayload = { kind: 'click', ...ids, url: DEST }
const openPayload: TokenPayload = { kind: 'open', ...ids }
const unsubPayload: TokenPayload = { kind: 'unsubscribe', ...ids, email: 'Jane@Shop.example' }

interface Harness {
  app: FastifyInstance
  db: SqliteDatabase
  log: SqliteEventLog
  suppressions: SqliteSuppressionStore
  clock: { t: number; now(): number }
  /** Signs with k1; the server verifies with k1 and k2 unless told otherwise. */
  signer: TokenCodec
  dir: string
  emails: Map<string, string>
}

async function harness(serverKeys: Record<string, Buffer> = { k1: K1, k2: K2 }): Promise<Harness> {
  const dir = tempDir('inkstream-tracking-')
  const db = openSqlite(join(dir, 'inkstream.db'))
  const clock = { t: T0, now: () => clock.t }
  const log = new SqliteEventLog(db, { pollMs: 10, clock })
  const suppressions = new SqliteSuppressionStore(db, { clock })
  const signer = createTokenCodec({ keys: { k1: K1 }, currentKid: 'k1', clock })
  const codec = createTokenCodec({ keys: serverKeys, currentKid: Object.keys(serverKeys)[0] ?? '', clock })
  const emails = new Map<string, string>()
  const app = Fastify({ logger: false })
  installErrorHandler(app)
  // Called on the root instance on purpose: the plugin must make its own scope for its parsers.
  await trackingRoutes(app, {
    codec,
    log,
    suppressions,
    clock,
    lookupEmail: async (ws, recipient) => emails.get(`${ws}/${recipient}`),
  })
  // A JSON route beside the tracking routes, to show their form parser stays in their scope.
  app.post('/v1/echo', async (req) => ({ body: req.body }))
  await app.ready()
  return { app, db, log, suppressions, clock, signer, dir, emails }
}

async function close(h: Harness): Promise<void> {
  await h.app.close()
  await h.suppressions.close()
  await h.log.close()
  h.db.close()
  rmSync(h.dir, { recursive: true, force: true })
}

/** Every event in the log, read back through a consumer. */
async function events(h: Harness): Promise<InkEvent[]> {
  const group = `read-${Math.random()}`
  const total = await h.log.lag(group)
  if (total === 0) return []
  const seen: InkEvent[] = []
  let done!: () => void
  const finished = new Promise<void>((r) => {
    done = r
  })
  const consumer = h.log.consume(group, async (records) => {
    seen.push(...records.map((r) => r.event))
    if (seen.length >= total) done()
  })
  await finished
  await consumer.close()
  return seen
}

const oneClick = (url: string, extra: Record<string, string> = {}) => ({
  method: 'POST' as const,
  url,
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...extra },
  payload: 'List-Unsubscribe=One-Click',
})

/** The token with the character at `i` replaced by another token character. */
function tamper(token: string, i: number): string {
  const c = token[i] === 'A' ? 'B' : 'A'
  return token.slice(0, i) + c + token.slice(i + 1)
}

describe('tracking routes', () => {
  let h: Harness
  beforeEach(async () => {
    h = await harness()
  })
  afterEach(async () => {
    await close(h)
  })

  test('a click redirects to the exact original URL and records one Email Link Clicked event', async () => {
    const res = await h.app.inject({
      url: `/c/${h.signer.sign(clickPayload, DAY)}`,
      headers: { 'user-agent': 'Mail/1.0' },
    })
    assert.equal(res.statusCode, 302)
    assert.equal(res.headers.location, DEST)
    assert.equal(res.headers['cache-control'], 'no-store, no-cache, must-revalidate, max-age=0')
    assert.equal(res.headers['referrer-policy'], 'no-referrer')
    const [event, ...rest] = await events(h)
    assert.deepEqual(rest, [])
    assert.ok(event)
    assert.equal(event.type, 'track')
    assert.equal(event.event, 'Email Link Clicked')
    assert.equal(event.workspaceId, 'ws-a')
    assert.equal(event.userId, 'user-1')
    assert.deepEqual(event.properties, { campaign_id: 'spring-sale', email_id: 'msg-1', link_url: DEST })
    assert.deepEqual(event.context, { userAgent: 'Mail/1.0' })
    assert.equal(event.timestamp, new Date(T0).toISOString())
    assert.match(event.messageId, /^ink-click-[0-9a-f]{32}$/)
  })

  test('a double-click inside the window shares one event id; a click in a later window gets a new one', async () => {
    const url = `/c/${h.signer.sign(clickPayload, DAY)}`
    await h.app.inject({ url })
    h.clock.t += 2_000
    await h.app.inject({ url })
    h.clock.t += 60_000
    await h.app.inject({ url })
    const [a, b, c] = (await events(h)).map((e) => e.messageId)
    assert.equal(a, b, 'the processor dedupes the double-click by messageId')
    assert.notEqual(b, c)
  })

  test('a tampered click token gets 400 and records nothing, wherever the change is', async () => {
    const token = h.signer.sign(clickPayload, DAY)
    for (const i of [0, 3, Math.floor(token.length / 2), token.length - 1]) {
      const res = await h.app.inject({ url: `/c/${tamper(token, i)}` })
      assert.equal(res.statusCode, 400, `change at ${i}`)
      assert.equal(res.headers.location, undefined)
      assert.equal(res.headers['x-ink-error-code'], 'INK_ERR_TOKEN_INVALID')
      assert.match(String(res.headers['content-type']), /^text\/html/)
    }
    assert.equal(await h.log.lag('nobody'), 0)
  })

  test('an expired click token gets 410 and records nothing', async () => {
    const token = h.signer.sign(clickPayload, 1_000)
    h.clock.t += 1_000
    const res = await h.app.inject({ url: `/c/${token}` })
    assert.equal(res.statusCode, 410)
    assert.equal(res.headers['x-ink-error-code'], 'INK_ERR_TOKEN_EXPIRED')
    assert.equal(res.headers.location, undefined)
    assert.equal(await h.log.lag('nobody'), 0)
  })

  test('an open or unsubscribe token cannot be used as a click', async () => {
    for (const p of [openPayload, unsubPayload]) {
      const res = await h.app.inject({ url: `/c/${h.signer.sign(p, DAY)}` })
      assert.equal(res.statusCode, 400)
    }
    assert.equal(await h.log.lag('nobody'), 0)
  })

  test('a HEAD from a link checker gets the redirect but records no click', async () => {
    const res = await h.app.inject({ method: 'HEAD', url: `/c/${h.signer.sign(clickPayload, DAY)}` })
    assert.equal(res.statusCode, 302)
    assert.equal(res.headers.location, DEST)
    assert.equal(await h.log.lag('nobody'), 0)
  })

  test('the pixel answers a 1×1 GIF that is never cached and records Email Opened', async () => {
    const res = await h.app.inject({ url: `/p/${h.signer.sign(openPayload, DAY)}` })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'image/gif')
    assert.match(String(res.headers['cache-control']), /no-store/)
    assert.equal(res.rawPayload.subarray(0, 6).toString('latin1'), 'GIF89a')
    assert.equal(res.rawPayload.readUInt16LE(6), 1, 'width')
    assert.equal(res.rawPayload.readUInt16LE(8), 1, 'height')
    const [event, ...rest] = await events(h)
    assert.deepEqual(rest, [])
    assert.equal(event?.event, 'Email Opened')
    assert.deepEqual(event?.properties, { campaign_id: 'spring-sale', email_id: 'msg-1' })
  })

  test('a bad, expired or wrong-kind pixel token still gets the GIF but records nothing', async () => {
    const expired = h.signer.sign(openPayload, 1_000)
    const click = h.signer.sign(clickPayload, DAY)
    h.clock.t += 5_000
    for (const token of ['garbage', tamper(h.signer.sign(openPayload, DAY), 10), expired, click]) {
      const res = await h.app.inject({ url: `/p/${token}` })
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['content-type'], 'image/gif')
      assert.equal(res.rawPayload.subarray(0, 3).toString('latin1'), 'GIF')
    }
    assert.equal(await h.log.lag('nobody'), 0)
  })

  test('GET /u shows a confirmation form that posts One-Click to the same URL, and does not unsubscribe', async () => {
    const url = `/u/${h.signer.sign(unsubPayload, DAY)}`
    const res = await h.app.inject({ url })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/html/)
    assert.match(res.body, /<form method="post">/)
    assert.match(res.body, /name="List-Unsubscribe" value="One-Click"/)
    assert.doesNotMatch(res.body, /action=/, 'the form posts to the page URL itself')
    assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/)
    assert.equal(await h.suppressions.isSuppressed('ws-a', 'jane@shop.example'), false)
    assert.equal(await h.log.lag('nobody'), 0)
  })

  test('a one-click POST suppresses the address at once, records Unsubscribed and answers 200 without a redirect', async () => {
    const res = await h.app.inject(oneClick(`/u/${h.signer.sign(unsubPayload, DAY)}`))
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers.location, undefined)
    assert.equal(res.headers['set-cookie'], undefined)
    assert.match(String(res.headers['content-type']), /^text\/plain/)
    assert.match(res.body, /unsubscribed/)
    assert.equal(await h.suppressions.isSuppressed('ws-a', 'jane@shop.example'), true)
    const [entry] = await h.suppressions.get('ws-a', 'jane@shop.example')
    assert.equal(entry?.reason, 'unsubscribed')
    assert.equal(entry?.source, 'spring-sale')
    const [event, ...rest] = await events(h)
    assert.deepEqual(rest, [])
    assert.equal(event?.event, 'Unsubscribed')
    assert.equal(event?.userId, 'user-1')
    assert.deepEqual(event?.properties, { campaign_id: 'spring-sale', email_id: 'msg-1' })
  })

  test('a one-click POST sent as multipart/form-data unsubscribes too', async () => {
    const boundary = 'b0undary'
    const res = await h.app.inject({
      method: 'POST',
      url: `/u/${h.signer.sign(unsubPayload, DAY)}`,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`,
    })
    assert.equal(res.statusCode, 200)
    assert.equal(await h.suppressions.isSuppressed('ws-a', 'jane@shop.example'), true)
  })

  test('a person submitting the confirmation form gets a page, not plain text', async () => {
    const res = await h.app.inject(
      oneClick(`/u/${h.signer.sign(unsubPayload, DAY)}`, { accept: 'text/html' }),
    )
    assert.equal(res.statusCode, 200)
    assert.match(res.body, /<h1>You are unsubscribed<\/h1>/)
  })

  test('without an address in the token the address is looked up; an unknown one suppresses and records nothing', async () => {
    const { email: _email, ...noEmail } = unsubPayload
    const token = h.signer.sign(noEmail, DAY)
    const unknown = await h.app.inject(oneClick(`/u/${token}`))
    assert.equal(unknown.statusCode, 404)
    assert.equal(unknown.headers['x-ink-error-code'], 'INK_ERR_RECIPIENT_UNKNOWN')
    assert.equal(await h.log.lag('nobody'), 0)
    h.emails.set('ws-a/user-1', 'current@shop.example')
    const res = await h.app.inject(oneClick(`/u/${token}`))
    assert.equal(res.statusCode, 200)
    assert.equal(await h.suppressions.isSuppressed('ws-a', 'current@shop.example'), true)
  })

  test('an expired but authentic unsubscribe link is still honoured; a tampered one is not', async () => {
    const token = h.signer.sign(unsubPayload, 1_000)
    h.clock.t += 365 * DAY
    const bad = await h.app.inject(oneClick(`/u/${tamper(token, token.length - 5)}`))
    assert.equal(bad.statusCode, 400)
    assert.equal(await h.suppressions.isSuppressed('ws-a', 'jane@shop.example'), false)
    const res = await h.app.inject(oneClick(`/u/${token}`))
    assert.equal(res.statusCode, 200)
    assert.equal(await h.suppressions.isSuppressed('ws-a', 'jane@shop.example'), true)
  })

  test('a workspace-A token affects workspace A only', async () => {
    await h.app.inject({ url: `/c/${h.signer.sign(clickPayload, DAY)}` })
    await h.app.inject({ url: `/p/${h.signer.sign(openPayload, DAY)}` })
    await h.app.inject(oneClick(`/u/${h.signer.sign(unsubPayload, DAY)}`))
    const recorded = await events(h)
    assert.equal(recorded.length, 3)
    assert.deepEqual(new Set(recorded.map((e) => e.workspaceId)), new Set(['ws-a']))
    assert.equal(await h.suppressions.isSuppressed('ws-a', 'jane@shop.example'), true)
    assert.equal(await h.suppressions.isSuppressed('ws-b', 'jane@shop.example'), false)
  })

  test('the form parser stays inside the tracking scope: other routes keep JSON only', async () => {
    const json = await h.app.inject({ method: 'POST', url: '/v1/echo', payload: { a: 1 } })
    assert.deepEqual(json.json(), { body: { a: 1 } })
    const form = await h.app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=1',
    })
    assert.equal(form.statusCode, 415)
  })

  test('a click still redirects when the event log cannot take the event', async () => {
    await h.log.close()
    const res = await h.app.inject({ url: `/c/${h.signer.sign(clickPayload, DAY)}` })
    assert.equal(res.statusCode, 302)
    assert.equal(res.headers.location, DEST)
  })
})

describe('tracking routes after key rotation', () => {
  test('a token whose key was rotated out is refused and records nothing', async () => {
    const h = await harness({ k2: K2 })
    try {
      const click = await h.app.inject({ url: `/c/${h.signer.sign(clickPayload, DAY)}` })
      assert.equal(click.statusCode, 400)
      assert.equal(click.headers.location, undefined)
      const unsub = await h.app.inject(oneClick(`/u/${h.signer.sign(unsubPayload, DAY)}`))
      assert.equal(unsub.statusCode, 400)
      assert.equal(await h.suppressions.isSuppressed('ws-a', 'jane@shop.example'), false)
      assert.equal(await h.log.lag('nobody'), 0)
    } finally {
      await close(h)
    }
  })
})
