/**
 * The suppression list routes in process: workspace scoping, address normalisation, paging with
 * `after`, the reason filter, and the 400 / 404 answers with the field they name.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import { SqliteSuppressionStore } from '../../src/delivery/sqlite-suppression-store.ts'
import { parseCursor, suppressionRoutes } from '../../src/delivery/suppression-routes.ts'
import { installErrorHandler } from '../../src/http/error-handler.ts'
import { SqliteWorkspaceStore } from '../../src/workspaces/sqlite-workspace-store.ts'

const T0 = 1_800_000_000_000

describe('suppression list routes', () => {
  let db: SqliteDatabase
  let app: FastifyInstance
  let store: SqliteSuppressionStore
  before(async () => {
    db = openSqlite(':memory:')
    const workspaces = new SqliteWorkspaceStore(db)
    await workspaces.ensure('w1', { adminKey: 'ak_one' })
    await workspaces.ensure('w2', { adminKey: 'ak_two' })
    store = new SqliteSuppressionStore(db, { clock: { now: () => T0 } })
    app = Fastify()
    installErrorHandler(app)
    await app.register(async (scope) => suppressionRoutes(scope, { suppressions: store, workspaces }))
  })
  after(async () => {
    await app.close()
    await store.close()
    db.close()
  })

  const call = async (key: string, method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const res = await app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    })
    return { status: res.statusCode, body: res.body === '' ? null : res.json() }
  }

  test('an entry is added once per reason, shown normalised with its source, and only to its workspace', async () => {
    const first = await call('ak_one', 'PUT', '/v1/suppressions/Jane@Shop.EXAMPLE', { reason: 'complained' })
    assert.equal(first.status, 201)
    assert.deepEqual(first.body, {
      email: 'jane@shop.example',
      reason: 'complained',
      source: 'api',
      createdAt: T0,
    })
    // Again, with another source: the first entry stands (200).
    const again = await call('ak_one', 'PUT', '/v1/suppressions/jane@shop.example', {
      reason: 'complained',
      source: 'manual',
    })
    assert.equal(again.status, 200)
    assert.equal(again.body.source, 'api')
    const one = await call('ak_one', 'GET', '/v1/suppressions/JANE@shop.example')
    assert.deepEqual(
      one.body.suppressions.map((e: { reason: string }) => e.reason),
      ['complained'],
    )

    // The other workspace's key sees nothing of it, and cannot remove it.
    assert.deepEqual((await call('ak_two', 'GET', '/v1/suppressions')).body, { suppressions: [], next: null })
    const theirs = await call('ak_two', 'GET', '/v1/suppressions/jane@shop.example')
    assert.equal(theirs.status, 404)
    assert.equal(theirs.body.code, 'INK_ERR_NOT_FOUND')
    assert.equal((await call('ak_two', 'DELETE', '/v1/suppressions/jane@shop.example')).status, 404)
    assert.equal(await store.isSuppressed('w1', 'jane@shop.example'), true)
    assert.equal(await store.isSuppressed('w2', 'jane@shop.example'), false)

    const del = await call('ak_one', 'DELETE', '/v1/suppressions/jane@shop.example?reason=complained')
    assert.equal(del.status, 204)
    assert.equal(await store.isSuppressed('w1', 'jane@shop.example'), false)
    const gone = await call('ak_one', 'DELETE', '/v1/suppressions/jane@shop.example')
    assert.equal(gone.status, 404)
    assert.match(gone.body.message, /jane@shop\.example/)
  })

  test('the list pages with `next` as `after`, without skipping or repeating, and filters by reason', async () => {
    for (const [email, reason] of [
      ['c@x.example', 'unsubscribed'],
      ['a@x.example', 'unsubscribed'],
      ['b@x.example', 'bounced'],
      ['b@x.example', 'unsubscribed'],
      ['d@x.example', 'bounced'],
    ] as const)
      assert.equal((await call('ak_two', 'PUT', `/v1/suppressions/${email}`, { reason })).status, 201)
    const seen: string[] = []
    let url = '/v1/suppressions?limit=2'
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 5, 'the pages end')
      const page = await call('ak_two', 'GET', url)
      assert.equal(page.status, 200)
      seen.push(
        ...page.body.suppressions.map((e: { email: string; reason: string }) => `${e.email}/${e.reason}`),
      )
      if (page.body.next === null) break
      url = `/v1/suppressions?limit=2&after=${encodeURIComponent(page.body.next)}`
    }
    assert.deepEqual(seen, [
      'a@x.example/unsubscribed',
      'b@x.example/bounced',
      'b@x.example/unsubscribed',
      'c@x.example/unsubscribed',
      'd@x.example/bounced',
    ])
    const bounced = await call('ak_two', 'GET', '/v1/suppressions?reason=bounced')
    assert.deepEqual(
      bounced.body.suppressions.map((e: { email: string }) => e.email),
      ['b@x.example', 'd@x.example'],
    )
    // A last page that is exactly full says it is the last (no `next` to an empty page), filter included.
    const full = await call('ak_two', 'GET', '/v1/suppressions?reason=bounced&limit=2')
    assert.deepEqual([full.body.suppressions.length, full.body.next], [2, null])
    const notLast = await call('ak_two', 'GET', '/v1/suppressions?reason=bounced&limit=1')
    assert.equal(notLast.body.next, 'b@x.example:bounced')
    // `after` may be a plain address: the page starts with the next address.
    const afterB = await call('ak_two', 'GET', '/v1/suppressions?after=B@x.example')
    assert.deepEqual(
      afterB.body.suppressions.map((e: { email: string }) => e.email),
      ['c@x.example', 'd@x.example'],
    )
  })

  test('bad input is a 400 INK_ERR_BAD_REQUEST naming the field', async () => {
    const cases: [string, 'GET' | 'PUT' | 'DELETE', string, unknown, RegExp][] = [
      [
        'not an address',
        'PUT',
        '/v1/suppressions/jane',
        { reason: 'bounced' },
        /email: not an email address/,
      ],
      ['unknown reason', 'PUT', '/v1/suppressions/jane@shop.example', { reason: 'spam' }, /reason:/],
      ['missing reason', 'PUT', '/v1/suppressions/jane@shop.example', {}, /reason:/],
      [
        'source with a newline',
        'PUT',
        '/v1/suppressions/jane@shop.example',
        { reason: 'bounced', source: 'a\nb' },
        /source:/,
      ],
      ['unknown field', 'PUT', '/v1/suppressions/jane@shop.example', { reason: 'bounced', why: 'x' }, /why/],
      ['limit too large', 'GET', '/v1/suppressions?limit=5000', undefined, /limit:/],
      ['reason filter', 'GET', '/v1/suppressions?reason=spam', undefined, /reason:/],
      ['delete of a non-address', 'DELETE', '/v1/suppressions/nobody', undefined, /email:/],
    ]
    for (const [name, method, url, body, field] of cases) {
      const res = await call('ak_one', method, url, body)
      assert.equal(res.status, 400, name)
      assert.equal(res.body.code, 'INK_ERR_BAD_REQUEST', name)
      assert.match(res.body.message, field, name)
    }
    assert.equal(await store.isSuppressed('w1', 'jane@shop.example'), false, 'nothing was stored')
  })

  test('a cursor is `<email>:<reason>`; anything else is an address', () => {
    assert.deepEqual(parseCursor('a@x.example:bounced'), { email: 'a@x.example', reason: 'bounced' })
    assert.deepEqual(parseCursor('a@x.example'), { email: 'a@x.example' })
    assert.deepEqual(parseCursor('a:b@x.example'), { email: 'a:b@x.example' })
    assert.deepEqual(parseCursor('a@x.example:spam'), { email: 'a@x.example:spam' })
  })
})
