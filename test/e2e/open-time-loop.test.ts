/**
 * The loop of issue 11, end to end: a campaign message with a live block goes out through a real
 * SMTP server; the `<img>` URL is taken from its HTML part, as an email client would. Then a browser
 * session on the shop's own origin (headless Chromium, /sdk.js from the app) identifies the person
 * and views a product, and the same live block — JSON and PNG, fetched from the URL in the email —
 * shows that product. The time from the browser's call until the block shows it is measured and
 * printed (test diagnostics) and held to the 2 s (see docs/architecture.md, "Open-time content",
 * Tests, for why that one timing assertion is robust here).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { PNG } from 'pngjs'
import { api, identify } from '../campaigns/campaign-api.ts'
import { mimeParts, startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { chromiumMissing, launchChromium, type PageServer, startPageServer } from '../helpers/browser.ts'

/** The snippet's global, as the page sees it (typed here, not declared globally: sdk-browser.test.ts does). */
type WithSnippet = {
  inkstream?: {
    identify(userId: string | null, traits?: Record<string, unknown>): void
    track(event: string, properties?: Record<string, unknown>): void
  }
}

const FALLBACK = 'Our new arrivals are in.'
const PRODUCT = 'Walnut desk lamp'
const TEMPLATE = {
  subject: 'Still thinking about it?',
  html: `<p>Hello {{ first_name | default: "there" }}</p>
{% live "hero" width: 480, height: 120 %}<div style="display:flex;align-items:center;width:480px;height:120px;background:#fff4e0"><span style="font-size:26px">Still thinking about {{ last_viewed_product.name }}?</span></div>{% fallback %}${FALLBACK}{% endlive %}`,
}

interface BlockJson {
  items: { text: string; image: string; width: number; height: number; fallback: boolean }[]
  report: { profile: string; fellBack: boolean }
}

describe('the open-time loop: a product viewed in the browser shows in the live block of a sent email', {
  skip: chromiumMissing(),
  timeout: 60_000,
}, () => {
  let smtp: TestSmtpServer
  let app: TestApp
  let site: PageServer
  let browser: Browser

  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'Shop <news@shop.example>' })
    // The render workers boot (and warm) after listening; on a loaded host their boot takes the cores
    // the first drawings need inside the 250 ms deadline. Start once they are up, as with warmDrawing.
    await app.renders.whenReady()
    while (app.renders.stats().some((w) => !w.ready)) await new Promise((r) => setTimeout(r, 50))
    const pageHtml = `<!doctype html><html><head><meta charset="utf-8"><title>Lamps</title><script src="${app.url}/sdk.js" data-write-key="${app.workspace.writeKey}"></script></head><body><h1>Walnut desk lamp</h1></body></html>`
    site = await startPageServer(() => ({ type: 'text/html; charset=utf-8', body: pageHtml }))
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await site?.close()
    await app?.close()
    await smtp?.close()
  })

  test('the email’s live block (JSON and PNG) shows the product viewed in the browser within 2 s', async (t) => {
    // 1. Send: a campaign to ada, through the real send path and a real SMTP server.
    assert.equal((await api(app, 'PUT', '/v1/templates/come-back', TEMPLATE)).status, 201)
    await identify(app, { ada: { email: 'ada@example.com', firstName: 'Ada' } })
    const campaign = await api(app, 'PUT', '/v1/campaigns/come-back', {
      templateId: 'come-back',
      audience: { userIds: ['ada'] },
    })
    assert.equal(campaign.status < 300, true, JSON.stringify(campaign.body))
    assert.equal((await api(app, 'POST', '/v1/campaigns/come-back/start')).status, 202)
    const [message] = await smtp.waitForMessages(1, 10_000)
    assert.ok(message)
    assert.deepEqual(message.rcptTo, ['ada@example.com'])
    const html = mimeParts(message.raw).find((p) => p.contentType.startsWith('text/html'))?.body ?? ''
    const imgs = [
      ...html.matchAll(/<img src="([^"]+\/o\/[^"]+)" width="(\d+)" height="(\d+)" alt="([^"]*)"/g),
    ]
    assert.equal(imgs.length, 1, html)
    const [, pngUrl = '', width, height, alt] = imgs[0] ?? []
    assert.deepEqual([width, height, alt], ['480', '120', FALLBACK])
    assert.ok(pngUrl.startsWith(`${app.url}/o/`) && pngUrl.endsWith('/hero.png'), pngUrl)
    const jsonUrl = pngUrl.replace(/\.png$/, '.json')

    const getJson = async (): Promise<BlockJson> => {
      const res = await fetch(jsonUrl)
      assert.equal(res.status, 200)
      return (await res.json()) as BlockJson
    }
    const getPng = async (): Promise<Buffer> => {
      const res = await fetch(pngUrl)
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'image/png')
      const body = Buffer.from(await res.arrayBuffer())
      const img = PNG.sync.read(body)
      assert.deepEqual([img.width, img.height], [480, 120])
      return body
    }

    // 2. Before: ada has viewed nothing, so the block is its fallback.
    const before = await getJson()
    assert.deepEqual(
      [before.items[0]?.text, before.items[0]?.fallback, before.items[0]?.image],
      [FALLBACK, true, pngUrl],
    )
    const pngBefore = await getPng()

    // 3. The browser session: the shop page (its own origin) loads /sdk.js from the app.
    const context = await browser.newContext()
    t.after(() => context.close())
    const page = await context.newPage()
    const pageErrors: Error[] = []
    page.on('pageerror', (e) => pageErrors.push(e))
    await page.goto(`${site.url}/products/walnut-desk-lamp`)
    await page.waitForFunction(() => typeof (window as WithSnippet).inkstream?.track === 'function')

    // The snippet batches for up to a second (analytics.js's flush interval): note when the batch
    // actually leaves the browser, to tell the snippet's wait from the server's part.
    let postedAt = 0
    page.on('request', (req) => {
      if (postedAt === 0 && req.method() === 'POST' && req.url() === `${app.url}/v1/batch`)
        postedAt = Date.now()
    })
    const viewedAt = Date.now()
    await page.evaluate((name) => {
      const ink = (window as WithSnippet).inkstream
      ink?.identify('ada')
      ink?.track('Product Viewed', { product_id: 'walnut-lamp', name, price: 89 })
    }, PRODUCT)

    // 4. Poll the email's JSON URL every 50 ms (bounded) until the block shows the product.
    const wanted = `Still thinking about ${PRODUCT}?`
    const seen = new Set<string>()
    let after: BlockJson
    for (;;) {
      after = await getJson()
      const text = after.items[0]?.text ?? ''
      seen.add(text)
      if (text === wanted) break
      assert.ok(
        Date.now() - viewedAt < 10_000,
        `the block never showed the product: ${[...seen].join(' | ')}`,
      )
      await new Promise((r) => setTimeout(r, 50))
    }
    const shownAt = Date.now()
    const jsonMs = shownAt - viewedAt
    const pngAfter = await getPng()
    const pngMs = Date.now() - viewedAt

    assert.deepEqual([...seen], [FALLBACK, wanted], 'only the fallback, then the product')
    assert.deepEqual(
      [after.items[0]?.fallback, after.items[0]?.width, after.items[0]?.height, after.report.fellBack],
      [false, 480, 120, false],
    )
    assert.equal(pngAfter.equals(pngBefore), false, 'the PNG changed after the view')
    assert.deepEqual(pageErrors, [])
    assert.ok(postedAt > 0, 'the batch left the browser')
    // Issue 11: "shows that product within 2 s". The one timing assertion, allowed by the brief
    // because it is a property of the loop (the processor invalidates the profile cache on the
    // change; without that the block waits for the cache's 5 s TTL) and the margin is wide: the
    // snippet's own batching takes ~1,000 ms, the server's part 6–70 ms on the 2-core machine.
    assert.ok(
      pngMs <= 2_000,
      `the block showed the product ${jsonMs} ms (JSON) and ${pngMs} ms (PNG) after the view (POST after ${postedAt - viewedAt} ms)`,
    )
    t.diagnostic(
      `loop latency: browser track() → JSON shows "${PRODUCT}" in ${jsonMs} ms (of which ${postedAt - viewedAt} ms the snippet's batching before its POST, ${shownAt - postedAt} ms from the POST); → PNG drawn with it in ${pngMs} ms (issue 11's goal: within 2000 ms)`,
    )
  })
})
