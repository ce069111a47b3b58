/**
 * Open-time content behind the nginx configuration the repository ships (deploy/nginx/inkstream.conf,
 * started by test/helpers/nginx.ts with only its three marked values replaced). Issue 11:
 * a second open within the TTL is served by nginx without reaching Inkstream, and a profile change
 * is visible after the TTL; a `private` block is never stored by the shared cache.
 *
 * Requests reaching Inkstream are counted on its own HTTP server (`request` events for /o/ URLs),
 * not inferred from nginx's X-Cache-Status alone.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { PNG } from 'pngjs'
import { basicAuth, type TestApp, tempDir, waitForProcessed } from '../helpers/app.ts'
import {
  type Edge,
  NGINX,
  nginxMissing,
  shippedCachePath,
  startEdge,
  writeEdgeConfig,
} from '../helpers/nginx.ts'
import { startOpenTimeApp, testClock } from '../opentime/open-app.ts'

const run = promisify(execFile)
const skip = nginxMissing()
const DAY = 86_400_000
/** Short, so the test waits about a second for the entry to expire (bounded below, not slept). */
const TTL_S = 2
const SENDER = 'news@example.com'

const TEMPLATE = `<p>Hello {{ nickname | default: "there" }}</p>
{% live "deal" width: 320, height: 100, cache: "public" %}<div style="display:flex;width:320px;height:100px;background:#ffeecc"><span style="font-size:22px">Your colour: {{ colour | default: "none" }}</span></div>{% fallback %}Deals inside.{% endlive %}
{% live "hero" width: 300, height: 120 %}<div style="display:flex;width:300px;height:120px;background:#ffffff"><span style="font-size:20px">Hi {{ nickname | default: "there" }}</span></div>{% fallback %}Our new arrivals are in.{% endlive %}`

interface Answer {
  status: number
  headers: Headers
  body: Buffer
}

describe('open-time content behind the shipped nginx configuration', { skip, timeout: 60_000 }, () => {
  let app: TestApp
  let edge: Edge
  let dir: string
  let version: number
  /** /o/ requests that reached Inkstream, by path. */
  const reached: string[] = []

  const fetchEdge = async (path: string, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await fetch(`${edge.url}${path}`, { headers })
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
  }
  const hits = (path: string) => reached.filter((p) => p === path).length

  const token = (messageId: string) =>
    app.codec.sign(
      {
        kind: 'open-time',
        workspaceId: app.workspace.id,
        campaignId: 'edge',
        recipient: 'ada',
        messageId,
        templateId: 'edge',
        version,
      },
      180 * DAY,
    )

  const identify = async (traits: Record<string, string>) => {
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      payload: JSON.stringify({ userId: 'ada', traits }),
    })
    assert.equal(res.statusCode, 200, res.body)
    await waitForProcessed(app)
  }

  const size = (body: Buffer) => {
    const img = PNG.sync.read(body)
    return [img.width, img.height]
  }

  before(async () => {
    dir = tempDir('open-time-edge-')
    const contentFile = join(dir, 'content.json')
    writeFileSync(
      contentFile,
      JSON.stringify({ openTime: { deadlineMs: 250, cacheTtlSeconds: TTL_S, ampSenders: [SENDER] } }),
    )
    app = await startOpenTimeApp({ contentFile }, testClock())
    app.server.server.on('request', (req: IncomingMessage) => {
      if (req.url?.startsWith('/o/')) reached.push(req.url)
    })
    const put = await app.server.inject({
      method: 'PUT',
      url: '/v1/templates/edge',
      headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ subject: 'Edge', html: TEMPLATE }),
    })
    assert.equal(put.statusCode < 300, true, put.body)
    version = (put.json() as { version: number }).version
    await identify({ nickname: 'Ada', colour: 'red' })
    edge = await startEdge(Number(new URL(app.url).port))
  })

  after(async () => {
    await edge?.close()
    await app?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('nginx -t accepts the shipped configuration, and its cache directory can be created on Debian', async () => {
    // Exactly what startEdge runs (the shipped file with its three marked values replaced).
    const prefix = tempDir('nginx-t-')
    try {
      const conf = writeEdgeConfig(prefix, 3000, 8080)
      const { stderr } = await run(NGINX, ['-t', '-p', prefix, '-c', conf])
      assert.match(stderr, /syntax is ok/, stderr)
      assert.match(stderr, /test is successful/, stderr)
    } finally {
      rmSync(prefix, { recursive: true, force: true })
    }
    // nginx creates only the last component of proxy_cache_path: as shipped, its parent must exist
    // on a Debian host (it was /var/cache/nginx/…, which Debian's nginx does not create).
    assert.equal(existsSync(dirname(shippedCachePath())), true, shippedCachePath())
  })

  test('a public block: MISS reaches Inkstream, a second open within the TTL is a HIT that does not', async () => {
    const path = `/o/${token('m-public')}/deal.png`
    const first = await fetchEdge(path)
    assert.equal(first.status, 200, edge.errors())
    assert.equal(first.headers.get('x-cache-status'), 'MISS')
    assert.equal(
      first.headers.get('cache-control'),
      `public, max-age=${TTL_S}, s-maxage=${TTL_S}, stale-while-revalidate=30, stale-if-error=86400`,
    )
    assert.equal(hits(path), 1)
    const second = await fetchEdge(path)
    assert.equal(second.status, 200)
    // Within the TTL (1 s) this must be served by nginx; if the machine was so slow that the TTL
    // passed between the two requests, say so rather than report a caching bug.
    assert.equal(second.headers.get('x-cache-status'), 'HIT', 'second open within the TTL')
    assert.equal(hits(path), 1, 'the HIT did not reach Inkstream')
    assert.deepEqual(second.body, first.body)
    assert.equal(second.headers.get('etag'), first.headers.get('etag'))
    assert.deepEqual(size(first.body), [320, 100])
    assert.deepEqual(size(second.body), [320, 100])
  })

  test('after a profile change and the TTL, the image through nginx changes (PNG and JSON)', async (t) => {
    const tok = token('m-change')
    const png = `/o/${tok}/deal.png`
    const json = `/o/${tok}/deal.json`
    const before = await fetchEdge(png)
    const beforeJson = await fetchEdge(json)
    assert.equal(before.headers.get('x-cache-status'), 'MISS')
    assert.equal(beforeJson.headers.get('x-cache-status'), 'MISS')
    assert.equal(JSON.parse(beforeJson.body.toString()).items[0].text, 'Your colour: red')
    assert.equal((await fetchEdge(png)).headers.get('x-cache-status'), 'HIT')
    assert.equal((await fetchEdge(json)).headers.get('x-cache-status'), 'HIT')
    assert.equal(hits(png), 1)
    assert.equal(hits(json), 1)
    const changedAt = Date.now()

    await identify({ colour: 'blue' })

    // Poll (bounded) until nginx serves the new image. Along the way it may answer HIT (the entry
    // is still fresh), STALE/UPDATING (stale-while-revalidate: the old image while it refetches in
    // the background) — all with the old bytes — and then the new image.
    const statuses: string[] = []
    const end = Date.now() + 15_000
    let after: Answer
    for (;;) {
      after = await fetchEdge(png)
      statuses.push(String(after.headers.get('x-cache-status')))
      if (!after.body.equals(before.body)) break
      assert.ok(Date.now() < end, `the image never changed through nginx: ${statuses.join(' ')}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(after.status, 200)
    assert.deepEqual(size(after.body), [320, 100])
    assert.notEqual(after.headers.get('etag'), before.headers.get('etag'))
    // Before the change showed, nginx answered only with the old copy (HIT, then STALE/UPDATING
    // while it refreshed), never by a MISS with the old bytes.
    for (const s of statuses.slice(0, -1)) assert.match(s, /^(HIT|STALE|UPDATING)$/, statuses.join(' '))
    assert.ok(hits(png) >= 2, 'the refresh reached Inkstream')
    const runs = statuses.reduce<[string, number][]>((acc, s) => {
      const last = acc.at(-1)
      if (last?.[0] === s) last[1] += 1
      else acc.push([s, 1])
      return acc
    }, [])
    t.diagnostic(
      `through nginx until the new image (TTL ${TTL_S} s): ${runs.map(([s, n]) => (n > 1 ? `${s}×${n}` : s)).join(' ')}, ${Date.now() - changedAt} ms after the profile change`,
    )

    let text = ''
    const jsonEnd = Date.now() + 15_000
    for (;;) {
      const j = await fetchEdge(json)
      text = JSON.parse(j.body.toString()).items[0].text
      if (text === 'Your colour: blue') break
      assert.equal(text, 'Your colour: red')
      assert.ok(Date.now() < jsonEnd, 'the JSON never changed through nginx')
      await new Promise((r) => setTimeout(r, 50))
    }
  })

  test('a private block is never a HIT: every open reaches Inkstream', async () => {
    const path = `/o/${token('m-private')}/hero.png`
    const statuses: string[] = []
    for (let i = 0; i < 3; i++) {
      const res = await fetchEdge(path)
      assert.equal(res.status, 200)
      assert.equal(
        res.headers.get('cache-control'),
        `private, max-age=${TTL_S}, stale-while-revalidate=30, stale-if-error=86400`,
      )
      assert.deepEqual(size(res.body), [300, 120])
      statuses.push(String(res.headers.get('x-cache-status')))
    }
    assert.deepEqual(statuses, ['MISS', 'MISS', 'MISS'])
    assert.equal(hits(path), 3)
  })

  test('AMP JSON: each sender has its own entry; a refused sender is never answered from an allowed one', async () => {
    const path = `/o/${token('m-amp')}/deal.json`
    const allowed = { 'amp-email-sender': SENDER }
    const a1 = await fetchEdge(path, allowed)
    const a2 = await fetchEdge(path, allowed)
    assert.deepEqual(
      [a1.status, a1.headers.get('x-cache-status'), a1.headers.get('amp-email-allow-sender')],
      [200, 'MISS', SENDER],
    )
    assert.deepEqual(
      [a2.status, a2.headers.get('x-cache-status'), a2.headers.get('amp-email-allow-sender')],
      [200, 'HIT', SENDER],
    )
    const refused = await fetchEdge(path, { 'amp-email-sender': 'evil@example.net' })
    assert.deepEqual(
      [refused.status, refused.headers.get('x-cache-status'), refused.headers.get('amp-email-allow-sender')],
      [403, 'MISS', null],
    )
    assert.equal(JSON.parse(refused.body.toString()).code, 'INK_ERR_FORBIDDEN')
    const plain = await fetchEdge(path)
    assert.deepEqual(
      [plain.status, plain.headers.get('x-cache-status'), plain.headers.get('amp-email-allow-sender')],
      [200, 'MISS', null],
    )
    assert.equal(hits(path), 3)
  })
})
