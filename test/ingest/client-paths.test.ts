/**
 * The paths real clients use, in process: analytics.js's short paths (/v1/t …) and its batch path
 * /v1/b, Segment's server libraries' /v1/import (with a trailing slash), and the CORS headers on
 * every collector answer, errors and 404 included. RudderStack's: rudderstack-paths.test.ts.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { storedEventsById as readEvents } from '../helpers/log.ts'

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
