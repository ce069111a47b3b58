/**
 * RudderStack's shapes, in process: identify traits in context.traits (folded once, the event's own
 * only), originalTimestamp, GET /sourceConfig and the beacon path with the write key in the query.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { storedEventsById as readEvents } from '../helpers/log.ts'

const ORIGIN = 'http://shop.example'

describe("collector paths and shapes of RudderStack's SDKs", () => {
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
})
