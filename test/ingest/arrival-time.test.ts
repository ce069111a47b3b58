/**
 * The lag clock starts when a request arrives: an event's `receivedAt` (what the processor's lag
 * is measured from) is the moment the collector saw the request's headers, not when its body had
 * been read and parsed. A slow upload, or a request waiting behind others to be parsed, counts
 * toward lag.
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, test } from 'node:test'
import { basicAuth, startTestApp, type TestApp } from '../helpers/app.ts'
import { loggedPayload } from '../helpers/log.ts'

let app: TestApp
before(async () => {
  app = await startTestApp()
})
after(() => app.close())

/** Posts `body` in two parts over a real socket, calling `between` after the first part was sent. */
function slowPost(path: string, body: string, between: () => Promise<void>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${app.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: basicAuth(app.workspace.writeKey),
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
    })
    req.on('response', (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    const half = Math.floor(body.length / 2)
    req.flushHeaders()
    req.write(body.slice(0, half), () => {
      between().then(() => req.end(body.slice(half)), reject)
    })
  })
}

for (const [path, messageId, body] of [
  ['/v1/track', 'arrive-track', { userId: 'u1', event: 'Slow Upload', messageId: 'arrive-track' }],
  [
    '/v1/batch',
    'arrive-batch',
    { batch: [{ type: 'track', userId: 'u1', event: 'Slow', messageId: 'arrive-batch' }] },
  ],
] as const) {
  test(`${path}: receivedAt is when the request arrived, before its body finished uploading`, async () => {
    const sent = Date.now()
    let bodyDone = 0
    const status = await slowPost(path, JSON.stringify(body), async () => {
      // Long enough for the server to have read the headers; the rest of the body comes later.
      await new Promise((r) => setTimeout(r, 500))
      bodyDone = Date.now()
    })
    assert.equal(status, 200)
    const receivedAt = Date.parse(loggedPayload(app, messageId).receivedAt)
    assert.ok(receivedAt >= sent, `receivedAt ${receivedAt} is before the request was sent (${sent})`)
    assert.ok(
      receivedAt < bodyDone,
      `receivedAt ${new Date(receivedAt).toISOString()} is not before the body was complete ` +
        `(${new Date(bodyDone).toISOString()}): the clock started after the body was read`,
    )
  })
}
