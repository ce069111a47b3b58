/** GET /v1/webhooks/deliveries: the admin listing, paged newest first, by state, one workspace's only. */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import { installErrorHandler } from '../../src/http/error-handler.ts'
import { webhookRoutes } from '../../src/webhooks/delivery-routes.ts'
import type { WebhookDelivery } from '../../src/webhooks/outbox.ts'
import { SqliteWebhookOutbox } from '../../src/webhooks/sqlite-outbox.ts'
import { SqliteWorkspaceStore } from '../../src/workspaces/sqlite-workspace-store.ts'
import { openEvent, T0 } from './outbox-suite.ts'

const iso = (ms: number) => new Date(ms).toISOString()

describe('webhook deliveries route', () => {
  let app: FastifyInstance
  let db: SqliteDatabase
  let outbox: SqliteWebhookOutbox
  const clock = { t: T0, now: () => clock.t }
  const auth = { authorization: 'Bearer ak_test' }
  const made: WebhookDelivery[] = []

  before(async () => {
    db = openSqlite(':memory:')
    const workspaces = new SqliteWorkspaceStore(db)
    await workspaces.ensure('w', { adminKey: 'ak_test' })
    await workspaces.ensure('other', { adminKey: 'ak_other' })
    outbox = new SqliteWebhookOutbox(db, { clock, random: () => 0.5 })
    for (let i = 0; i < 5; i++) {
      clock.t = T0 + i * 1000
      made.push((await outbox.enqueue(openEvent(`msg-${i}`))).delivery)
    }
    await outbox.enqueue(openEvent('msg-other', 'other'))
    // msg-0 delivered, msg-1 failed once (pending again), the rest never tried.
    clock.t = T0 + 10_000
    const [c0, c1] = await outbox.claim(2)
    await outbox.record(c0!, { ok: true, status: 204 })
    await outbox.record(c1!, { ok: false, status: 500, error: 'the receiver answered 500' })
    app = Fastify()
    installErrorHandler(app)
    await app.register(async (scope) => webhookRoutes(scope, { outbox, workspaces }))
  })
  after(async () => {
    await app.close()
    await outbox.close()
    db.close()
  })

  const get = (url: string, headers: Record<string, string> = auth) => app.inject({ url, headers })

  test('lists every delivery newest first, with its attempts and body', async () => {
    const res = await get('/v1/webhooks/deliveries')
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.deepEqual(
      body.deliveries.map((d: { eventId: string; state: string }) => [d.eventId, d.state]),
      [
        ['msg-4', 'pending'],
        ['msg-3', 'pending'],
        ['msg-2', 'pending'],
        ['msg-1', 'pending'],
        ['msg-0', 'delivered'],
      ],
    )
    assert.equal(body.next, null)
    assert.deepEqual(body.deliveries[3], {
      id: made[1]!.id,
      kind: 'open',
      eventId: 'msg-1',
      state: 'pending',
      attempts: 1,
      nextAttemptAt: iso(T0 + 10_000 + 27_000),
      firstAttemptAt: iso(T0 + 10_000),
      lastAttemptAt: iso(T0 + 10_000),
      lastStatus: 500,
      lastError: 'the receiver answered 500',
      createdAt: iso(T0 + 1000),
      deliveredAt: null,
      payload: JSON.parse(made[1]!.payload),
    })
    assert.deepEqual(body.deliveries[4].deliveredAt, iso(T0 + 10_000))
    assert.deepEqual(body.deliveries[4].lastStatus, 204)
  })

  test('pages with limit and after until next is null', async () => {
    const seen: string[] = []
    let url = '/v1/webhooks/deliveries?limit=2'
    const nexts: (string | null)[] = []
    for (let i = 0; i < 5; i++) {
      const body = (await get(url)).json()
      seen.push(...body.deliveries.map((d: { id: string }) => d.id))
      nexts.push(body.next)
      if (body.next === null) break
      url = `/v1/webhooks/deliveries?limit=2&after=${body.next}`
    }
    const newest = made.map((d) => d.id).reverse()
    assert.deepEqual(seen, newest)
    assert.deepEqual(nexts, [newest[1], newest[3], null])
  })

  test('filters by state', async () => {
    const ids = async (state: string) =>
      (await get(`/v1/webhooks/deliveries?state=${state}`))
        .json()
        .deliveries.map((d: { eventId: string }) => d.eventId)
    assert.deepEqual(await ids('delivered'), ['msg-0'])
    assert.deepEqual(await ids('pending'), ['msg-4', 'msg-3', 'msg-2', 'msg-1'])
    assert.deepEqual(await ids('failed'), [])
  })

  test("another workspace's key sees only its own deliveries", async () => {
    const body = (await get('/v1/webhooks/deliveries', { authorization: 'Bearer ak_other' })).json()
    assert.deepEqual(
      body.deliveries.map((d: { eventId: string }) => d.eventId),
      ['msg-other'],
    )
  })

  test('a bad state or limit is a 400 naming the field; no key is a 401', async () => {
    const bad = await get('/v1/webhooks/deliveries?state=sent&limit=0')
    assert.equal(bad.statusCode, 400)
    assert.deepEqual(bad.json(), {
      success: false,
      code: 'INK_ERR_BAD_REQUEST',
      message:
        'invalid request: state: state is one of pending, delivered, failed; limit: limit must be an integer from 1 to 1000',
      issues: [
        'state: state is one of pending, delivered, failed',
        'limit: limit must be an integer from 1 to 1000',
      ],
    })
    const none = await app.inject({ url: '/v1/webhooks/deliveries' })
    assert.equal(none.statusCode, 401)
    assert.equal(none.json().code, 'INK_ERR_UNAUTHORIZED')
  })
})
