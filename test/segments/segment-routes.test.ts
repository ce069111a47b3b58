import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import { installErrorHandler } from '../../src/http/error-handler.ts'
import { segmentRoutes } from '../../src/segments/segment-routes.ts'
import { SqliteSegmentStore } from '../../src/segments/sqlite-segment-store.ts'
import { SqliteWorkspaceStore } from '../../src/workspaces/sqlite-workspace-store.ts'

describe('segment routes', () => {
  let app: FastifyInstance
  let segments: SqliteSegmentStore
  let db: SqliteDatabase
  const auth = { authorization: 'Bearer ak_test' }
  before(async () => {
    db = openSqlite(':memory:')
    const workspaces = new SqliteWorkspaceStore(db)
    await workspaces.ensure('w', { adminKey: 'ak_test' })
    await workspaces.ensure('other', { adminKey: 'ak_other' })
    segments = new SqliteSegmentStore(db, { clock: { now: () => Date.parse('2026-11-28T12:00:00Z') } })
    app = Fastify()
    installErrorHandler(app)
    await app.register(async (scope) => segmentRoutes(scope, { segments, workspaces }))
  })
  after(() => app.close())

  test('PUT creates and changes a segment; GET reads it and lists them', async () => {
    const put = await app.inject({
      method: 'PUT',
      url: '/v1/segments/repeat',
      headers: auth,
      payload: { name: 'Repeat buyers', condition: { orders_total: { $gte: 2 } } },
    })
    assert.equal(put.statusCode, 200)
    assert.deepEqual(put.json(), {
      id: 'repeat',
      name: 'Repeat buyers',
      condition: { orders_total: { $gte: 2 } },
      version: 1,
      backfilled: false,
      updatedAt: '2026-11-28T12:00:00.000Z',
    })
    const again = await app.inject({
      method: 'PUT',
      url: '/v1/segments/repeat',
      headers: auth,
      payload: { condition: { orders_total: { $gte: 3 } } },
    })
    assert.equal(again.json().version, 2)
    assert.equal(again.json().name, 'Repeat buyers')
    const get = await app.inject({ url: '/v1/segments/repeat', headers: auth })
    assert.deepEqual(get.json().condition, { orders_total: { $gte: 3 } })
    const list = await app.inject({ url: '/v1/segments', headers: auth })
    assert.deepEqual(
      list.json().segments.map((s: { id: string }) => s.id),
      ['repeat'],
    )
    const otherList = await app.inject({ url: '/v1/segments', headers: { authorization: 'Bearer ak_other' } })
    assert.deepEqual(otherList.json(), { segments: [] })
  })

  test('a bad condition, id or body is a 400 INK_ERR_BAD_REQUEST naming the problem', async () => {
    const bad = await app.inject({
      method: 'PUT',
      url: '/v1/segments/bad',
      headers: auth,
      payload: { condition: { plan: { $bogus: 1 } } },
    })
    assert.equal(bad.statusCode, 400)
    assert.equal(bad.json().code, 'INK_ERR_BAD_REQUEST')
    assert.match(bad.json().message, /invalid segment condition: unknown query operator \$bogus/)
    const missing = await app.inject({ method: 'PUT', url: '/v1/segments/bad', headers: auth, payload: {} })
    assert.match(missing.json().message, /condition is required/)
    const badId = await app.inject({
      method: 'PUT',
      url: '/v1/segments/a%20b',
      headers: auth,
      payload: { condition: {} },
    })
    assert.equal(badId.statusCode, 400)
    const notFound = await app.inject({ url: '/v1/segments/bad', headers: auth })
    assert.equal(notFound.statusCode, 404)
    assert.equal(notFound.json().code, 'INK_ERR_NOT_FOUND')
  })

  test('the admin key is required', async () => {
    const res = await app.inject({ url: '/v1/segments' })
    assert.equal(res.statusCode, 401)
    assert.equal(res.json().code, 'INK_ERR_UNAUTHORIZED')
  })

  test('members are paged by profileId; DELETE removes the segment and its members', async () => {
    await app.inject({ method: 'PUT', url: '/v1/segments/paged', headers: auth, payload: { condition: {} } })
    // Membership rows are the processor's to write; here they are inserted directly.
    const add = db.prepare(
      `INSERT INTO segment_members (workspace_id, segment_id, profile_id, user_id, email, joined_at)
       VALUES ('w', 'paged', ?, ?, ?, 0)`,
    )
    for (const p of ['p3', 'p1', 'p2']) add.run(p, `u-${p}`, p === 'p2' ? null : `${p}@x.io`)
    const first = await app.inject({ url: '/v1/segments/paged/members?limit=2', headers: auth })
    assert.deepEqual(first.json(), {
      members: [
        { profileId: 'p1', userId: 'u-p1', email: 'p1@x.io' },
        { profileId: 'p2', userId: 'u-p2', email: null },
      ],
      next: 'p2',
    })
    const second = await app.inject({ url: '/v1/segments/paged/members?limit=2&after=p2', headers: auth })
    assert.deepEqual(second.json(), {
      members: [{ profileId: 'p3', userId: 'u-p3', email: 'p3@x.io' }],
      next: null,
    })
    // A full last page is the last: no `next` to an empty page.
    const whole = await app.inject({ url: '/v1/segments/paged/members?limit=3', headers: auth })
    assert.deepEqual([whole.json().members.length, whole.json().next], [3, null])
    const count = await app.inject({ url: '/v1/segments/paged/count', headers: auth })
    assert.deepEqual(count.json(), { id: 'paged', count: 3, capped: false, backfilled: false })
    const capped = await app.inject({ url: '/v1/segments/paged/count?max=2', headers: auth })
    assert.deepEqual(capped.json(), { id: 'paged', count: 2, capped: true, backfilled: false })
    const exact = await app.inject({ url: '/v1/segments/paged/count?max=3', headers: auth })
    assert.deepEqual(exact.json(), { id: 'paged', count: 3, capped: false, backfilled: false })
    const badMax = await app.inject({ url: '/v1/segments/paged/count?max=0', headers: auth })
    assert.equal(badMax.statusCode, 400)
    assert.equal(badMax.json().code, 'INK_ERR_BAD_REQUEST')
    const otherCount = await app.inject({
      url: '/v1/segments/paged/count',
      headers: { authorization: 'Bearer ak_other' },
    })
    assert.equal(otherCount.statusCode, 404)
    const unknownCount = await app.inject({ url: '/v1/segments/nope/count', headers: auth })
    assert.equal(unknownCount.statusCode, 404)
    const badLimit = await app.inject({ url: '/v1/segments/paged/members?limit=0', headers: auth })
    assert.equal(badLimit.statusCode, 400)
    const unknown = await app.inject({ url: '/v1/segments/nope/members', headers: auth })
    assert.equal(unknown.statusCode, 404)
    assert.equal(await segments.isMember('w', 'paged', 'p1'), true)

    const del = await app.inject({ method: 'DELETE', url: '/v1/segments/paged', headers: auth })
    assert.equal(del.statusCode, 204)
    assert.equal(await segments.isMember('w', 'paged', 'p1'), false)
    const again = await app.inject({ method: 'DELETE', url: '/v1/segments/paged', headers: auth })
    assert.equal(again.statusCode, 404)
  })
})
