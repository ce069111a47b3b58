/** The collector's accepting paths: auth, single events, batches and their shared context, encodings. */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { basicAuth, startTestApp, type TestApp } from '../helpers/app.ts'
import { countLog, loggedPayload, readLog } from '../helpers/log.ts'

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

  test('a body with a genuine U+FFFD character is valid UTF-8 and accepted as sent', async () => {
    const res = await post('/v1/track', {
      userId: 'u1',
      event: 'Replacement \uFFFD char',
      messageId: 'm-fffd',
    })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(loggedPayload(app, 'm-fffd').event, 'Replacement \uFFFD char')
  })

  test('the write key is also accepted as "writeKey" in the body, as browsers send it', async () => {
    const res = await post(
      '/v1/identify',
      { writeKey: app.workspace.writeKey, anonymousId: 'a1', traits: { x: 1 } },
      { authorization: '' },
    )
    assert.equal(res.statusCode, 200)
  })
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

  test('unknown routes get a 404 with a stable code', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/v2/nothing' })
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().code, 'INK_ERR_NOT_FOUND')
  })
})
