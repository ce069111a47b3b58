/**
 * The admin scope: one hook checks the admin key and hands the handler `req.workspace`; the route's
 * zod schemas validate the request (400 INK_ERR_BAD_REQUEST naming each field) and the response
 * (a field the schema does not declare is a 500, never silently dropped from the answer).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { z } from 'zod'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import { adminScope } from '../../src/http/admin-scope.ts'
import { installErrorHandler } from '../../src/http/error-handler.ts'
import { SqliteWorkspaceStore } from '../../src/workspaces/sqlite-workspace-store.ts'
import { basicAuth } from '../helpers/app.ts'

describe('admin scope', () => {
  let db: SqliteDatabase
  let app: FastifyInstance
  let handled = 0
  before(async () => {
    db = openSqlite(':memory:')
    const workspaces = new SqliteWorkspaceStore(db)
    await workspaces.ensure('w1', { adminKey: 'ak_one', writeKey: 'wk_one' })
    await workspaces.ensure('w2', { adminKey: 'ak_two' })
    app = Fastify()
    installErrorHandler(app)
    await adminScope(app, workspaces, (admin) => {
      admin.put(
        '/things/:id',
        {
          schema: {
            params: z.object({ id: z.string().regex(/^[a-z]+$/, 'lowercase letters only') }),
            body: z.object({ size: z.number().int().min(1), tags: z.array(z.string()).optional() }),
            response: { 200: z.strictObject({ workspace: z.string(), id: z.string(), size: z.number() }) },
          },
        },
        async (req) => {
          handled++
          return { workspace: req.workspace.id, id: req.params.id, size: req.body.size }
        },
      )
      admin.get(
        '/leaky',
        { schema: { response: { 200: z.strictObject({ shown: z.string() }) } } },
        // An answer with a field the schema does not declare: the response type allows extra fields.
        async () => {
          const answer = { shown: 'yes', secret: 'undeclared' }
          return answer
        },
      )
    })
    // A route outside the scope is not behind the admin key.
    app.get('/open', async () => ({ open: true }))
  })
  after(async () => {
    await app.close()
    db.close()
  })

  const put = (headers: Record<string, string>, payload: unknown, id = 'box') =>
    app.inject({ method: 'PUT', url: `/things/${id}`, headers, payload: JSON.stringify(payload) })
  const json = { 'content-type': 'application/json' }

  test('the handler gets the workspace of the admin key, as Bearer or as the Basic username', async () => {
    const bearer = await put({ ...json, authorization: 'Bearer ak_one' }, { size: 3 })
    assert.equal(bearer.statusCode, 200, bearer.body)
    assert.deepEqual(bearer.json(), { workspace: 'w1', id: 'box', size: 3 })
    const basic = await put({ ...json, authorization: basicAuth('ak_two') }, { size: 4 })
    assert.deepEqual(basic.json(), { workspace: 'w2', id: 'box', size: 4 })
  })

  test('no key, the write key or an unknown key is a 401 before the body is read or the handler runs', async () => {
    const before = handled
    for (const [authorization, message] of [
      [undefined, 'this route needs the admin key: send "Authorization: Bearer <admin key>"'],
      [basicAuth('wk_one'), 'unknown admin key'],
      ['Bearer nope', 'unknown admin key'],
    ] as const) {
      // A body the admin scope would otherwise refuse (U+0000): the key is checked first.
      const res = await put(
        { ...json, ...(authorization ? { authorization } : {}) },
        { size: 1, tags: ['a\0'] },
      )
      assert.equal(res.statusCode, 401)
      assert.deepEqual(res.json(), { success: false, code: 'INK_ERR_UNAUTHORIZED', message })
    }
    assert.equal(handled, before)
    assert.deepEqual((await app.inject({ url: '/open' })).json(), { open: true })
  })

  test('a request that breaks the schema is a 400 INK_ERR_BAD_REQUEST listing each field', async () => {
    const auth = { ...json, authorization: 'Bearer ak_one' }
    const body = await put(auth, { size: 0, tags: [1] })
    assert.equal(body.statusCode, 400)
    assert.deepEqual(body.json(), {
      success: false,
      code: 'INK_ERR_BAD_REQUEST',
      message:
        'invalid request: size: Too small: expected number to be >=1; tags.0: Invalid input: expected string, received number',
      issues: [
        'size: Too small: expected number to be >=1',
        'tags.0: Invalid input: expected string, received number',
      ],
    })
    const params = await put(auth, { size: 1 }, 'BOX')
    assert.deepEqual([params.statusCode, params.json().issues], [400, ['id: lowercase letters only']])
    const nul = await put(auth, { size: 1, tags: ['a\0'] })
    assert.deepEqual(
      [nul.statusCode, nul.json().code, nul.json().path],
      [400, 'INK_ERR_NUL_CHARACTER', '$.tags[0]'],
    )
  })

  test('an answer with a field its schema does not declare is a 500, not a field silently dropped', async () => {
    const res = await app.inject({ url: '/leaky', headers: { authorization: 'Bearer ak_one' } })
    assert.equal(res.statusCode, 500)
    assert.equal(res.json().code, 'INK_ERR_INTERNAL')
    assert.equal(res.body.includes('undeclared'), false)
  })
})
