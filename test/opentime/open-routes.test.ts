/**
 * /o/<token>/<block>.png|.gif|.json and /o/<token>/view on a real embedded app: images decode to
 * the declared size (live and fallback), the JSON's shape, the deadline against a source that never
 * answers, the block cache's TTL (clock seam), ETag/304, a stale profile while the store fails,
 * refused tokens (nothing rendered, nothing recorded), AMP for Email CORS v1/v2, and one
 * `Email Opened` per token per window.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { GifReader } from 'omggif'
import { PNG } from 'pngjs'
import { LOG_FILE } from '../../src/app.ts'
import { createTokenCodec } from '../../src/delivery/tokens.ts'
import { basicAuth, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { startOpenTimeApp, testClock, warmDrawing } from './open-app.ts'

const DAY = 86_400_000
const SENDER = 'news@example.com'

/** The app's clock: real time plus an offset a test moves forward (or frozen). */
const clock = testClock()

let app: TestApp
let hanging: http.Server
/** Serves a 40×40 red PNG: `photos` on an allow-listed host, `intranet` on one that is not. */
let photos: http.Server
let intranet: http.Server
let intranetRequests = 0
let dir: string
let version: number

const PHOTO = (src: string) =>
  `<div style="display:flex;width:100px;height:50px;background:#ffffff"><img src="${src}" width="40" height="40"></div>`

const TEMPLATE = (
  slowUrl: string,
  photoUrl: string,
  privateUrl: string,
) => `{% live "photo" width: 100, height: 50 %}${PHOTO(photoUrl)}{% fallback %}A photo.{% endlive %}
{% live "private" width: 100, height: 50 %}${PHOTO(privateUrl)}{% fallback %}A photo.{% endlive %}
<p>Hello {{ nickname | default: "there" }}</p>
{% live "hero" width: 300, height: 120 %}<div style="display:flex;width:300px;height:120px;background:#ffffff"><span style="font-size:20px">Still thinking about {{ last_viewed | default: "it" }}?</span></div>{% fallback %}Our new arrivals are in.{% endlive %}
{% live "deal" width: 200, height: 80, cache: "public" %}<div style="display:flex;width:200px;height:80px;background:#ffeecc"><span>Deals</span></div>{% fallback %}Deals inside.{% endlive %}
{% live "slow" width: 160, height: 60 %}{% connected_content ${slowUrl} :save s :timeout 5000 %}<div style="display:flex">{{ s.title }}</div>{% fallback %}Later today.{% endlive %}
{% countdown "sale" until: "2030-01-01T00:00:00Z", width: 200, height: 50 %}{% fallback %}The sale ends soon.{% endcountdown %}
{% countdown "gone" until: campaign.ends_at, width: 120, height: 40 %}{% fallback %}Ended.{% endcountdown %}`

before(async () => {
  // A source that accepts the connection and never answers.
  hanging = http.createServer(() => {})
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r))
  const host = `127.0.0.1:${(hanging.address() as AddressInfo).port}`
  const red = new PNG({ width: 40, height: 40 })
  for (let i = 0; i < red.data.length; i += 4) red.data.set([255, 0, 0, 255], i)
  const redPng = PNG.sync.write(red)
  photos = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(redPng))
  intranet = http.createServer((_req, res) => {
    intranetRequests += 1
    res.writeHead(200, { 'content-type': 'image/png' }).end(redPng)
  })
  await new Promise<void>((r) => photos.listen(0, '127.0.0.1', r))
  await new Promise<void>((r) => intranet.listen(0, '127.0.0.1', r))
  const photoHost = `127.0.0.1:${(photos.address() as AddressInfo).port}`
  const intranetHost = `127.0.0.1:${(intranet.address() as AddressInfo).port}`
  dir = mkdtempSync(join(tmpdir(), 'open-routes-'))
  const contentFile = join(dir, 'content.json')
  writeFileSync(
    contentFile,
    JSON.stringify({
      connectedContent: { allowHosts: [host, photoHost] },
      openTime: { deadlineMs: 250, cacheTtlSeconds: 30, ampSenders: [SENDER] },
    }),
  )
  app = await startOpenTimeApp({ contentFile }, clock)
  const put = await app.server.inject({
    method: 'PUT',
    url: '/v1/templates/spring',
    headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
    payload: JSON.stringify({
      subject: 'Spring',
      html: TEMPLATE(`http://${host}/hang`, `http://${photoHost}/p.png`, `http://${intranetHost}/p.png`),
    }),
  })
  assert.equal(put.statusCode < 300, true, put.body)
  version = (put.json() as { version: number }).version
  const id = await app.server.inject({
    method: 'POST',
    url: '/v1/identify',
    headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
    payload: JSON.stringify({ userId: 'ada', traits: { nickname: 'Ada', last_viewed: 'the red kettle' } }),
  })
  assert.equal(id.statusCode, 200, id.body)
  await waitForProcessed(app)
  await warmDrawing(`${app.url}/o/${token({ messageId: 'warm-up' })}/deal.png`)
})

after(async () => {
  await app.close()
  for (const s of [hanging, photos, intranet]) {
    s.closeAllConnections()
    await new Promise<void>((r) => s.close(() => r()))
  }
  rmSync(dir, { recursive: true, force: true })
})

let messages = 0
/** A fresh open-time token (one per test, so windows and caches do not mix). */
function token(over: Record<string, unknown> = {}): string {
  messages += 1
  return app.codec.sign(
    {
      kind: 'open-time',
      workspaceId: app.workspace.id,
      campaignId: 'spring-sale',
      recipient: 'ada',
      messageId: `m${messages}`,
      templateId: 'spring',
      version,
      ...over,
    },
    180 * DAY,
  )
}

const get = (url: string, headers: Record<string, string> = {}) => app.server.inject({ url, headers })

function png(body: Buffer): PNG {
  return PNG.sync.read(body)
}

/** The `Email Opened` events in the log (payloads), optionally for one email_id. */
function opens(emailId?: string): { messageId: string; properties: Record<string, unknown> }[] {
  const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
  try {
    const rows = db.prepare('SELECT payload FROM log_events').pluck().all() as string[]
    return rows
      .map((r) => JSON.parse(r))
      .filter(
        (e) => e.event === 'Email Opened' && (emailId === undefined || e.properties?.email_id === emailId),
      )
  } finally {
    db.close()
  }
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const cacheCount = async (layer: string, result: string): Promise<number> => {
  const m = await app.metrics.registry.getSingleMetric('inkstream_open_time_cache_total')?.get()
  return m?.values.find((v) => v.labels.layer === layer && v.labels.result === result)?.value ?? 0
}

const emailId = (t: string) => {
  const v = app.codec.verify(t)
  assert.ok(v.ok)
  return v.payload.messageId
}

describe('images', () => {
  test('a live block is a PNG of exactly its declared size, rendered from the live profile', async () => {
    const t = token()
    const res = await get(`/o/${t}/hero.png`)
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'image/png')
    assert.equal(res.headers['x-ink-fallbacks'], '0')
    assert.match(String(res.headers['x-ink-profile']), /^(live|cached)$/)
    assert.equal(
      res.headers['cache-control'],
      'private, max-age=30, stale-while-revalidate=30, stale-if-error=86400',
    )
    const img = png(res.rawPayload)
    assert.deepEqual([img.width, img.height], [300, 120])
    // Drawn on an opaque white box: not the transparent fallback.
    assert.equal(img.data[3], 255)
  })

  test('a public block says so to shared caches', async () => {
    const res = await get(`/o/${token()}/deal.png`)
    assert.equal(
      res.headers['cache-control'],
      'public, max-age=30, s-maxage=30, stale-while-revalidate=30, stale-if-error=86400',
    )
    assert.deepEqual([png(res.rawPayload).width, png(res.rawPayload).height], [200, 80])
  })

  test('a countdown is an animated GIF of its declared size', async () => {
    const res = await get(`/o/${token()}/sale.gif`)
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'image/gif')
    assert.equal(res.headers['cache-control'], 'private, max-age=1, stale-if-error=86400')
    const gif = new GifReader(new Uint8Array(res.rawPayload))
    assert.deepEqual([gif.width, gif.height], [200, 50])
    assert.ok(gif.numFrames() > 1, `${gif.numFrames()} frames`)
  })

  test('a countdown without its date falls back to its text, as a GIF of the declared size', async () => {
    const res = await get(`/o/${token()}/gone.gif`)
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'image/gif')
    assert.equal(res.headers['x-ink-fallbacks'], '1')
    const gif = new GifReader(new Uint8Array(res.rawPayload))
    assert.deepEqual([gif.width, gif.height, gif.numFrames()], [120, 40, 1])
  })

  test('the wrong extension for a block, or an unknown block, is 404 with the 1×1 image and no event', async () => {
    const t = token()
    for (const path of ['hero.gif', 'sale.png', 'nope.png']) {
      const res = await get(`/o/${t}/${path}`)
      assert.equal(res.statusCode, 404, path)
      assert.equal(res.headers['x-ink-error-code'], 'INK_ERR_NOT_FOUND')
      assert.equal(res.headers['cache-control'], 'no-store')
    }
    const img = png((await get(`/o/${t}/nope.png`)).rawPayload)
    assert.deepEqual([img.width, img.height], [1, 1])
    const j = await get(`/o/${t}/nope.json`)
    assert.equal(j.statusCode, 404)
    assert.equal(j.json().code, 'INK_ERR_NOT_FOUND')
    assert.equal(opens(emailId(t)).length, 0)
  })
})

describe('remote images in a live block', () => {
  /** The RGBA of one pixel. */
  const at = (img: PNG, x: number, y: number) => [
    ...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4),
  ]

  test('an <img> on an allowed host is fetched and drawn in place', async () => {
    const t = token()
    // The first open may answer the fallback while the photo is fetched; it then finishes into the cache.
    let img = png((await get(`/o/${t}/photo.png`)).rawPayload)
    const end = Date.now() + 5_000
    while (at(img, 10, 10)[0] !== 255 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20))
      img = png((await get(`/o/${t}/photo.png`)).rawPayload)
    }
    assert.deepEqual([img.width, img.height], [100, 50])
    assert.deepEqual(at(img, 10, 10), [255, 0, 0, 255])
    assert.deepEqual(at(img, 80, 25), [255, 255, 255, 255])
  })

  test('an <img> on a private host that is not allow-listed is never fetched; the box stays empty', async () => {
    const res = await get(`/o/${token()}/private.png`)
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-ink-fallbacks'], '0')
    const img = png(res.rawPayload)
    assert.deepEqual([img.width, img.height], [100, 50])
    assert.deepEqual(at(img, 10, 10), [255, 255, 255, 255])
    assert.equal(intranetRequests, 0)
  })
})

describe('outages', () => {
  test('a template store that fails is a 500 with the stable code, and still an image for an image URL', async () => {
    const renders = app.renders
    const version = renders.version.bind(renders)
    renders.version = async () => {
      throw new Error('template store down')
    }
    try {
      const t = token()
      const res = await get(`/o/${t}/hero.png`)
      assert.equal(res.statusCode, 500)
      assert.equal(res.headers['x-ink-error-code'], 'INK_ERR_INTERNAL')
      assert.equal(res.headers['cache-control'], 'no-store')
      const img = png(res.rawPayload)
      assert.deepEqual([img.width, img.height], [1, 1])
      const json = await get(`/o/${t}/hero.json`)
      assert.equal(json.statusCode, 500)
      assert.equal(json.json().code, 'INK_ERR_INTERNAL')
    } finally {
      renders.version = version
    }
  })
})

describe('deadline', () => {
  // The source's own timeout is 5 s: only the open's deadline (250 ms) can end these requests inside the test's bound.
  test('a source that never answers: the block falls back inside the budget, as JSON and as PNG', {
    timeout: 3_000,
  }, async () => {
    const t = token()
    const res = await get(`/o/${t}/slow.json`)
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.deepEqual(body.items, [
      {
        text: 'Later today.',
        image: `${app.publicUrl}/o/${t}/slow.png`,
        width: 160,
        height: 60,
        fallback: true,
      },
    ])
    assert.equal(body.report.fellBack, true)
    assert.equal(body.report.sources.length, 1)
    assert.equal(body.report.sources[0].outcome, 'timeout')
    const img = await get(`/o/${t}/slow.png`)
    assert.equal(img.statusCode, 200)
    assert.equal(Number(img.headers['x-ink-fallbacks']) >= 1, true)
    const decoded = png(img.rawPayload)
    assert.deepEqual([decoded.width, decoded.height], [160, 60])
  })
})

describe('JSON and the web view', () => {
  test('the JSON holds one item with the text, image URL, size and fallback flag', async () => {
    const t = token()
    const res = await get(`/o/${t}/hero.json`)
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    assert.equal(res.headers.vary, 'Origin, AMP-Email-Sender')
    const body = res.json()
    assert.deepEqual(body.items, [
      {
        text: 'Still thinking about the red kettle?',
        image: `${app.publicUrl}/o/${t}/hero.png`,
        width: 300,
        height: 120,
        fallback: false,
      },
    ])
    assert.match(body.report.profile, /^(live|cached)$/)
  })

  test('the web view is the whole message rendered now, private, not leaking its URL', async () => {
    const t = token()
    const res = await get(`/o/${t}/view`)
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8')
    assert.match(String(res.headers['x-ink-profile']), /^(live|cached)$/)
    assert.match(res.body, /Hello Ada/)
    // Its live blocks are the live images, on the same token.
    assert.ok(res.body.includes(`src="${app.publicUrl}/o/${t}/hero.png"`), res.body)
    assert.equal(res.headers['referrer-policy'], 'no-referrer')
    assert.match(String(res.headers['cache-control']), /^private, max-age=30/)
  })
})

describe('edge cache: ETag and 304', () => {
  for (const path of ['hero.png', 'sale.gif', 'hero.json', 'view']) {
    test(`${path}: If-None-Match with the ETag gets 304 without a body`, async () => {
      const t = token()
      // Past the profile cache's freshness, so the first read is live and the revalidation's cached:
      // the same content either way. A countdown's bytes change every second: the clock then stands
      // still for this test.
      clock.offset += 6_000
      clock.frozen = clock.now()
      try {
        const first = await get(`/o/${t}/${path}`)
        assert.equal(first.statusCode, 200)
        const etag = String(first.headers.etag)
        // The JSON's bytes carry how it was made (its report), so its version is a weak one.
        assert.match(etag, path === 'hero.json' ? /^W\/"[A-Za-z0-9_-]{27}"$/ : /^"[A-Za-z0-9_-]{27}"$/)
        const again = await get(`/o/${t}/${path}`, { 'if-none-match': etag })
        if (path === 'hero.json' || path === 'view') assert.equal(first.headers['x-ink-profile'], 'live')
        assert.equal(again.statusCode, 304)
        assert.equal(again.rawPayload.length, 0)
        assert.equal(again.headers.etag, etag)
        assert.equal(again.headers['cache-control'], first.headers['cache-control'])
        const other = await get(`/o/${t}/${path}`, { 'if-none-match': '"something-else"' })
        assert.equal(other.statusCode, 200)
      } finally {
        clock.frozen = undefined
      }
    })
  }
})

describe('block cache', () => {
  test('the second open is served from the block cache; after the TTL it is rendered again', async () => {
    const t = token({ recipient: 'ada' })
    const hits = await cacheCount('png', 'hit')
    const misses = await cacheCount('png', 'miss')
    const a = await get(`/o/${t}/deal.png`)
    const b = await get(`/o/${t}/deal.png`)
    assert.deepEqual(b.rawPayload, a.rawPayload)
    // deal.png may have been cached by an earlier test (same markup, same key): one or two hits.
    assert.equal((await cacheCount('png', 'hit')) + (await cacheCount('png', 'miss')), hits + misses + 2)
    assert.equal((await cacheCount('png', 'hit')) >= hits + 1, true)
    clock.offset += 31_000
    const missesBefore = await cacheCount('png', 'miss')
    const c = await get(`/o/${t}/deal.png`)
    assert.equal(c.statusCode, 200)
    assert.equal(await cacheCount('png', 'miss'), missesBefore + 1)
  })
})

describe('metrics', () => {
  test('open-time renders are timed by surface, next to pre-send', async () => {
    const t = token()
    for (const path of ['hero.png', 'sale.gif', 'hero.json', 'view'])
      assert.equal((await get(`/o/${t}/${path}`)).statusCode, 200)
    const m = await app.metrics.registry.getSingleMetric('inkstream_render_duration_seconds')?.get()
    const modes = new Set(
      m?.values
        .filter(
          (v) =>
            'metricName' in v && v.metricName === 'inkstream_render_duration_seconds_count' && v.value > 0,
        )
        .map((v) => v.labels.mode),
    )
    for (const mode of ['open-time-png', 'open-time-gif', 'open-time-json', 'open-time-view'])
      assert.ok(modes.has(mode), mode)
  })

  test("an open's fallbacks are counted by template, placeholder and reason, as a pre-send render's are", {
    timeout: 5_000,
  }, async () => {
    const counts = async () => {
      const m = await app.metrics.registry.getSingleMetric('inkstream_fallbacks_total')?.get()
      const by = new Map<string, number>()
      for (const v of m?.values ?? [])
        by.set(`${v.labels.template}|${v.labels.placeholder}|${v.labels.reason}`, v.value)
      return by
    }
    const before = await counts()
    // The source never answers: the block falls back at the open's deadline, and its report says why.
    const res = await get(`/o/${token()}/slow.json`)
    assert.equal(res.statusCode, 200)
    const reported = (res.json() as { report: { fallbacks: { placeholder: string; reason: string }[] } })
      .report.fallbacks
    assert.ok(reported.length >= 1)
    const after = await counts()
    const grew = [...after]
      .filter(([k, n]) => n > (before.get(k) ?? 0))
      .map(([k, n]) => [k, n - (before.get(k) ?? 0)])
    const expected = [...new Set(reported.map((f) => `spring|${f.placeholder}|${f.reason}`))].map((k) => [
      k,
      1,
    ])
    assert.deepEqual(grew.sort(), expected.sort())
  })
})

describe('stale profile', () => {
  test('when the store fails after a first read, the last good profile is served and said so', async () => {
    const t = token({ recipient: 'ada' })
    const first = await get(`/o/${t}/hero.json`)
    assert.match(String(first.headers['x-ink-profile']), /^(live|cached)$/)
    // The open is an event of ada's: once the processor has folded it, her cached copy is no longer
    // fresh (a change was committed), and it must still be the fallback when the store then fails.
    await until(() => opens(emailId(t)).length === 1, 'the first open')
    await waitForProcessed(app)
    await new Promise((r) => setTimeout(r, 100)) // the processor thread's batch report reaches the main thread
    const store = app.store
    const original = store.findProfileId.bind(store)
    store.findProfileId = async () => {
      throw new Error('profile store down')
    }
    try {
      clock.offset += 6_000 // past the profile cache's 5 s freshness, inside its stale window
      const res = await get(`/o/${t}/hero.json`)
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['x-ink-profile'], 'stale')
      // The same content as the first answer, read another way: the same version for a revalidation.
      assert.equal(res.headers.etag, first.headers.etag)
      const body = res.json()
      assert.equal(body.report.profile, 'stale')
      assert.equal(body.items[0].text, 'Still thinking about the red kettle?')
      const img = await get(`/o/${t}/hero.png`)
      assert.equal(img.headers['x-ink-profile'], 'stale')
      assert.deepEqual([png(img.rawPayload).width, png(img.rawPayload).height], [300, 120])
      // Freshness: the open shows data as old as the last good read, 6 s ago at least (up to 5 s more
      // if that read was itself a cached copy). Another message: its own open event.
      const other = token({ recipient: 'ada' })
      assert.equal((await get(`/o/${other}/hero.json`)).headers['x-ink-profile'], 'stale')
      await until(() => opens(emailId(other)).length === 1, 'the stale open')
      const age = opens(emailId(other))[0]?.properties.data_age_ms
      assert.ok(typeof age === 'number' && age >= 6_000 && age < 12_000, String(age))
    } finally {
      store.findProfileId = original
    }
  })
})

describe('refused tokens render nothing and record nothing', () => {
  test('tampered, expired, unknown key, wrong kind, cross-workspace: 4xx with a stable code and no event', async () => {
    const good = token()
    const victim = token({ messageId: 'tampered-1' })
    const [kid, body, mac] = victim.split('.') as [string, string, string]
    const tampered = `${kid}.${body}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BA' : 'AA'}`
    const expiring = app.codec.sign(
      {
        kind: 'open-time',
        workspaceId: app.workspace.id,
        campaignId: 'c',
        recipient: 'ada',
        messageId: 'expired-1',
        templateId: 'spring',
        version,
      },
      1_000,
    )
    const otherKeys = createTokenCodec({ keys: { zz: Buffer.alloc(32, 7) }, currentKid: 'zz', clock })
    const unknownKey = otherKeys.sign(
      {
        kind: 'open-time',
        workspaceId: app.workspace.id,
        campaignId: 'c',
        recipient: 'ada',
        messageId: 'unknown-key-1',
        templateId: 'spring',
        version,
      },
      DAY,
    )
    const click = app.codec.sign(
      {
        kind: 'click',
        workspaceId: app.workspace.id,
        campaignId: 'c',
        recipient: 'ada',
        messageId: 'click-1',
        url: 'https://x.example/',
      },
      DAY,
    )
    const crossWorkspace = token({ workspaceId: 'someone-else', messageId: 'cross-1' })
    clock.offset += 2_000 // the expiring token is now expired
    const cases: [string, string, number, string][] = [
      ['tampered', tampered, 400, 'INK_ERR_TOKEN_INVALID'],
      ['expired', expiring, 410, 'INK_ERR_TOKEN_EXPIRED'],
      ['unknown key', unknownKey, 400, 'INK_ERR_TOKEN_INVALID'],
      ['wrong kind', click, 400, 'INK_ERR_TOKEN_INVALID'],
      ['cross-workspace', crossWorkspace, 404, 'INK_ERR_NOT_FOUND'],
      ['garbage', 'not-a-token', 400, 'INK_ERR_TOKEN_INVALID'],
    ]
    for (const [what, t, status, code] of cases) {
      const img = await get(`/o/${t}/hero.png`)
      assert.equal(img.statusCode, status, what)
      assert.equal(img.headers['x-ink-error-code'], code, what)
      assert.equal(img.headers['cache-control'], 'no-store', what)
      const decoded = png(img.rawPayload)
      assert.deepEqual([decoded.width, decoded.height, decoded.data[3]], [1, 1, 0], what)
      const json = await get(`/o/${t}/hero.json`, { 'amp-email-sender': SENDER })
      assert.equal(json.statusCode, status, what)
      assert.deepEqual(Object.keys(json.json()).sort(), ['code', 'message', 'success'], what)
      const view = await get(`/o/${t}/view`)
      assert.equal(view.statusCode, status, what)
      assert.equal(view.headers['x-ink-error-code'], code, what)
    }
    // A good open after them: once it is in the log, nothing from the refused ones is.
    await get(`/o/${good}/hero.png`)
    await until(() => opens(emailId(good)).length === 1, 'the good open')
    for (const id of ['tampered-1', 'expired-1', 'unknown-key-1', 'click-1', 'cross-1'])
      assert.equal(opens(id).length, 0, id)
  })
})

describe('AMP for Email CORS on the JSON', () => {
  test('v2: an allowed sender gets AMP-Email-Allow-Sender; another gets 403 and no data', async () => {
    const t = token()
    const ok = await get(`/o/${t}/hero.json`, { 'amp-email-sender': SENDER })
    assert.equal(ok.statusCode, 200)
    assert.equal(ok.headers['amp-email-allow-sender'], SENDER)
    assert.equal(ok.headers['access-control-allow-origin'], undefined)
    const refused = await get(`/o/${t}/hero.json`, { 'amp-email-sender': 'spam@evil.example' })
    assert.equal(refused.statusCode, 403)
    assert.equal(refused.headers['x-ink-error-code'], 'INK_ERR_FORBIDDEN')
    assert.equal(refused.headers['amp-email-allow-sender'], undefined)
    assert.equal(refused.json().code, 'INK_ERR_FORBIDDEN')
    assert.equal(refused.json().items, undefined)
  })

  test('v1: Origin + allowed __amp_source_origin get the three headers; others 403', async () => {
    const t = token()
    const ok = await get(`/o/${t}/hero.json?__amp_source_origin=${encodeURIComponent(SENDER)}`, {
      origin: 'https://mail.google.com',
    })
    assert.equal(ok.statusCode, 200)
    assert.equal(ok.headers['access-control-allow-origin'], 'https://mail.google.com')
    assert.equal(ok.headers['amp-access-control-allow-source-origin'], SENDER)
    assert.equal(ok.headers['access-control-expose-headers'], 'AMP-Access-Control-Allow-Source-Origin')
    assert.equal(ok.json().items.length, 1)
    for (const q of ['?__amp_source_origin=spam%40evil.example', '']) {
      const refused = await get(`/o/${t}/hero.json${q}`, { origin: 'https://mail.google.com' })
      assert.equal(refused.statusCode, 403, q)
      assert.equal(refused.headers['x-ink-error-code'], 'INK_ERR_FORBIDDEN')
      assert.equal(refused.headers['access-control-allow-origin'], undefined)
    }
  })
})

describe('the Email Opened event', () => {
  test('one per token per window, whatever was fetched, with the contract properties', async () => {
    // The requests below share one 10 s window: the clock stands still while they run (drawings can
    // take seconds on a loaded machine).
    clock.frozen = clock.now()
    try {
      await oneOpenPerWindow()
    } finally {
      clock.frozen = undefined
    }
  })

  const oneOpenPerWindow = async () => {
    const t = token()
    const gmail = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)'
    await get(`/o/${t}/hero.png`, { 'user-agent': gmail })
    await get(`/o/${t}/hero.png`, { 'user-agent': gmail })
    await get(`/o/${t}/sale.gif`, { 'user-agent': gmail })
    await get(`/o/${t}/hero.json`)
    await until(() => opens(emailId(t)).length >= 1, 'the open')
    // The others were inside the same window: give any stray append the chance to land, then count.
    await get(`/o/${t}/view`)
    const later = token()
    await get(`/o/${later}/hero.png`)
    await until(() => opens(emailId(later)).length === 1, 'a later open')
    const events = opens(emailId(t))
    assert.equal(events.length, 1)
    const { data_age_ms: age, ...properties } = events[0]?.properties ?? {}
    assert.deepEqual(properties, {
      campaign_id: 'spring-sale',
      email_id: emailId(t),
      block: 'hero',
      open_kind: 'open-time',
      surface: 'png',
      ua_class: 'gmail-proxy',
      proxy: true,
      fallbacks: 0,
    })
    // The block showed the profile's data: read from the store (0) or its cache (under its 5 s TTL).
    assert.ok(typeof age === 'number' && age >= 0 && age <= 5_000, String(age))
  }

  test('HEAD answers like GET and records nothing', async () => {
    const t = token()
    const res = await app.server.inject({ method: 'HEAD', url: `/o/${t}/hero.png` })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'image/png')
    const later = token()
    await get(`/o/${later}/hero.png`)
    await until(() => opens(emailId(later)).length === 1, 'a later open')
    assert.equal(opens(emailId(t)).length, 0)
  })
})
