import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import Database from 'better-sqlite3'
import { LOG_FILE } from '../../src/app.ts'
import { basicAuth, startTestApp, type TestApp } from '../helpers/app.ts'

describe('collector', () => {
  let app: TestApp
  let auth: string
  before(async () => {
    app = await startTestApp()
    auth = basicAuth(app.workspace.writeKey)
  })
  after(() => app.close())

  const post = (url: string, payload: string | Buffer | object, headers: Record<string, string> = {}) =>
    app.server.inject({
      method: 'POST',
      url,
      headers: { authorization: auth, 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
    })
  const logCount = () => countLog(app)

  test('a track call with the write key as Basic auth username is acknowledged once durable', async () => {
    const res = await post('/v1/track', { userId: 'u1', event: 'Product Viewed', messageId: 'm-track-1' })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { success: true })
    const rows = await readLog(app, 'm-track-1')
    assert.equal(rows, 1)
  })

  test('the Basic scheme is case-insensitive (RFC 7235), as some HTTP clients write it', async () => {
    const credentials = basicAuth(app.workspace.writeKey).replace(/^Basic /, '')
    for (const scheme of ['basic', 'BASIC', 'bAsIc']) {
      const messageId = `m-scheme-${scheme}`
      const res = await post(
        '/v1/track',
        { userId: 'u1', event: 'Scheme', messageId },
        { authorization: `${scheme} ${credentials}` },
      )
      assert.equal(res.statusCode, 200, `${scheme}: ${res.body}`)
      assert.equal(await readLog(app, messageId), 1)
    }
  })

  test('the write key is also accepted as "writeKey" in the body, as browsers send it', async () => {
    const res = await post(
      '/v1/identify',
      { writeKey: app.workspace.writeKey, anonymousId: 'a1', traits: { x: 1 } },
      { authorization: '' },
    )
    assert.equal(res.statusCode, 200)
  })

  const bad: [string, () => ReturnType<typeof post>, number, string, RegExp][] = [
    [
      'no write key',
      () => post('/v1/track', { userId: 'u', event: 'x' }, { authorization: '' }),
      401,
      'INK_ERR_UNAUTHORIZED',
      /no write key/,
    ],
    [
      'an unknown write key',
      () => post('/v1/track', { userId: 'u', event: 'x' }, { authorization: basicAuth('nope') }),
      401,
      'INK_ERR_UNAUTHORIZED',
      /unknown write key/,
    ],
    [
      'malformed JSON',
      () => post('/v1/track', '{"userId": "u", '),
      400,
      'INK_ERR_INVALID_JSON',
      /not valid JSON/,
    ],
    ['an empty body', () => post('/v1/track', ''), 400, 'INK_ERR_EMPTY_BODY', /empty/],
    [
      'invalid UTF-8',
      () => post('/v1/track', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
      400,
      'INK_ERR_INVALID_UTF8',
      /UTF-8/,
    ],
    [
      'a wrong content type',
      () => post('/v1/track', '<event/>', { 'content-type': 'application/xml' }),
      415,
      'INK_ERR_UNSUPPORTED_MEDIA_TYPE',
      /application\/json/,
    ],
    [
      'an unsupported content encoding',
      () => post('/v1/track', 'xx', { 'content-encoding': 'br' }),
      415,
      'INK_ERR_UNSUPPORTED_ENCODING',
      /gzip/,
    ],
    [
      'a body that is not an object',
      () => post('/v1/track', '[1,2]'),
      400,
      'INK_ERR_INVALID_EVENT',
      /JSON object/,
    ],
    [
      'wrong field types',
      () => post('/v1/track', { userId: 'u', event: 42 }),
      400,
      'INK_ERR_INVALID_EVENT',
      /"event"/,
    ],
    [
      'neither userId nor anonymousId',
      () => post('/v1/page', { name: 'Home' }),
      400,
      'INK_ERR_INVALID_EVENT',
      /userId/,
    ],
    [
      'a __proto__ key',
      () => post('/v1/identify', '{"userId":"u","traits":{"__proto__":{"isAdmin":true}}}'),
      400,
      'INK_ERR_INVALID_EVENT',
      /__proto__/,
    ],
    [
      'a constructor key',
      () => post('/v1/identify', '{"userId":"u","traits":{"constructor":{"prototype":{"x":1}}}}'),
      400,
      'INK_ERR_INVALID_EVENT',
      /constructor/,
    ],
    [
      'deep nesting',
      () =>
        post(
          '/v1/track',
          `{"userId":"u","event":"x","properties":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
        ),
      400,
      'INK_ERR_INVALID_EVENT',
      /nested deeper/,
    ],
    [
      'a single event over 32 KB',
      () => post('/v1/track', { userId: 'u', event: 'x', properties: { s: 'x'.repeat(33_000) } }),
      413,
      'INK_ERR_PAYLOAD_TOO_LARGE',
      /32768 bytes \(32 KB\)/,
    ],
    [
      'a batch over 500 KB',
      () =>
        post('/v1/batch', {
          batch: Array.from({ length: 20 }, () => ({
            type: 'track',
            userId: 'u',
            event: 'x',
            properties: { s: 'x'.repeat(30_000) },
          })),
        }),
      413,
      'INK_ERR_PAYLOAD_TOO_LARGE',
      /512000 bytes \(500 KB\)/,
    ],
    [
      'a gzip bomb',
      () => post('/v1/batch', gzipSync(Buffer.alloc(5_000_000, 32)), { 'content-encoding': 'gzip' }),
      413,
      'INK_ERR_PAYLOAD_TOO_LARGE',
      /500 KB/,
    ],
    [
      'a batch that is not an array',
      () => post('/v1/batch', { batch: {} }),
      400,
      'INK_ERR_INVALID_EVENT',
      /must be an array/,
    ],
    ['an empty batch', () => post('/v1/batch', { batch: [] }), 400, 'INK_ERR_INVALID_EVENT', /empty/],
  ]
  for (const [name, send, status, code, message] of bad) {
    test(`${name} gets ${status} ${code} and nothing is written`, async () => {
      const before = await logCount()
      const res = await send()
      assert.equal(res.statusCode, status, res.body)
      const body = res.json()
      assert.equal(body.success, false)
      assert.equal(body.code, code)
      assert.match(body.message, message)
      assert.equal(await logCount(), before)
    })
  }

  test('a batch with some invalid events keeps the valid ones and says which were rejected and why', async () => {
    const res = await post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'u2', event: 'Order Completed', messageId: 'b-ok-1' },
        { type: 'track', userId: 'u2', messageId: 'b-bad-1' },
        { type: 'identify', anonymousId: 'a2', messageId: 'b-ok-2' },
        { type: 'explode', userId: 'u2' },
      ],
    })
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.equal(body.accepted, 2)
    assert.deepEqual(
      body.rejected.map((r: { index: number; messageId?: string; code: string }) => [
        r.index,
        r.messageId,
        r.code,
      ]),
      [
        [1, 'b-bad-1', 'INK_ERR_INVALID_EVENT'],
        [3, undefined, 'INK_ERR_INVALID_EVENT'],
      ],
    )
    assert.equal(await readLog(app, 'b-ok-1'), 1)
    assert.equal(await readLog(app, 'b-bad-1'), 0)
  })

  test('a batch where every event is invalid is a 400 listing each rejection', async () => {
    const res = await post('/v1/batch', { batch: [{ type: 'track', userId: 'u' }, { type: 'page' }] })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().code, 'INK_ERR_BATCH_REJECTED')
    assert.equal(res.json().rejected.length, 2)
  })

  test('a batch-level context with a __proto__ or constructor key is refused, as it would be inside an event', async () => {
    for (const key of ['__proto__', 'constructor']) {
      const before = await logCount()
      const res = await post(
        '/v1/batch',
        `{"context":{"${key}":{"polluted":true}},"batch":[{"type":"track","userId":"ctx-${key}","event":"x"},{"type":"identify","userId":"ctx-${key}"}]}`,
      )
      assert.equal(res.statusCode, 400, res.body)
      const body = res.json()
      assert.equal(body.code, 'INK_ERR_BATCH_REJECTED')
      assert.deepEqual(
        body.rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
        [
          [0, 'INK_ERR_INVALID_EVENT'],
          [1, 'INK_ERR_INVALID_EVENT'],
        ],
      )
      assert.match(body.rejected[0].message, new RegExp(`"${key}"`))
      assert.equal(await logCount(), before, `nothing with a ${key} key is stored`)
    }
  })

  test('a large batch-level context cannot multiply into stored events past the per-event limit', async () => {
    // 100 KB shared once in a 110 KB batch: merged into each of 100 events, every one would be over 100 KB.
    const before = await logCount()
    const res = await post('/v1/batch', {
      context: { blob: 'x'.repeat(100_000) },
      batch: Array.from({ length: 100 }, (_, i) => ({ type: 'track', userId: 'ctx-big', event: `e${i}` })),
    })
    assert.equal(res.statusCode, 400, res.body.slice(0, 300))
    const body = res.json()
    assert.equal(body.code, 'INK_ERR_BATCH_REJECTED')
    assert.equal(body.rejected.length, 100)
    assert.ok(body.rejected.every((r: { code: string }) => r.code === 'INK_ERR_EVENT_TOO_LARGE'))
    assert.match(body.rejected[0].message, /with the batch's shared "context" merged in.*32768 bytes/)
    assert.equal(await logCount(), before)
  })

  test("a batch-level context is merged into each event, the event's own context keys winning, within the limit", async () => {
    const res = await post('/v1/batch', {
      context: { app: { name: 'shop' }, locale: 'de-DE', blob: 'y'.repeat(20_000) },
      batch: [
        { type: 'track', userId: 'ctx-ok', event: 'x', messageId: 'ctx-ok-1', context: { locale: 'fr-FR' } },
        // 20 KB shared + 15 KB of its own: fine alone, over 32 KB once merged; only this one is rejected.
        {
          type: 'track',
          userId: 'ctx-ok',
          event: 'y',
          messageId: 'ctx-ok-2',
          properties: { s: 'z'.repeat(15_000) },
        },
      ],
    })
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json()
    assert.equal(body.accepted, 1)
    assert.deepEqual(
      body.rejected.map((r: { index: number; messageId: string; code: string }) => [
        r.index,
        r.messageId,
        r.code,
      ]),
      [[1, 'ctx-ok-2', 'INK_ERR_EVENT_TOO_LARGE']],
    )
    const stored = loggedPayload(app, 'ctx-ok-1')
    assert.equal(stored.context.locale, 'fr-FR')
    assert.deepEqual(stored.context.app, { name: 'shop' })
    assert.equal(stored.context.blob.length, 20_000)
  })

  test('a gzip-compressed batch, as RudderStack sends it, is accepted', async () => {
    const payload = gzipSync(
      JSON.stringify({ batch: [{ type: 'track', userId: 'gz', event: 'x', messageId: 'gz-1' }] }),
    )
    const res = await post('/v1/batch', payload, { 'content-encoding': 'gzip' })
    assert.equal(res.statusCode, 200)
    assert.equal(await readLog(app, 'gz-1'), 1)
  })

  test('text/plain bodies, which browsers send to avoid a CORS preflight, are parsed as JSON', async () => {
    const res = await post(
      '/v1/track',
      { userId: 'tp', event: 'x', messageId: 'tp-1' },
      { 'content-type': 'text/plain;charset=UTF-8' },
    )
    assert.equal(res.statusCode, 200)
  })

  test('after every kind of bad input the server still accepts good events', async () => {
    const res = await post('/v1/track', { userId: 'still-alive', event: 'x' })
    assert.equal(res.statusCode, 200)
  })

  test('unknown routes get a 404 with a stable code', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/v2/nothing' })
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().code, 'INK_ERR_NOT_FOUND')
  })
})

describe('collector when the log cannot commit', () => {
  test('answers 503 with Retry-After and never a 2xx', async () => {
    const app = await startTestApp()
    try {
      await app.log.close()
      const res = await app.server.inject({
        method: 'POST',
        url: '/v1/track',
        headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
        payload: JSON.stringify({ userId: 'u', event: 'x' }),
      })
      assert.equal(res.statusCode, 503)
      assert.equal(res.headers['retry-after'], '1')
      assert.equal(res.json().code, 'INK_ERR_LOG_UNAVAILABLE')
    } finally {
      await app.close()
    }
  })
})

/** Rows in the log's own table (for one messageId, or all), read through a separate connection. */
function queryLog(app: TestApp, where: string, ...args: string[]): number {
  const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
  try {
    return (db.prepare(`SELECT count(*) AS n FROM log_events ${where}`).get(...args) as { n: number }).n
  } finally {
    db.close()
  }
}
const readLog = async (app: TestApp, messageId: string) => queryLog(app, 'WHERE message_id = ?', messageId)
const countLog = async (app: TestApp) => queryLog(app, '')

/** The stored event with this messageId, as the log holds it. */
function loggedPayload(app: TestApp, messageId: string) {
  const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
  try {
    const row = db.prepare('SELECT payload FROM log_events WHERE message_id = ?').pluck().get(messageId)
    assert.equal(typeof row, 'string', `no stored event ${messageId}`)
    return JSON.parse(row as string)
  } finally {
    db.close()
  }
}
