/**
 * The collector facing bad input: every kind gets a 4xx with a stable code and nothing is written;
 * a log that cannot commit gets a 503 a browser can read the Retry-After of.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { basicAuth, startTestApp, type TestApp } from '../helpers/app.ts'
import { countLog } from '../helpers/log.ts'

describe('collector with bad input', () => {
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

  test('a too-large body is named for its route: "the batch" on every batch path, "the event" on every single one', async () => {
    const event = { type: 'track', userId: 'u', event: 'x', properties: { s: 'x'.repeat(40_000) } }
    const batch = JSON.stringify({ batch: Array.from({ length: 14 }, () => event) })
    const single = JSON.stringify(event)
    const paths: [string, string, RegExp][] = [
      ['/v1/batch', batch, /^the batch is larger than the limit of 512000 bytes/],
      ['/v1/batch/', batch, /^the batch is larger/],
      ['/v1/b', batch, /^the batch is larger/],
      ['/v1/import/', batch, /^the batch is larger/],
      [`/beacon/v1/batch?writeKey=${app.workspace.writeKey}`, batch, /^the batch is larger/],
      ['/v1/track', single, /^the event is larger than the limit of 32768 bytes/],
      ['/v1/t/', single, /^the event is larger/],
      ['/v1/identify', single, /^the event is larger/],
    ]
    for (const [url, body, message] of paths) {
      // Plain, refused by fastify's body limit, and gzipped, refused after decompression: the same name.
      for (const gzip of [false, true]) {
        const res = gzip
          ? await post(url, gzipSync(body), { 'content-encoding': 'gzip' })
          : await post(url, body)
        assert.equal(res.statusCode, 413, `${url} gzip=${gzip}: ${res.body}`)
        assert.equal(res.json().code, 'INK_ERR_PAYLOAD_TOO_LARGE')
        assert.match(res.json().message, message, `${url} gzip=${gzip}`)
      }
    }
  })

  test('after every kind of bad input the server still accepts good events', async () => {
    const res = await post('/v1/track', { userId: 'still-alive', event: 'x' })
    assert.equal(res.statusCode, 200)
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
        headers: {
          authorization: basicAuth(app.workspace.writeKey),
          'content-type': 'application/json',
          origin: 'http://shop.example',
        },
        payload: JSON.stringify({ userId: 'u', event: 'x' }),
      })
      assert.equal(res.statusCode, 503)
      assert.equal(res.headers['retry-after'], '1')
      // analytics-next reads Retry-After; cross-origin, a browser shows it only if it is exposed.
      assert.equal(res.headers['access-control-allow-origin'], '*')
      assert.match(String(res.headers['access-control-expose-headers']), /(^|,\s*)retry-after(,|$)/i)
      assert.equal(res.json().code, 'INK_ERR_LOG_UNAVAILABLE')
    } finally {
      await app.close()
    }
  })
})
