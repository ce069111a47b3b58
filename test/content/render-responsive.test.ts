/**
 * A long render does not hold the server: after RENDER_SLICE_MS of Liquid, it goes on
 * asynchronously and lets the event loop serve other requests. Shown by ordering, not timing: a
 * /healthz request sent once the render has its data (right after the template's source answered)
 * is answered before the preview that was rendering. Real sockets: the app listens on 127.0.0.1, the
 * source is a local HTTP server the workspace allow-lists.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { startTestApp, type TestApp, tempDir } from '../helpers/app.ts'

const ITERATIONS = 50_000

let app: TestApp
let source: http.Server
let sourceHost: string
/** What answered, in order: 'source' (the template's data), 'healthz', 'preview'. */
const order: string[] = []
let healthz: Promise<void> | undefined

before(async () => {
  source = http.createServer((_req, res) => {
    order.push('source')
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":"yes"}')
    // Once the render's data is on its way back, ask the server whether it is alive.
    res.on('finish', () => {
      healthz = fetch(`${app.url}/healthz`).then(async (r) => {
        assert.equal(r.status, 200)
        await r.text()
        order.push('healthz')
      })
    })
  })
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', r))
  sourceHost = `127.0.0.1:${(source.address() as AddressInfo).port}`
  const dir = tempDir()
  const contentFile = join(dir, 'content.yaml')
  writeFileSync(contentFile, `connectedContent:\n  allowHosts: ["${sourceHost}"]\n`)
  app = await startTestApp({ contentFile })
})

after(async () => {
  await app.close()
  source.closeAllConnections()
  await new Promise<void>((r) => source.close(() => r()))
})

test('a /healthz request sent while a long template renders is answered before the render', async () => {
  const headers = { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' }
  const html = `{% connected_content http://${sourceHost}/data :save data :timeout 2000 %}<p>{{ data.ok }}</p>{% for i in (1..${ITERATIONS}) %}{{ i }} {% endfor %}`
  const put = await fetch(`${app.url}/v1/templates/long`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ subject: 'Hi', html }),
  })
  assert.equal(put.status, 201, await put.text())
  const res = await fetch(`${app.url}/v1/templates/long/preview`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ profile: {}, deadlineMs: 3_000 }),
  })
  const body = (await res.json()) as { html?: string; code?: string; message?: string }
  order.push('preview')
  await healthz
  assert.deepEqual(order, ['source', 'healthz', 'preview'])
  // On a loaded machine the loop may use up the 1 s of Liquid work: then it stops with the limit's code.
  if (res.status === 200) {
    assert.match(body.html ?? '', /<p>yes<\/p>1 2 3 /)
    assert.match(body.html ?? '', new RegExp(`${ITERATIONS} `))
  } else {
    assert.equal(res.status, 422)
    assert.equal(body.code, 'INK_ERR_RENDER_LIMIT', JSON.stringify(body))
  }
})
