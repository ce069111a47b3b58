/**
 * The shipped edge configuration (config/nginx/inkstream-edge.conf) with Debian's nginx in front of a
 * real app: a second open inside the TTL is served by nginx without reaching Inkstream, and a
 * profile change shows through the edge once the TTL has passed. Private blocks are not stored.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { PNG } from 'pngjs'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { closedPort } from '../helpers/ports.ts'
import { missingService } from '../helpers/services.ts'
import { warmDrawing } from './open-app.ts'

const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx'
const hasNginx = spawnSync(NGINX, ['-v']).status === 0
const skip = missingService('nginx', hasNginx, `${NGINX} -v failed (apt-get install nginx)`)

/** Short, so the test sees the TTL pass: the edge keeps a public block this long. */
const TTL_S = 2

let app: TestApp
let nginx: ChildProcess | undefined
let dir: string
let edge: string
let version: number

/** The shipped file, pointed at this app and a temporary cache, wrapped in a minimal main config. */
function nginxConfig(appPort: number, edgePort: number): string {
  const shipped = readFileSync(new URL('../../config/nginx/inkstream-edge.conf', import.meta.url), 'utf8')
  const snippet = shipped
    .replace('/var/cache/nginx/inkstream', join(dir, 'cache'))
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${appPort};`)
    .replace('listen 80;', `listen 127.0.0.1:${edgePort};`)
  assert.ok(
    snippet.includes(join(dir, 'cache')) && snippet.includes(`:${appPort};`),
    'the shipped file changed shape',
  )
  const temp = (name: string) => `${name}_temp_path ${join(dir, name)};`
  return [
    process.getuid?.() === 0 ? 'user root;' : '',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log ${join(dir, 'access.log')};`,
    `  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}`,
    snippet,
    '}',
  ].join('\n')
}

async function accepting(port: number, ms = 5_000): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port })
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > end)
      throw new Error(`nginx is not listening on ${port}: ${readFileSync(join(dir, 'error.log'), 'utf8')}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const identify = async (lastViewed: string) => {
  const res = await app.server.inject({
    method: 'POST',
    url: '/v1/identify',
    headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
    payload: JSON.stringify({ userId: 'ada', traits: { last_viewed: lastViewed } }),
  })
  assert.equal(res.statusCode, 200, res.body)
  await waitForProcessed(app)
}

before(async () => {
  if (skip) return
  dir = mkdtempSync(join(tmpdir(), 'nginx-edge-'))
  for (const d of ['cache', 'client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d))
  const contentFile = join(dir, 'content.json')
  writeFileSync(contentFile, JSON.stringify({ openTime: { cacheTtlSeconds: TTL_S } }))
  app = await startTestApp({ contentFile })
  const put = await app.server.inject({
    method: 'PUT',
    url: '/v1/templates/edge',
    headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
    payload: JSON.stringify({
      subject: 'x',
      html: [
        '{% live "pick" width: 200, height: 60, cache: "public" %}<div style="display:flex;width:200px;height:60px;background:#fff"><span>{{ last_viewed | default: "our picks" }}</span></div>{% fallback %}Our picks.{% endlive %}',
        '{% live "mine" width: 200, height: 60 %}<div style="display:flex;width:200px;height:60px;background:#fff"><span>{{ last_viewed }}</span></div>{% fallback %}Yours.{% endlive %}',
      ].join('\n'),
    }),
  })
  assert.equal(put.statusCode < 300, true, put.body)
  version = (put.json() as { version: number }).version
  await identify('the red kettle')
  await warmDrawing(`${app.url}/o/${token('warm-up')}/mine.png`)
  const edgePort = await closedPort()
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConfig(Number(new URL(app.url).port), edgePort))
  nginx = spawn(NGINX, ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' })
  edge = `http://127.0.0.1:${edgePort}`
  await accepting(edgePort)
})

after(async () => {
  if (skip) return
  if (nginx?.pid !== undefined && nginx.exitCode === null) {
    const exited = new Promise((r) => nginx?.once('exit', r))
    nginx.kill('SIGTERM')
    await exited
  }
  await app.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Open-time renders Inkstream did for a surface (every one that reached it). */
async function renders(mode: string): Promise<number> {
  const m = await app.metrics.registry.getSingleMetric('inkstream_render_duration_seconds')?.get()
  return (m?.values ?? [])
    .filter(
      (v) =>
        'metricName' in v &&
        v.metricName === 'inkstream_render_duration_seconds_count' &&
        v.labels.mode === mode,
    )
    .reduce((n, v) => n + v.value, 0)
}

function token(messageId: string): string {
  return app.codec.sign(
    {
      kind: 'open-time',
      workspaceId: app.workspace.id,
      campaignId: 'edge',
      recipient: 'ada',
      messageId,
      templateId: 'edge',
      version,
    },
    86_400_000,
  )
}

describe('nginx in front of the open routes', { skip }, () => {
  test('a second open inside the TTL is served by nginx; a profile change shows after the TTL', async () => {
    const url = `${edge}/o/${token('edge-1')}/pick.json`
    const before = await renders('open-time-json')
    const first = await fetch(url)
    assert.equal(first.status, 200)
    assert.equal(first.headers.get('x-cache-status'), 'MISS')
    assert.equal((await first.json()).items[0].text, 'the red kettle')
    const second = await fetch(url)
    assert.equal(second.headers.get('x-cache-status'), 'HIT')
    assert.equal((await second.json()).items[0].text, 'the red kettle')
    assert.equal(await renders('open-time-json'), before + 1, 'the second open did not reach Inkstream')

    await identify('the blue teapot')
    // Inside the TTL the edge still answers its copy; once it has passed, the change shows.
    const end = Date.now() + 10_000
    let text = ''
    while (Date.now() < end) {
      text = (await (await fetch(url)).json()).items[0].text
      if (text === 'the blue teapot') break
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(text, 'the blue teapot')
  })

  test('the image too: the second fetch is a HIT with the same bytes', async () => {
    const url = `${edge}/o/${token('edge-2')}/pick.png`
    const before = await renders('open-time-png')
    const a = await fetch(url)
    const b = await fetch(url)
    assert.equal(a.headers.get('x-cache-status'), 'MISS')
    assert.equal(b.headers.get('x-cache-status'), 'HIT')
    const bytes = Buffer.from(await b.arrayBuffer())
    assert.deepEqual(bytes, Buffer.from(await a.arrayBuffer()))
    const img = PNG.sync.read(bytes)
    assert.deepEqual([img.width, img.height], [200, 60])
    assert.equal(await renders('open-time-png'), before + 1)
  })

  test('a private block is not stored at the edge: every open reaches Inkstream', async () => {
    const url = `${edge}/o/${token('edge-3')}/mine.png`
    const before = await renders('open-time-png')
    const a = await fetch(url)
    const b = await fetch(url)
    assert.equal(a.headers.get('cache-control')?.startsWith('private,'), true)
    assert.notEqual(b.headers.get('x-cache-status'), 'HIT')
    assert.equal(await renders('open-time-png'), before + 2)
  })
})
