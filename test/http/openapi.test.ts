/**
 * /openapi.json is generated from the admin routes' schemas. It must be a valid OpenAPI document and
 * cover the admin API exactly: every route the server answers with "needs the admin key" is in it,
 * with the admin security requirement, a response schema and the error shape; nothing else is.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import { startTestApp, type TestApp } from '../helpers/app.ts'

type Operation = {
  parameters?: { in: string; name: string }[]
  security?: unknown
  responses: Record<string, { content?: { 'application/json'?: { schema?: unknown } } }>
}
type OpenApiDocument = {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: { securitySchemes: Record<string, { type: string; scheme: string }> }
}

/** Every method + path the server routes, read from fastify's route tree (`printRoutes`). */
function registeredRoutes(server: FastifyInstance): [method: string, path: string][] {
  const routes: [string, string][] = []
  const prefixes: string[] = []
  for (const line of server.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*) \(([^)]*)\)$/.exec(line)
    if (!m) continue
    const depth = (m[1] ?? '').length / 4
    const path = (depth === 0 ? '' : (prefixes[depth - 1] ?? '')) + m[2]
    prefixes[depth] = path
    for (const method of (m[3] ?? '').split(', ')) if (method !== '-') routes.push([method, path])
  }
  return routes
}

const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}')

describe('/openapi.json', () => {
  let app: TestApp
  let doc: OpenApiDocument
  before(async () => {
    app = await startTestApp()
    const res = await fetch(`${app.url}/openapi.json`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    doc = (await res.json()) as OpenApiDocument
  })
  after(() => app.close())

  test('is a valid OpenAPI 3.1 document, served without a key', async () => {
    const validator = new Validator()
    assert.deepEqual(await validator.validate(doc), { valid: true })
    assert.equal(validator.version, '3.1')
    const schemes = doc.components.securitySchemes
    assert.deepEqual(
      Object.entries(schemes).map(([name, s]) => [name, s.type, s.scheme]),
      [
        ['adminBearer', 'http', 'bearer'],
        ['adminBasic', 'http', 'basic'],
      ],
    )
  })

  test('documents exactly the routes that demand the admin key', async () => {
    const routes = registeredRoutes(app.server)
    // The route tree was read: a change of printRoutes' format must fail here, not pass with nothing.
    for (const known of ['GET /healthz', 'POST /v1/batch', 'GET /v1/profiles/:id', 'PUT /v1/templates/:id'])
      assert.ok(
        routes.some(([m, p]) => `${m} ${p}` === known),
        `${known} in ${JSON.stringify(routes)}`,
      )
    // Which routes demand the admin key is asked of the server itself, without a key: independent of
    // the document and of how the admin scope is built. HEAD mirrors GET; OPTIONS is CORS.
    const admin: string[] = []
    for (const [method, path] of routes) {
      if (method === 'HEAD' || method === 'OPTIONS') continue
      const res = await fetch(`${app.url}${path.replace(/:\w+|\*/g, 'x')}`, { method })
      const text = await res.text()
      if (res.status === 401 && text.includes('needs the admin key'))
        admin.push(`${method} ${openApiPath(path)}`)
    }
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    )
    assert.deepEqual(documented.sort(), admin.sort())
    for (const route of ['GET /v1/profiles/{id}', 'PUT /v1/segments/{id}', 'POST /v1/campaigns/{id}/start'])
      assert.ok(admin.includes(route), route)
  })

  test('every admin operation requires the admin key and declares its parameters, answers and the error shape', () => {
    const error = { $ref: '#/components/schemas/Error' }
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`
        assert.deepEqual(op.security, [{ adminBearer: [] }, { adminBasic: [] }], where)
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name)
        assert.deepEqual(declared, inPath, `${where} declares its path parameters`)
        const success = Object.keys(op.responses).filter((code) => /^2\d\d$/.test(code))
        assert.ok(success.length > 0, `${where} declares a 2xx answer`)
        for (const code of success.filter((c) => c !== '204'))
          assert.ok(
            op.responses[code]?.content?.['application/json']?.schema,
            `${where} ${code} has a schema`,
          )
        for (const code of ['4XX', '5XX'])
          assert.deepEqual(
            op.responses[code]?.content?.['application/json']?.schema,
            error,
            `${where} ${code}`,
          )
      }
    }
  })
})
