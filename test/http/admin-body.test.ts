/**
 * A NUL character (U+0000) in an admin API body is refused with 400 INK_ERR_NUL_CHARACTER on every
 * backend, before anything is stored. PostgreSQL text and jsonb cannot hold it: before this check
 * some PostgreSQL stores failed with a 500, others stored U+FFFD instead, and SQLite kept it.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import { openSqlite } from '../../src/db/sqlite.ts'
import { MAX_ADMIN_BODY_DEPTH, nulPath } from '../../src/http/admin-body.ts'
import { installErrorHandler } from '../../src/http/error-handler.ts'
import { PgSegmentStore } from '../../src/segments/pg-segment-store.ts'
import { segmentRoutes } from '../../src/segments/segment-routes.ts'
import type { SegmentStore } from '../../src/segments/segment-store.ts'
import { SqliteSegmentStore } from '../../src/segments/sqlite-segment-store.ts'
import { PgWorkspaceStore } from '../../src/workspaces/pg-workspace-store.ts'
import { SqliteWorkspaceStore } from '../../src/workspaces/sqlite-workspace-store.ts'
import type { WorkspaceStore } from '../../src/workspaces/workspace-store.ts'
import { api } from '../campaigns/campaign-api.ts'
import { startTestApp } from '../helpers/app.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'

const skipPg = await pgSkip()

test('nulPath names the first key or value holding U+0000', () => {
  assert.equal(nulPath({ a: 'ok', b: ['x', 'y\0'] }), '$.b[1]')
  assert.equal(nulPath({ 'odd key': { 'k\0': 1 } }), '$["odd key"]["k\\u0000"]')
  assert.equal(nulPath({ a: 1, b: null, c: [true, { d: 'fine' }] }), undefined)
  assert.equal(nulPath('\0'), '$')
})

async function segmentsOver(segments: SegmentStore, workspaces: WorkspaceStore) {
  await workspaces.ensure('w', { adminKey: 'ak_nul' })
  const app = Fastify()
  installErrorHandler(app)
  await app.register(async (scope) => segmentRoutes(scope, { segments, workspaces }))
  const put = (payload: string) =>
    app.inject({
      method: 'PUT',
      url: '/v1/segments/s1',
      headers: { authorization: 'Bearer ak_nul', 'content-type': 'application/json' },
      payload,
    })
  const refused = await put('{"condition":{"plan":"pro\\u0000"}}')
  assert.equal(refused.statusCode, 400, refused.body)
  assert.equal(refused.json().code, 'INK_ERR_NUL_CHARACTER')
  assert.equal(refused.json().path, '$.condition.plan')
  const key = await put('{"condition":{"pl\\u0000an":"pro"}}')
  assert.equal(key.statusCode, 400, key.body)
  assert.equal(key.json().path, '$.condition["pl\\u0000an"]')
  assert.equal(await segments.get('w', 's1'), undefined, 'nothing was stored')
  // The same body without the NUL is taken.
  assert.equal((await put('{"condition":{"plan":"pro"}}')).statusCode, 200)
  // In an id or a query value (`%00` in the URL): PostgreSQL refused it with a 500, SQLite said 404.
  const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: 'Bearer ak_nul' } })
  for (const [url, path] of [
    ['/v1/segments/s%001', 'params.id'],
    ['/v1/segments/s1/members?after=a%00b', 'query.after'],
  ] as const) {
    const res = await get(url)
    assert.equal(res.statusCode, 400, `${url}: ${res.body}`)
    assert.deepEqual([res.json().code, res.json().path], ['INK_ERR_NUL_CHARACTER', path])
  }
  assert.equal((await get('/v1/segments/s1/members?after=ab')).statusCode, 200)
  await app.close()
}

describe('admin bodies with a NUL character', () => {
  test('segments over SQLite', async () => {
    const db = openSqlite(':memory:')
    try {
      await segmentsOver(new SqliteSegmentStore(db), new SqliteWorkspaceStore(db))
    } finally {
      db.close()
    }
  })

  test('segments over PostgreSQL', { skip: skipPg }, async () => {
    const schema = await freshSchema()
    try {
      const pool = schema.connect()
      await segmentsOver(new PgSegmentStore(pool), await PgWorkspaceStore.open(pool))
    } finally {
      await schema.drop()
    }
  })

  test('templates, blocks, campaigns, triggers and profile routes of the app', async () => {
    const app = await startTestApp()
    try {
      const template = await api(app, 'PUT', '/v1/templates/t1', { subject: 'Hi', html: '<p>a\0b</p>' })
      assert.equal(template.status, 400)
      assert.deepEqual([template.body.code, template.body.path], ['INK_ERR_NUL_CHARACTER', '$.html'])
      assert.equal((await api(app, 'GET', '/v1/templates/t1')).status, 404, 'nothing was stored')
      const block = await api(app, 'PUT', '/v1/blocks/footer', { source: '\0' })
      assert.deepEqual([block.status, block.body.path], [400, '$.source'])
      assert.equal(
        (await api(app, 'PUT', '/v1/templates/t1', { subject: 'Hi', html: '<p>ab</p>' })).status,
        201,
      )
      const campaign = await api(app, 'PUT', '/v1/campaigns/c1', {
        templateId: 't1',
        audience: { userIds: ['u1', 'u\0'] },
      })
      assert.deepEqual([campaign.status, campaign.body.path], [400, '$.audience.userIds[1]'])
      const trigger = await api(app, 'PUT', '/v1/triggers/tr1', {
        event: 'Product Viewed\0',
        templateId: 't1',
      })
      assert.deepEqual([trigger.status, trigger.body.code], [400, 'INK_ERR_NUL_CHARACTER'])
    } finally {
      await app.close()
    }
  })
})

/** `{"condition": [[[…]]]}` nested `depth` arrays deep, as raw JSON text. */
const deepBody = (depth: number, key = 'condition') => `{"${key}":${'['.repeat(depth)}${']'.repeat(depth)}}`

describe('admin bodies nested too deep', () => {
  test('nulPath walks a body nested 100,000 deep without running out of stack', () => {
    const deep = JSON.parse(deepBody(100_000))
    assert.equal(nulPath(deep), undefined)
    let inner: unknown[] = ['x\0']
    for (let i = 0; i < 100_000; i++) inner = [inner]
    assert.equal(nulPath({ a: inner }), `$.a${'[0]'.repeat(100_001)}`)
  })

  test('a body nested 100,000 deep is a 400 INK_ERR_BODY_TOO_DEEP on every admin route, not a 500', async () => {
    const app = await startTestApp()
    try {
      const send = (method: string, path: string, payload: string) =>
        fetch(`${app.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
          body: payload,
        })
      for (const [method, path, key] of [
        ['PUT', '/v1/segments/deep', 'condition'],
        ['PUT', '/v1/templates/deep', 'html'],
        ['PUT', '/v1/campaigns/deep', 'audience'],
        ['PUT', '/v1/triggers/deep', 'event'],
      ] as const) {
        const res = await send(method, path, deepBody(100_000, key))
        const body = (await res.json()) as { code: string; message: string; path: string }
        assert.equal(res.status, 400, `${path}: ${JSON.stringify(body)}`)
        assert.equal(body.code, 'INK_ERR_BODY_TOO_DEEP', path)
        assert.match(body.message, new RegExp(`deeper than ${MAX_ADMIN_BODY_DEPTH} levels`))
        assert.equal(body.path, `$.${key}${'[0]'.repeat(MAX_ADMIN_BODY_DEPTH - 1)}`)
      }
      assert.equal((await api(app, 'GET', '/v1/segments/deep')).status, 404, 'nothing was stored')
      // At the limit, the body reaches the route, which judges it on its merits.
      const atLimit = await send('PUT', '/v1/segments/deep', deepBody(MAX_ADMIN_BODY_DEPTH - 1))
      assert.notEqual(((await atLimit.json()) as { code: string }).code, 'INK_ERR_BODY_TOO_DEEP')
    } finally {
      await app.close()
    }
  })
})
