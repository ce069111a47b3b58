/**
 * The browser libraries of Segment and RudderStack, unchanged, in headless Chromium against the
 * collector: @segment/analytics-next (the library behind Segment's snippet; short paths /v1/t …
 * and, batching, /v1/b) and @rudderstack/analytics-js v3 (GET /sourceConfig, then /v1/<type>).
 * Each is served from node_modules by a page server on another origin, so every call is a CORS
 * request; no request may leave for Segment's or RudderStack's CDNs. The assertions are on the
 * profile the processor built, read back through the admin API.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, type TestContext, test } from 'node:test'
import type { Browser, Page, Response } from 'playwright-core'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import {
  appAnswers,
  chromiumMissing,
  launchChromium,
  openPage,
  type PageRoute,
  type PageServer,
  profileOnceProcessed,
  scriptFiles,
  startPageServer,
} from '../helpers/browser.ts'
import { storedEventsOf } from '../helpers/log.ts'

const MODULES = join(import.meta.dirname, '../../node_modules')
/** What the page server serves under /ajs/ and /rs/. */
const DIST: Record<string, string> = {
  ajs: join(MODULES, '@segment/analytics-next/dist/umd'),
  rs: join(MODULES, '@rudderstack/analytics-js/dist/npm/modern/bundled/umd'),
}

type Props = Record<string, unknown>

interface AnalyticsNext {
  identify(userId: string, traits: Props): Promise<unknown>
  track(event: string, properties: Props): Promise<unknown>
  page(name: string, properties?: Props): Promise<unknown>
}
interface RudderAnalytics {
  load(writeKey: string, dataPlaneUrl: string, options: Props): void
  ready(callback: () => void): void
  identify(userId: string, traits: Props): void
  track(event: string, properties: Props): void
  page(category: string, name: string): void
}

declare global {
  interface Window {
    AnalyticsNext: {
      AnalyticsBrowser: { load(settings: Props, options?: Props): Promise<[AnalyticsNext, unknown]> }
    }
    rudderanalytics: { RudderAnalytics: new () => RudderAnalytics }
  }
}

const page = (script: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>Lamp shop</title><script src="${script}"></script></head><body>Lamps</body></html>`

/** The shop's origin: the library files (under /ajs/ and /rs/) and one page per library. */
const shopPages: PageRoute = (path) => {
  const html = { '/segment': page('/ajs/index.js'), '/rudder': page('/rs/index.js') }[path]
  return html === undefined ? scriptFiles(DIST)(path) : { type: 'text/html; charset=utf-8', body: html }
}

describe('Segment and RudderStack browser libraries in Chromium', {
  skip: chromiumMissing(),
}, () => {
  let app: TestApp
  let site: PageServer
  let browser: Browser

  before(async () => {
    app = await startTestApp()
    site = await startPageServer(shopPages)
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await site?.close()
    await app?.close()
  })

  const open = (t: TestContext, path: string) => openPage(browser, t, { site, app, path })
  const collectorAnswers = (p: Page, n: number, match: (r: Response) => boolean) =>
    appAnswers(p, app.url, n, match)
  const traitsOf = async (id: string): Promise<Props> => (await profileOnceProcessed(app, id)).traits

  /** analytics.js with its settings given inline (`cdnSettings`), so it never asks cdn.segment.com. */
  async function sendWithAnalyticsNext(p: Page, userId: string, deliveryStrategy?: Props): Promise<void> {
    await p.evaluate(
      async ({ writeKey, apiHost, userId, deliveryStrategy }) => {
        const [analytics] = await window.AnalyticsNext.AnalyticsBrowser.load({
          writeKey,
          cdnSettings: {
            integrations: {
              'Segment.io': {
                apiKey: writeKey,
                apiHost,
                protocol: 'http',
                ...(deliveryStrategy && { deliveryStrategy }),
              },
            },
          },
        })
        await Promise.all([
          analytics.identify(userId, { email: `${userId}@example.com`, firstName: 'Ada' }),
          analytics.track('Product Viewed', { product_id: 'lamp-1', name: 'Lamp', price: 49 }),
          analytics.track('Order Completed', { order_id: `${userId}-1`, revenue: 40 }),
          analytics.page('Lamps'),
        ])
      },
      { writeKey: app.workspace.writeKey, apiHost: `${new URL(app.url).host}/v1`, userId, deliveryStrategy },
    )
  }

  async function assertProfileFromAnalyticsNext(userId: string): Promise<void> {
    const traits = await traitsOf(userId)
    assert.equal(traits.email, `${userId}@example.com`)
    assert.equal(traits.first_name, 'Ada')
    assert.equal(traits.orders_total, 1)
    assert.equal(traits.revenue_total, 40)
    assert.equal(traits.first_order_id, `${userId}-1`)
    assert.deepEqual(traits.last_viewed_product, { product_id: 'lamp-1', name: 'Lamp', price: 49 })
  }

  test('@segment/analytics-next posts each call to /v1/i, /v1/t, /v1/p and they reach the profile', {
    timeout: 60_000,
  }, async (t) => {
    const { page: p, foreign, errors, answers } = await open(t, '/segment')
    const delivered = collectorAnswers(p, 4, () => true)
    await sendWithAnalyticsNext(p, 'ajs-user')
    await delivered
    assert.deepEqual(answers.filter((a) => a.startsWith('POST')).sort(), [
      'POST /v1/i 200',
      'POST /v1/p 200',
      'POST /v1/t 200',
      'POST /v1/t 200',
    ])
    await assertProfileFromAnalyticsNext('ajs-user')
    assert.deepEqual(foreign, [], 'nothing fetched from Segment')
    assert.deepEqual(errors, [])
  })

  test('@segment/analytics-next in batching mode posts one /v1/b batch that reaches the profile', {
    timeout: 60_000,
  }, async (t) => {
    const { page: p, foreign, errors, answers } = await open(t, '/segment')
    const delivered = collectorAnswers(p, 1, () => true)
    await sendWithAnalyticsNext(p, 'ajs-batch-user', {
      strategy: 'batching',
      config: { size: 4, timeout: 60_000 },
    })
    const [res] = await delivered
    const body = JSON.parse(res!.request().postData() ?? '{}') as { writeKey?: string; batch?: unknown[] }
    assert.equal(body.batch?.length, 4)
    assert.equal(body.writeKey, app.workspace.writeKey)
    assert.deepEqual(
      answers.filter((a) => a.startsWith('POST')),
      ['POST /v1/b 200'],
    )
    await assertProfileFromAnalyticsNext('ajs-batch-user')
    assert.deepEqual(foreign, [])
    assert.deepEqual(errors, [])
  })

  test('@rudderstack/analytics-js loads its source config from the collector and its identify traits reach the profile', {
    timeout: 60_000,
  }, async (t) => {
    const { page: p, foreign, errors, answers } = await open(t, '/rudder')
    const delivered = collectorAnswers(p, 4, (r) => r.request().method() === 'POST')
    const userId = 'rs-user'
    const config = p.waitForResponse(
      (r) => r.url().startsWith(`${app.url}/sourceConfig`) && r.request().method() === 'GET',
    )
    const sent = p.evaluate(
      ({ writeKey, url, userId }) =>
        new Promise<void>((resolve) => {
          const rs = new window.rudderanalytics.RudderAnalytics()
          rs.load(writeKey, url, { configUrl: url, logLevel: 'ERROR' })
          rs.ready(() => {
            rs.identify(userId, { email: `${userId}@example.com`, firstName: 'Rudy', plan: 'pro' })
            rs.track('Product Viewed', { product_id: 'kettle-1', name: 'Kettle', price: 45 })
            rs.track('Order Completed', { order_id: `${userId}-1`, revenue: 60 })
            rs.page('Shop', 'Kettles')
            resolve()
          })
        }),
      { writeKey: app.workspace.writeKey, url: app.url, userId },
    )
    // Without its source config the SDK never gets ready: fail here, with the answer it got.
    const configAnswer = await config
    assert.equal(configAnswer.status(), 200, await configAnswer.text())
    await sent
    await delivered
    assert.ok(
      answers.some((a) => /^GET \/sourceConfig\/ 200$/.test(a)),
      answers.join('\n'),
    )
    assert.deepEqual(answers.filter((a) => a.startsWith('POST')).sort(), [
      'POST /v1/identify 200',
      'POST /v1/page 200',
      'POST /v1/track 200',
      'POST /v1/track 200',
    ])
    const traits = await traitsOf(userId)
    assert.equal(traits.email, `${userId}@example.com`)
    assert.equal(traits.first_name, 'Rudy')
    assert.equal(traits.plan, 'pro')
    assert.equal(traits.orders_total, 1)
    assert.equal(traits.revenue_total, 60)
    assert.deepEqual(traits.last_viewed_product, { product_id: 'kettle-1', name: 'Kettle', price: 45 })

    // The SDK sends traits only in context.traits (stored folded into traits), times by originalTimestamp.
    const identify = storedEventsOf(app, userId).find((e) => e.type === 'identify')
    assert.ok(identify)
    assert.equal(identify.traits?.email, `${userId}@example.com`)
    assert.equal(identify.context?.traits, undefined)
    for (const e of storedEventsOf(app, userId)) {
      assert.ok(e.originalTimestamp && e.sentAt, `${e.type} has originalTimestamp and sentAt`)
      assert.equal(
        Date.parse(e.timestamp),
        Date.parse(e.receivedAt) - (Date.parse(e.sentAt) - Date.parse(e.originalTimestamp)),
        `${e.type}: timestamp = receivedAt - (sentAt - originalTimestamp)`,
      )
    }
    assert.deepEqual(foreign, [], 'nothing fetched from RudderStack')
    assert.deepEqual(errors, [])
  })

  test('@rudderstack/analytics-js with useBeacon posts /beacon/v1/batch and its identify traits reach the profile', {
    timeout: 60_000,
  }, async (t) => {
    const { page: p, foreign, errors } = await open(t, '/rudder')
    const beacon = p.waitForRequest((r) => r.url().startsWith(`${app.url}/beacon/v1/batch?writeKey=`))
    const userId = 'rs-beacon-user'
    await p.evaluate(
      ({ writeKey, url, userId }) =>
        new Promise<void>((resolve) => {
          const rs = new window.rudderanalytics.RudderAnalytics()
          rs.load(writeKey, url, {
            configUrl: url,
            logLevel: 'ERROR',
            useBeacon: true,
            beaconQueueOptions: { maxItems: 3, flushQueueInterval: 200 },
          })
          rs.ready(() => {
            rs.identify(userId, { email: `${userId}@example.com`, firstName: 'Bea' })
            rs.track('Order Completed', { order_id: `${userId}-1`, revenue: 25 })
            rs.track('Order Completed', { order_id: `${userId}-2`, revenue: 35 })
            resolve()
          })
        }),
      { writeKey: app.workspace.writeKey, url: app.url, userId },
    )
    const sent = await beacon
    assert.equal((await sent.response())?.status(), 200)
    // The page cannot read a beacon's answer: wait for the profile instead.
    const { traits } = await profileOnceProcessed(app, userId, (p) => p.traits.orders_total === 2)
    assert.equal(traits.email, `${userId}@example.com`)
    assert.equal(traits.first_name, 'Bea')
    assert.equal(traits.revenue_total, 60)
    assert.deepEqual(foreign, [])
    assert.deepEqual(errors, [])
  })

  test("a page on another origin can read the collector's error answers, 404 included", {
    timeout: 60_000,
  }, async (t) => {
    const { page: p } = await open(t, '/segment')
    const read = await p.evaluate(async (base) => {
      const tries: [string, RequestInit][] = [
        ['/v1/nothing', { method: 'POST', body: '{}' }],
        ['/v1/t', { method: 'POST', body: '{"userId":' }],
        ['/v1/t', { method: 'POST', body: '{"userId":"u","event":"x"}' }],
        ['/v1/b', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"batch":[]}' }],
      ]
      return Promise.all(
        tries.map(async ([path, init]) => {
          try {
            const res = await fetch(`${base}${path}`, init)
            return `${res.status} ${((await res.json()) as { code: string }).code}`
          } catch (err) {
            return `unreadable: ${(err as Error).message}`
          }
        }),
      )
    }, app.url)
    assert.deepEqual(read, [
      '404 INK_ERR_NOT_FOUND',
      '400 INK_ERR_INVALID_JSON',
      '401 INK_ERR_UNAUTHORIZED',
      '401 INK_ERR_UNAUTHORIZED',
    ])
  })
})
