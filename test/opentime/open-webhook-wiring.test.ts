/**
 * The composed app wires the open routes to the open webhook (branch open-webhook): an open-time
 * image fetch records the open and the webhook receiver gets it, signed, once per window — and a
 * receiver that never answers does not hold the image.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { PNG } from 'pngjs'
import { SIGNATURE_HEADER, verifySignature } from '../../src/webhooks/signature.ts'
import type { TestApp } from '../helpers/app.ts'
import { type Receiver, startReceiver, until } from '../webhooks/receiver.ts'
import { startOpenTimeApp, type TestClock, testClock } from './open-app.ts'

const SECRET = 'open-webhook-secret-0123456789'
let app: TestApp
let receiver: Receiver
let dir: string
let version: number
const clock: TestClock = testClock()

before(async () => {
  // The first delivery hangs (the image must not wait for it); the others are answered 200.
  receiver = await startReceiver((n) => (n === 0 ? 'hang' : 200))
  dir = mkdtempSync(join(tmpdir(), 'open-webhook-wiring-'))
  const contentFile = join(dir, 'content.json')
  writeFileSync(contentFile, JSON.stringify({ openTime: { webhook: { url: receiver.url, secret: SECRET } } }))
  app = await startOpenTimeApp({ contentFile }, clock)
  const put = await app.server.inject({
    method: 'PUT',
    url: '/v1/templates/wired',
    headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
    payload: JSON.stringify({
      subject: 'x',
      html: '{% live "hero" width: 100, height: 50 %}<div style="display:flex;width:100px;height:50px;background:#fff"><span>Hi</span></div>{% fallback %}Hello.{% endlive %}',
    }),
  })
  assert.equal(put.statusCode < 300, true, put.body)
  version = (put.json() as { version: number }).version
})

after(async () => {
  await app.close()
  await receiver.close()
  rmSync(dir, { recursive: true, force: true })
})

test('an open-time fetch reaches the open webhook, signed, once per window, without waiting for it', async () => {
  const token = app.codec.sign(
    {
      kind: 'open-time',
      workspaceId: app.workspace.id,
      campaignId: 'wired',
      recipient: 'someone',
      messageId: 'wired-1',
      templateId: 'wired',
      version,
    },
    86_400_000,
  )
  // Both fetches at one instant: a png drawing that takes seconds on a loaded machine must not put
  // them in two 10 s dedupe windows (two opens; CI failed on that).
  clock.frozen = clock.now()
  const first = await app.server.inject({ url: `/o/${token}/hero.png` })
  assert.equal(first.statusCode, 200)
  const img = PNG.sync.read(first.rawPayload)
  assert.deepEqual([img.width, img.height], [100, 50])
  await app.server.inject({ url: `/o/${token}/hero.json` })
  clock.frozen = undefined
  // The first attempt hangs at the receiver; the dispatcher retries it later. It arrived once so far.
  await until(() => receiver.requests.length >= 1, 'the webhook delivery')
  const req = receiver.requests[0]
  assert.ok(req)
  const header = req.headers[SIGNATURE_HEADER]
  assert.equal(
    verifySignature(typeof header === 'string' ? header : undefined, req.body, SECRET, Date.now()).ok,
    true,
  )
  const body = JSON.parse(req.body)
  assert.equal(body.event.event, 'Email Opened')
  assert.equal(body.event.properties.open_kind, 'open-time')
  assert.equal(body.event.properties.email_id, 'wired-1')
  assert.equal(body.event.properties.block, 'hero')
  // Every request so far carries that one open (the second fetch was inside the window).
  for (const r of receiver.requests) assert.equal(JSON.parse(r.body).event.messageId, body.event.messageId)
})
