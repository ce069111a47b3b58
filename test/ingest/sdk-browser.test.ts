/**
 * The browser snippet end to end: a page served from another origin loads /sdk.js from the app into
 * headless Chromium, and what it sends must reach the collector (CORS included) and the profile.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { after, before, describe, type TestContext, test } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import type { Browser, BrowserContext, Page, Request } from 'playwright-core'
import { SDK_FILE } from '../../src/ingest/sdk-route.ts'
import { startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import {
  chromiumMissing,
  getProfile as getProfileOf,
  launchChromium,
  type PageRoute,
  type PageServer,
  profileOnceProcessed as profileOf,
  startPageServer,
} from '../helpers/browser.ts'

type Props = Record<string, unknown>

interface Inkstream {
  load(writeKey: string, opts?: { host?: string }): void
  identify(userId: string | null, traits?: Props): void
  track(event: string, properties?: Props): void
  page(name?: string, properties?: Props): void
  reset(): void
}

declare global {
  interface Window {
    inkstream: Inkstream
  }
}

interface SentEvent {
  type: string
  messageId: string
  timestamp: string
  anonymousId: string
  userId?: string
  event?: string
  properties?: Props
  context: { library: Props; page: Props; userAgent: string; timezone: string }
}

interface Profile {
  userId: string | null
  identities: { userIds: string[]; anonymousIds: string[] }
  traits: Props
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const STORED_ANONYMOUS_ID = 'ink_anonymous_id'
const STORED_QUEUE = 'ink_queue'

const html = (head: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>Lamp shop</title>${head}</head><body><h1>Lamps</h1></body></html>`

/** The shop's pages: the snippet from the app (or served by the shop itself on /manual). */
function shopPages(app: TestApp): PageRoute {
  const { writeKey } = app.workspace
  const pages: Record<string, string> = {
    // Configured explicitly, with the snippet served by the shop itself: only `host` can point it at the app.
    '/manual': html(
      `<script src="/sdk.js"></script><script>inkstream.load('${writeKey}', { host: '${app.url}/' })</script>`,
    ),
    // The same origin without the snippet, to read what a closed page left in storage.
    '/plain': '<!doctype html>',
  }
  return (path) =>
    path === '/sdk.js'
      ? { type: 'text/javascript', body: readFileSync(SDK_FILE) }
      : {
          type: 'text/html; charset=utf-8',
          body: pages[path] ?? html(`<script src="${app.url}/sdk.js" data-write-key="${writeKey}"></script>`),
        }
}

const batchOf = (req: Request): SentEvent[] => JSON.parse(req.postData() ?? '{}').batch ?? []
const idsOf = (req: Request) => batchOf(req).map((e) => e.messageId)

describe('the browser snippet in Chromium', {
  skip: chromiumMissing(),
}, () => {
  let app: TestApp
  let site: PageServer
  let browser: Browser
  let batchUrl: string

  before(async () => {
    app = await startTestApp()
    batchUrl = `${app.url}/v1/batch`
    site = await startPageServer(shopPages(app))
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await site?.close()
    await app?.close()
  })

  /** A fresh browser context (its own storage) with the shop page open on the page server's origin. */
  async function openShop(t: TestContext, opts: { path?: string; init?: () => void } = {}) {
    const context = await browser.newContext()
    t.after(() => context.close())
    if (opts.init) await context.addInitScript(opts.init)
    const page = await context.newPage()
    const errors: Error[] = []
    page.on('pageerror', (err) => errors.push(err))
    await page.goto(`${site.url}${opts.path ?? '/shop'}`)
    return { context, page, errors }
  }

  const isBatch = (req: Request) => req.url() === batchUrl && req.method() === 'POST'
  const storedAnonymousId = (page: Page) => page.evaluate((k) => localStorage.getItem(k), STORED_ANONYMOUS_ID)
  const storedQueue = (page: Page) =>
    page.evaluate((k): SentEvent[] => JSON.parse(localStorage.getItem(k) ?? 'null'), STORED_QUEUE)

  const getProfile = (id: string) => getProfileOf<Profile>(app, id)
  const profileOnceProcessed = (id: string) => profileOf<Profile>(app, id)

  /** Counts navigator.sendBeacon calls that the browser accepted, in localStorage so they outlive the page. */
  const countBeacons = () => {
    const send = navigator.sendBeacon.bind(navigator)
    navigator.sendBeacon = (url, data) => {
      const queued = send(url, data)
      if (queued)
        localStorage.setItem('test_beacons', String(Number(localStorage.getItem('test_beacons')) + 1))
      return queued
    }
  }
  const beaconsSent = async (context: BrowserContext) => {
    const page = await context.newPage()
    await page.goto(`${site.url}/plain`)
    return page.evaluate(() => Number(localStorage.getItem('test_beacons')))
  }

  /** Answers the first `n` batch posts with `status` (CORS-readable), lets later ones through. */
  async function failFirst(context: BrowserContext, n: number, status: number) {
    const seen: Request[] = []
    await context.route(batchUrl, async (route) => {
      seen.push(route.request())
      if (seen.length > n) return route.continue()
      return route.fulfill({
        status,
        headers: { 'access-control-allow-origin': '*' },
        contentType: 'application/json',
        body: JSON.stringify({ code: 'TEST_FAILURE', message: `test answered ${status}` }),
      })
    })
    return seen
  }

  test('identify, track and page calls are folded into one profile holding the stored anonymousId', async (t) => {
    const { page, errors } = await openShop(t, { path: '/products/lamp' })
    const anonymousId = await storedAnonymousId(page)
    assert.match(anonymousId ?? '', UUID)
    const response = page.waitForResponse((res) => isBatch(res.request()))
    await page.evaluate(() => {
      window.inkstream.page('Lamp')
      window.inkstream.track('Product Viewed', { product_id: 'p-lamp', name: 'Lamp', price: 49 })
      window.inkstream.identify('user-fold', { email: 'ada@example.com', firstName: 'Ada' })
    })
    const res = await response
    assert.equal(res.status(), 200)
    assert.deepEqual(await res.json(), { success: true, accepted: 3, rejected: [] })
    // The snippet only empties its queue when it could read the 200, i.e. when CORS let it.
    await page.waitForFunction((k) => localStorage.getItem(k) === '[]', STORED_QUEUE, { timeout: 3000 })

    await waitForProcessed(app)
    const { status, body } = await getProfile('user-fold')
    assert.equal(status, 200)
    assert.equal(body.userId, 'user-fold')
    assert.deepEqual(body.identities.anonymousIds, [anonymousId])
    assert.equal(body.traits.email, 'ada@example.com')
    assert.equal(body.traits.first_name, 'Ada')
    assert.deepEqual(body.traits.last_viewed_product, { product_id: 'p-lamp', name: 'Lamp', price: 49 })
    assert.equal(body.traits.products_viewed_7d, 1)
    assert.equal(body.traits.pages_viewed_7d, 1)
    assert.deepEqual(errors, [])
  })

  test('every event carries a messageId, a timestamp and the page context, posted as text/plain', async (t) => {
    const { page } = await openShop(t, { path: '/products/desk?ref=mail' })
    const sent = page.waitForRequest(isBatch)
    const before = Date.now()
    await page.evaluate(() => {
      window.inkstream.track('Product Viewed', { product_id: 'p-desk' })
      window.inkstream.page()
    })
    const req = await sent
    assert.match(req.headers()['content-type'] ?? '', /^text\/plain\b/)
    const body = JSON.parse(req.postData() ?? '{}')
    assert.equal(body.writeKey, app.workspace.writeKey)
    assert.match(body.sentAt, ISO)
    const [track, pageView] = body.batch as SentEvent[]
    assert.ok(track && pageView, 'both events are in one batch')
    assert.equal(track.type, 'track')
    assert.equal(track.event, 'Product Viewed')
    assert.equal(pageView.type, 'page')
    assert.equal(pageView.properties?.path, '/products/desk')
    assert.notEqual(track.messageId, pageView.messageId)
    for (const e of [track, pageView]) {
      assert.match(e.messageId, UUID)
      assert.match(e.timestamp, ISO)
      assert.ok(Math.abs(Date.parse(e.timestamp) - before) < 60_000, 'timestamp is the time of the call')
      assert.equal(e.anonymousId, await storedAnonymousId(page))
      assert.equal(e.userId, undefined)
      assert.equal(e.context.library.name, 'inkstream.js')
      assert.match(String(e.context.library.version), /^\d+\.\d+\.\d+$/)
      assert.deepEqual(e.context.page, {
        url: `${site.url}/products/desk?ref=mail`,
        path: '/products/desk',
        search: '?ref=mail',
        referrer: '',
        title: 'Lamp shop',
      })
      assert.equal(e.context.userAgent, await page.evaluate(() => navigator.userAgent))
      assert.equal(
        e.context.timezone,
        await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone),
      )
    }
  })

  test('inkstream.load(writeKey, { host }) configures a snippet included without data attributes', async (t) => {
    const { page, errors } = await openShop(t, { path: '/manual' })
    const response = page.waitForResponse((res) => isBatch(res.request()))
    await page.evaluate(() => window.inkstream.track('Product Viewed', { product_id: 'p-manual' }))
    const res = await response
    assert.equal(res.status(), 200)
    assert.equal(batchOf(res.request())[0]?.properties?.product_id, 'p-manual')
    assert.deepEqual(errors, [])
  })

  test('20 queued events are sent at once, without waiting for the timer', async (t) => {
    const { page } = await openShop(t)
    const requests: Request[] = []
    page.on('request', (req) => isBatch(req) && requests.push(req))
    // The timer would send after 1 s; a full batch must not wait for it.
    const full = page.waitForRequest(isBatch, { timeout: 700 })
    await page.evaluate(() => {
      for (let i = 0; i < 25; i++) window.inkstream.track('Step Done', { i })
    })
    assert.equal(batchOf(await full).length, 20)
    const rest = await page.waitForRequest((req) => isBatch(req) && req !== requests[0])
    assert.deepEqual(
      batchOf(rest).map((e) => e.properties?.i),
      [20, 21, 22, 23, 24],
    )
  })

  test('the anonymousId survives a reload, and another visitor gets a different one', async (t) => {
    const { page } = await openShop(t)
    const first = await storedAnonymousId(page)
    assert.match(first ?? '', UUID)
    await page.reload()
    assert.equal(await storedAnonymousId(page), first)
    const sent = page.waitForRequest(isBatch)
    await page.evaluate(() => window.inkstream.track('Reloaded'))
    assert.equal(batchOf(await sent)[0]?.anonymousId, first)

    const other = await openShop(t)
    const second = await storedAnonymousId(other.page)
    assert.match(second ?? '', UUID)
    assert.notEqual(second, first)
  })

  test('with storage blocked, ids live in a first-party cookie and nothing throws into the page', async (t) => {
    const blockStorage = () => {
      Object.defineProperty(window, 'localStorage', {
        get() {
          throw new DOMException('The operation is insecure.', 'SecurityError')
        },
      })
    }
    const { context, page, errors } = await openShop(t, { init: blockStorage })
    const threw = await page.evaluate(() => {
      try {
        window.inkstream.identify('user-cookie', { email: 'cookie@example.com' })
        window.inkstream.track('Product Viewed', { product_id: 'p-cookie' })
        return false
      } catch {
        return true
      }
    })
    assert.equal(threw, false)
    const sent = page.waitForRequest(isBatch)
    const [identify] = batchOf(await sent)
    const cookies = Object.fromEntries((await context.cookies(site.url)).map((c) => [c.name, c.value]))
    assert.match(cookies[STORED_ANONYMOUS_ID] ?? '', UUID)
    assert.equal(identify?.anonymousId, cookies[STORED_ANONYMOUS_ID])
    assert.equal(cookies['ink_user_id'], 'user-cookie')

    await page.reload()
    const again = page.waitForRequest(isBatch)
    await page.evaluate(() => window.inkstream.track('Reloaded'))
    const [reloaded] = batchOf(await again)
    assert.equal(reloaded?.anonymousId, cookies[STORED_ANONYMOUS_ID])
    assert.equal(reloaded?.userId, 'user-cookie')
    assert.deepEqual(errors, [])
  })

  test('a batch answered 503 is retried and its events arrive exactly once', async (t) => {
    const { context, page } = await openShop(t)
    const seen = await failFirst(context, 1, 503)
    const anonymousId = (await storedAnonymousId(page)) ?? ''
    const ok = page.waitForResponse((res) => isBatch(res.request()) && res.status() === 200)
    await page.evaluate(() => {
      window.inkstream.track('Product Viewed', { product_id: 'p-retry-1', name: 'Chair', price: 80 })
      window.inkstream.track('Product Viewed', { product_id: 'p-retry-2', name: 'Table', price: 300 })
    })
    await ok
    await page.waitForFunction((k) => localStorage.getItem(k) === '[]', STORED_QUEUE, { timeout: 3000 })
    await waitForProcessed(app)

    assert.equal(seen.length, 2, 'one failed post and one retry')
    const [failed, retried] = seen.map(idsOf)
    assert.equal(failed?.length, 2)
    assert.deepEqual(retried, failed)
    const { body } = await getProfile(anonymousId)
    assert.equal(body.traits.products_viewed_7d, 2)
    assert.deepEqual(body.traits.last_viewed_product, { product_id: 'p-retry-2', name: 'Table', price: 300 })
  })

  test('a batch answered 400 is dropped, not retried', async (t) => {
    const { context, page } = await openShop(t)
    const seen = await failFirst(context, 1, 400)
    const rejected = page.waitForResponse((res) => isBatch(res.request()) && res.status() === 400)
    await page.evaluate(() => window.inkstream.track('Product Viewed', { product_id: 'p-bad' }))
    await rejected
    const next = page.waitForRequest((req) => isBatch(req) && req !== seen[0])
    await page.evaluate(() => window.inkstream.track('Product Viewed', { product_id: 'p-good' }))
    // A retry of the rejected batch would come first and carry p-bad.
    assert.deepEqual(
      batchOf(await next).map((e) => e.properties?.product_id),
      ['p-good'],
    )
  })

  test('events the collector could not take survive a reload and are sent by the next page view', async (t) => {
    const { context, page } = await openShop(t)
    const anonymousId = (await storedAnonymousId(page)) ?? ''
    let blocked = true
    const delivered: string[] = []
    await context.route(batchUrl, async (route) => {
      if (blocked) return route.abort('connectionrefused')
      delivered.push(...idsOf(route.request()))
      return route.continue()
    })
    const failed = page.waitForEvent('requestfailed', isBatch)
    await page.evaluate(() => window.inkstream.track('Product Viewed', { product_id: 'p-offline' }))
    const [lost] = idsOf(await failed)
    assert.deepEqual(
      (await storedQueue(page)).map((e) => e.messageId),
      [lost],
    )

    await page.reload()
    blocked = false
    await page.waitForFunction((k) => localStorage.getItem(k) === '[]', STORED_QUEUE, { timeout: 5000 })
    assert.ok(delivered.includes(lost ?? ''), 'the next page view sent the stored event')
    await waitForProcessed(app)
    const { body } = await getProfile(anonymousId)
    assert.equal(body.traits.products_viewed_7d, 1)
  })

  test('the stored queue is capped, keeping the newest events', async (t) => {
    const { context, page, errors } = await openShop(t)
    await context.route(batchUrl, (route) => route.abort('connectionrefused'))
    const queued = await page.evaluate((k) => {
      for (let i = 0; i < 600; i++) window.inkstream.track('Step Done', { i })
      return JSON.parse(localStorage.getItem(k) ?? '[]').map((e: SentEvent) => e.properties?.i)
    }, STORED_QUEUE)
    assert.equal(queued.length, 500)
    assert.equal(queued[0], 100)
    assert.equal(queued.at(-1), 599)
    assert.deepEqual(errors, [])
  })

  test('an event tracked right before navigating away arrives by sendBeacon', async (t) => {
    const { context, page } = await openShop(t, { init: countBeacons })
    const anonymousId = (await storedAnonymousId(page)) ?? ''
    await page.evaluate(() =>
      window.inkstream.track('Product Viewed', { product_id: 'p-leave', name: 'Rug', price: 120 }),
    )
    await page.goto('about:blank')
    const profile = await profileOnceProcessed(anonymousId)
    assert.equal(profile.traits.products_viewed_7d, 1)
    assert.deepEqual(profile.traits.last_viewed_product, { product_id: 'p-leave', name: 'Rug', price: 120 })
    assert.equal(await beaconsSent(context), 1)
  })

  test('an event tracked right before the tab is closed arrives by sendBeacon', async (t) => {
    const { context, page } = await openShop(t, { init: countBeacons })
    const anonymousId = (await storedAnonymousId(page)) ?? ''
    await page.evaluate(() =>
      window.inkstream.track('Product Viewed', { product_id: 'p-close', name: 'Vase', price: 30 }),
    )
    await page.close({ runBeforeUnload: true })
    const profile = await profileOnceProcessed(anonymousId)
    assert.equal(profile.traits.products_viewed_7d, 1)
    assert.deepEqual(profile.traits.last_viewed_product, { product_id: 'p-close', name: 'Vase', price: 30 })
    assert.equal(await beaconsSent(context), 1)
  })
})

describe('the snippet as served', () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
  })
  after(async () => {
    await app?.close()
  })

  test('GET /sdk.js serves the snippet gzipped in under 3 KB', async () => {
    const source = readFileSync(SDK_FILE)
    const size = gzipSync(source, { level: 9 }).length
    assert.ok(size < 3072, `sdk.js is ${size} bytes gzipped; the budget is 3072`)

    const { headers, body } = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>(
      (resolve, reject) => {
        const req = request(`${app.url}/sdk.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }))
          res.on('error', reject)
        })
        req.on('error', reject)
        req.end()
      },
    )
    assert.equal(headers['content-encoding'], 'gzip')
    assert.match(String(headers['content-type']), /^application\/javascript/)
    assert.ok(body.length < 3072, `served ${body.length} bytes`)
    assert.deepEqual(gunzipSync(body), source)
  })
})
