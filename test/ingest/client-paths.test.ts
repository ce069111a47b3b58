/**
 * The paths and shapes real clients use, in process: analytics.js's short paths (/v1/t …) and its
 * batch path /v1/b, Segment's server libraries' /v1/import, RudderStack's context.traits and
 * originalTimestamp, and the CORS headers on every collector answer, errors and 404 included.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { LOG_FILE } from '../../src/app.ts'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'

const ORIGIN = 'http://shop.example'

describe('collector paths of real clients', () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
  })
  after(() => app.close())

  const post = (url: string, payload: string | object, headers: Record<string, string> = {}) =>
    app.server.inject({
      method: 'POST',
      url,
      headers: { origin: ORIGIN, 'content-type': 'text/plain', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    })

  async function profile(id: string): Promise<{ traits: Record<string, unknown> }> {
    await waitForProcessed(app)
    const res = await app.server.inject({
      method: 'GET',
      url: `/v1/profiles/${encodeURIComponent(id)}`,
      headers: { authorization: `Bearer ${app.workspace.adminKey}` },
    })
    assert.equal(res.statusCode, 200, res.body)
    return res.json()
  }

  test('analytics.js short paths /v1/t, /v1/i, /v1/p, /v1/s, /v1/g, /v1/a store events of their type', async () => {
    const writeKey = app.workspace.writeKey
    const calls: [string, object][] = [
      ['/v1/i', { type: 'identify', userId: 'short', traits: { email: 'short@example.com' } }],
      ['/v1/t', { type: 'track', userId: 'short', event: 'Order Completed', properties: { revenue: 12 } }],
      ['/v1/p', { type: 'page', userId: 'short', name: 'Home' }],
      ['/v1/s', { type: 'screen', userId: 'short', name: 'Cart' }],
      ['/v1/g', { type: 'group', userId: 'short', groupId: 'g1' }],
      ['/v1/a', { type: 'alias', userId: 'short', previousId: 'anon-short' }],
    ]
    for (const [path, event] of calls) {
      const res = await post(path, { ...event, writeKey })
      assert.equal(res.statusCode, 200, `${path}: ${res.body}`)
      assert.equal(res.headers['access-control-allow-origin'], '*', path)
    }
    // The type comes from the path, as on /v1/track: a /v1/t body without "event" is refused.
    const bad = await post('/v1/t', { userId: 'short', writeKey })
    assert.equal(bad.statusCode, 400)
    assert.match(bad.json().message, /track: "event"/)
    const { traits } = await profile('short')
    assert.equal(traits.email, 'short@example.com')
    assert.equal(traits.orders_total, 1)
    assert.equal(traits.revenue_total, 12)
    // The alias joined the previous id to the same profile.
    assert.equal((await profile('anon-short')).traits.email, 'short@example.com')
  })

  for (const path of ['/v1/b', '/v1/import']) {
    test(`${path} takes a batch like /v1/batch, with the write key in the body or as Basic auth`, async () => {
      const userId = `batch${path.replaceAll('/', '-')}`
      const batch = [
        { type: 'identify', userId, traits: { email: `${userId}@example.com` } },
        { type: 'track', userId, event: 'Order Completed', properties: { revenue: 7 } },
        { type: 'track', userId },
      ]
      const inBody = await post(path, { writeKey: app.workspace.writeKey, batch })
      assert.equal(inBody.statusCode, 200, inBody.body)
      assert.equal(inBody.json().accepted, 2)
      assert.deepEqual(
        inBody.json().rejected.map((r: { index: number }) => r.index),
        [2],
      )
      const basic = await post(
        path,
        { batch: [{ type: 'track', userId, event: 'Order Completed', properties: { revenue: 5 } }] },
        { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      )
      assert.equal(basic.statusCode, 200, basic.body)
      const { traits } = await profile(userId)
      assert.equal(traits.email, `${userId}@example.com`)
      assert.equal(traits.revenue_total, 12)
    })
  }

  test('every collector path also answers with a trailing slash, as analytics-java posts /v1/import/', async () => {
    const writeKey = app.workspace.writeKey
    const paths = ['/v1/track/', '/v1/t/', '/v1/identify/', '/v1/i/', '/v1/batch/', '/v1/b/', '/v1/import/']
    for (const path of paths) {
      const messageId = `slash${path.replaceAll('/', '-')}`
      const batched = path.includes('b') || path.includes('import')
      // A batch item names its type; a single call's type comes from the path alone.
      const identify = path === '/v1/identify/' || path === '/v1/i/'
      const event = identify
        ? { userId: 'slash', messageId, traits: { via: path } }
        : { type: 'track', userId: 'slash', event: `via ${path}`, messageId }
      const res = await post(path, batched ? { writeKey, batch: [event] } : { ...event, writeKey })
      assert.equal(res.statusCode, 200, `${path}: ${res.body}`)
      const stored = readEvents(app, messageId)
      assert.equal(stored.length, 1, `${path}: stored once`)
      if (identify) {
        assert.equal(stored[0]?.type, 'identify', path)
        assert.deepEqual(stored[0]?.traits, { via: path })
      } else {
        assert.equal(stored[0]?.type, 'track', path)
        assert.equal(stored[0]?.event, `via ${path}`)
      }
    }
  })

  test("/beacon/v1/batch takes RudderStack's beacon batches with the write key in the query", async () => {
    const batch = [
      { type: 'identify', userId: 'beacon-user', context: { traits: { email: 'beacon@example.com' } } },
    ]
    const res = await post(`/beacon/v1/batch?writeKey=${app.workspace.writeKey}`, { batch })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal((await profile('beacon-user')).traits.email, 'beacon@example.com')
    const unknown = await post('/beacon/v1/batch?writeKey=nope', { batch })
    assert.equal(unknown.statusCode, 401)
    // The query is read on the beacon path only: elsewhere the key goes in a header or the body.
    const elsewhere = await post(`/v1/batch?writeKey=${app.workspace.writeKey}`, { batch })
    assert.equal(elsewhere.statusCode, 401)
  })

  test('a batch path keeps the batch size limit, not the single-event one', async () => {
    const batch = Array.from({ length: 3 }, (_, i) => ({
      type: 'track',
      userId: 'big-b',
      event: `e${i}`,
      properties: { s: 'x'.repeat(20_000) },
    }))
    const res = await post('/v1/b', { writeKey: app.workspace.writeKey, batch })
    assert.equal(res.statusCode, 200, res.body.slice(0, 200))
    assert.equal(res.json().accepted, 3)
  })

  test('RudderStack identify traits in context.traits reach the profile; top-level traits win', async () => {
    const res = await post('/v1/batch', {
      writeKey: app.workspace.writeKey,
      batch: [
        {
          type: 'identify',
          userId: 'rudder-ctx',
          messageId: 'rudder-ctx-identify',
          context: { traits: { email: 'ctx@example.com', firstName: 'Ctx', plan: 'free' }, locale: 'fr' },
          traits: { plan: 'pro' },
        },
        // Rudder repeats context.traits on every event; on a track they are context, not an identify.
        {
          type: 'track',
          userId: 'rudder-ctx',
          messageId: 'rudder-ctx-track',
          event: 'Product Viewed',
          context: { traits: { email: 'other@example.com' } },
        },
      ],
    })
    assert.equal(res.statusCode, 200, res.body)
    const { traits } = await profile('rudder-ctx')
    assert.equal(traits.email, 'ctx@example.com')
    assert.equal(traits.first_name, 'Ctx')
    assert.equal(traits.plan, 'pro')
    // Stored once: the identify's context.traits are folded into traits and not kept in context.
    const [identify] = readEvents(app, 'rudder-ctx-identify')
    assert.deepEqual(identify?.traits, { email: 'ctx@example.com', firstName: 'Ctx', plan: 'pro' })
    assert.equal(identify?.context?.traits, undefined)
    assert.equal(identify?.context?.locale, 'fr')
    // The track is stored as sent: context.traits stay context, no traits appear.
    const [track] = readEvents(app, 'rudder-ctx-track')
    assert.equal(track?.traits, undefined)
    assert.deepEqual(track?.context?.traits, { email: 'other@example.com' })
  })

  test("a batch's shared context.traits are context, not the traits of every identify in it", async () => {
    const res = await post('/v1/batch', {
      writeKey: app.workspace.writeKey,
      context: { traits: { plan: 'batchctx' } },
      batch: [
        { type: 'identify', userId: 'rudder-shared', messageId: 'rudder-shared-1', traits: { plan: 'own' } },
      ],
    })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal((await profile('rudder-shared')).traits.plan, 'own')
    const res2 = await post('/v1/batch', {
      writeKey: app.workspace.writeKey,
      context: { traits: { plan: 'batchctx', tier: 'gold' } },
      batch: [{ type: 'identify', userId: 'rudder-shared', messageId: 'rudder-shared-2' }],
    })
    assert.equal(res2.statusCode, 200, res2.body)
    const { traits } = await profile('rudder-shared')
    assert.equal(traits.plan, 'own')
    assert.equal(traits.tier, undefined)
    const [stored] = readEvents(app, 'rudder-shared-2')
    assert.equal(stored?.traits, undefined)
    assert.deepEqual(stored?.context?.traits, { plan: 'batchctx', tier: 'gold' })
  })

  test("an identify with 30 KB of context.traits, within RudderStack's 32 KB, is accepted and stored once", async () => {
    const res = await post('/v1/identify', {
      writeKey: app.workspace.writeKey,
      userId: 'rudder-big',
      messageId: 'rudder-big-1',
      context: { traits: { bio: 'b'.repeat(30_000) }, library: { name: 'RudderLabs JavaScript SDK' } },
    })
    assert.equal(res.statusCode, 200, res.body)
    const [stored] = readEvents(app, 'rudder-big-1')
    assert.equal((stored?.traits?.bio as string | undefined)?.length, 30_000)
    assert.equal(stored?.context?.traits, undefined)
    assert.ok(JSON.stringify(stored).length < 32_768)
  })

  test('originalTimestamp without timestamp times the event, corrected for clock skew by sentAt', async () => {
    // The client's clock is an hour fast; the event happened 10 s before it was sent.
    const sentAt = new Date(Date.now() + 3_600_000)
    const originalTimestamp = new Date(sentAt.getTime() - 10_000).toISOString()
    const before = Date.now()
    const res = await post('/v1/track', {
      writeKey: app.workspace.writeKey,
      userId: 'rudder-time',
      event: 'x',
      messageId: 'rudder-time-1',
      originalTimestamp,
      sentAt: sentAt.toISOString(),
    })
    assert.equal(res.statusCode, 200, res.body)
    const [event] = readEvents(app, 'rudder-time-1')
    const ts = Date.parse(event!.timestamp)
    const received = Date.parse(event!.receivedAt)
    assert.equal(received - ts, 10_000, 'timestamp = receivedAt - (sentAt - originalTimestamp)')
    assert.ok(ts < before, 'the event is placed in the past, not an hour ahead')
    assert.equal(event!.originalTimestamp, originalTimestamp)
  })

  test("GET /sourceConfig/ answers RudderStack's JS SDK with an enabled source and no destinations", async () => {
    const get = (url: string, headers: Record<string, string> = {}) =>
      app.server.inject({ method: 'GET', url, headers: { origin: ORIGIN, ...headers } })
    const byBasic = await get('/sourceConfig/?p=npm&v=3.34.1&build=modern', {
      authorization: basicAuth(app.workspace.writeKey),
    })
    assert.equal(byBasic.statusCode, 200, byBasic.body)
    assert.equal(byBasic.headers['access-control-allow-origin'], '*')
    const { source } = byBasic.json()
    assert.equal(source.id, app.workspace.id)
    assert.equal(source.enabled, true)
    assert.deepEqual(source.config, {}, 'no error or metrics reporting to RudderStack')
    assert.deepEqual(source.destinations, [])
    const byQuery = await get(`/sourceConfig?writeKey=${app.workspace.writeKey}`)
    assert.equal(byQuery.statusCode, 200)
    assert.deepEqual(byQuery.json(), byBasic.json())
    const unknown = await get('/sourceConfig/?writeKey=nope')
    assert.equal(unknown.statusCode, 401)
    assert.equal(unknown.json().code, 'INK_ERR_UNAUTHORIZED')
    assert.equal(unknown.headers['access-control-allow-origin'], '*')
    const none = await get('/sourceConfig/')
    assert.equal(none.statusCode, 401)
    assert.match(none.json().message, /"writeKey" query parameter/)
  })

  test('every collector answer carries CORS headers: success, 4xx errors and unknown paths', async () => {
    const answers = {
      ok: await post('/v1/t', { writeKey: app.workspace.writeKey, userId: 'c', event: 'x' }),
      unauthorized: await post('/v1/t', { userId: 'c', event: 'x' }),
      invalidJson: await post('/v1/b', '{"batch": ['),
      mediaType: await post('/v1/t', '<x/>', { 'content-type': 'application/xml' }),
      tooLarge: await post('/v1/t', { userId: 'c', event: 'x', s: 'x'.repeat(40_000) }),
      notFound: await post('/v1/x', { userId: 'c' }),
      wrongMethod: await app.server.inject({ method: 'GET', url: '/v1/t', headers: { origin: ORIGIN } }),
    }
    const statuses = Object.fromEntries(Object.entries(answers).map(([k, r]) => [k, r.statusCode]))
    assert.deepEqual(statuses, {
      ok: 200,
      unauthorized: 401,
      invalidJson: 400,
      mediaType: 415,
      tooLarge: 413,
      notFound: 404,
      wrongMethod: 404,
    })
    for (const [name, res] of Object.entries(answers)) {
      assert.equal(res.headers['access-control-allow-origin'], '*', `${name} (${res.statusCode})`)
    }
    assert.equal(answers.notFound.json().code, 'INK_ERR_NOT_FOUND')
  })

  test('a preflight for any collector path allows the Authorization header analytics.js sends', async () => {
    for (const url of ['/v1/t', '/v1/b', '/v1/import', '/v1/nothing']) {
      const res = await app.server.inject({
        method: 'OPTIONS',
        url,
        headers: {
          origin: ORIGIN,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      })
      assert.equal(res.statusCode, 204, url)
      assert.equal(res.headers['access-control-allow-origin'], '*', url)
      assert.match(String(res.headers['access-control-allow-methods']), /POST/, url)
      assert.match(String(res.headers['access-control-allow-headers']), /authorization/i, url)
    }
  })
})

interface StoredEvent {
  type: string
  event?: string
  traits?: Record<string, unknown>
  context?: Record<string, unknown>
  timestamp: string
  receivedAt: string
  originalTimestamp?: string
}

function readEvents(app: TestApp, messageId: string): StoredEvent[] {
  const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
  try {
    const rows = db.prepare('SELECT payload FROM log_events WHERE message_id = ?').pluck().all(messageId)
    return rows.map((r) => JSON.parse(r as string) as StoredEvent)
  } finally {
    db.close()
  }
}
