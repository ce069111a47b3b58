/**
 * The dashboard bench's page timer (bench/lib/page-load.ts) in real Chromium, on pages whose timing
 * the test controls: the heading appears after a timer, the data after a slow answer; a page that sets
 * the `ink:ready` mark is measured at its mark; the bytes counted are exactly the bytes served. And the
 * baseline page is exactly the size asked for.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { barePage } from '../../bench/bare-page-server.ts'
import { installPageTimer, measureLoad } from '../../bench/lib/page-load.ts'
import { chromiumMissing, launchChromium } from '../helpers/browser.ts'

const DATA_DELAY_MS = 400
const HTML = (script: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title><link rel="icon" href="data:,"><script type="module" src="/${script}"></script></head><body><main id="root"></main></body></html>`
// The heading after 150 ms, the data once /data answers (400 ms after it is asked for).
const APP = `setTimeout(() => { const h = document.createElement('h1'); h.id = 'page-title'; h.textContent = 'Title'; document.getElementById('root').append(h) }, 150)
fetch('/data').then((r) => r.json()).then((d) => { const p = document.createElement('p'); p.textContent = d.text; document.getElementById('root').append(p); window.dataShownAt = performance.now() })`
// The heading at once, the ink:ready mark with it (before the data arrives).
const MARKED = `const h = document.createElement('h1'); h.id = 'page-title'; h.textContent = 'Title'; document.getElementById('root').append(h)
performance.mark('ink:ready'); window.markAt = performance.getEntriesByName('ink:ready')[0].startTime
fetch('/data').then((r) => r.json()).then((d) => { const p = document.createElement('p'); p.textContent = d.text; document.getElementById('root').append(p) })`
// The heading at once, the data from the first event of a stream that stays open (never idle).
const STREAM = `const h = document.createElement('h1'); h.id = 'page-title'; h.textContent = 'Live'; document.getElementById('root').append(h)
const es = new EventSource('/events'); es.addEventListener('snapshot', (e) => { const p = document.createElement('p'); p.textContent = JSON.parse(e.data).text; document.getElementById('root').append(p); window.dataShownAt = performance.now() })`
const DATA = JSON.stringify({ text: 'the data' })
const BODIES: Record<string, { type: string; body: string }> = {
  '/': { type: 'text/html', body: HTML('app.js') },
  '/marked': { type: 'text/html', body: HTML('marked.js') },
  '/app.js': { type: 'text/javascript', body: APP },
  '/marked.js': { type: 'text/javascript', body: MARKED },
  '/live': { type: 'text/html', body: HTML('stream.js') },
  '/stream.js': { type: 'text/javascript', body: STREAM },
  '/data': { type: 'application/json', body: DATA },
}

describe('the page-load timer of the dashboard bench', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let url: string
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (path === '/page') {
      const body = barePage(Number(new URL(req.url ?? '/', 'http://x').searchParams.get('bytes')))
      return void res.writeHead(200, { 'content-type': 'text/html' }).end(body)
    }
    if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
      res.write(': open\n\n')
      // Later than the 500 ms of quiet after which the network counts as idle.
      setTimeout(() => res.write(`event: snapshot\ndata: ${DATA}\n\n`), 900)
      return
    }
    const answer = BODIES[path]
    if (!answer) return void res.writeHead(path === '/favicon.ico' ? 204 : 404).end()
    const send = () =>
      res.writeHead(200, { 'content-type': answer.type, 'cache-control': 'no-store' }).end(answer.body)
    if (path === '/data') setTimeout(send, DATA_DELAY_MS)
    else send()
  })
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })

  test('a page is ready in the frame after its data is shown, not when its heading appears', async () => {
    const context = await browser.newContext()
    await installPageTimer(context)
    const page = await context.newPage()
    const load = await measureLoad(page, `${url}/#/first`)
    assert.equal(load.url, `${url}/#/first`)
    const shownAt = (await page.evaluate('window.dataShownAt')) as number
    assert.equal(load.readyBy, 'title-and-data')
    assert.equal(load.idle, true)
    assert.ok(load.titleAt !== null && load.titleAt >= 150, `title at ${load.titleAt}`)
    assert.ok(load.lastResponseEnd >= load.titleAt, 'the data answered after the heading')
    assert.ok(load.readyMs >= shownAt, `ready ${load.readyMs} before the data was shown at ${shownAt}`)
    assert.ok(load.responseEnd <= load.domContentLoaded && load.domContentLoaded <= load.loadEventEnd)
    assert.equal(load.resources, 2) // app.js and /data
    assert.equal(load.bytes, HTML('app.js').length + APP.length + DATA.length)
    // A second load is measured afresh (from about:blank), not as a same-document navigation.
    const again = await measureLoad(page, `${url}/#/again`)
    assert.equal(again.url, `${url}/#/again`)
    const shownAgain = (await page.evaluate('window.dataShownAt')) as number
    assert.ok(
      again.readyMs >= shownAgain,
      `ready ${again.readyMs} before the data was shown at ${shownAgain}`,
    )
    assert.equal(again.resources, 2)
    await context.close()
  })

  test('a page that sets the ink:ready mark is measured at its mark', async () => {
    const context = await browser.newContext()
    await installPageTimer(context)
    const page = await context.newPage()
    const load = await measureLoad(page, `${url}/marked`)
    assert.equal(load.readyBy, 'mark')
    assert.equal(load.readyMs, (await page.evaluate('window.markAt')) as number)
    assert.ok(load.readyMs < load.lastResponseEnd, 'the mark came before the data, and wins')
    await context.close()
  })

  test('a page fed by a stream is ready in the frame after the first event of its stream, however late it comes', async () => {
    const context = await browser.newContext()
    await installPageTimer(context)
    const page = await context.newPage()
    const load = await measureLoad(page, `${url}/live`, { idleTimeoutMs: 1_500 })
    const shownAt = (await page.evaluate('window.dataShownAt')) as number
    assert.equal(load.readyBy, 'title-and-data')
    assert.ok(load.firstStreamAt !== null && load.firstStreamAt > load.lastResponseEnd, JSON.stringify(load))
    assert.ok(load.readyMs >= shownAt, `ready ${load.readyMs} before the data was shown at ${shownAt}`)
    await context.close()
  })

  test('the baseline page has exactly the bytes asked for, and the timer counts them', async () => {
    for (const n of [0, 500, 123_457]) assert.equal(barePage(n).length, Math.max(n, barePage(0).length))
    const context = await browser.newContext()
    await installPageTimer(context)
    const page = await context.newPage()
    const load = await measureLoad(page, `${url}/page?bytes=54321`)
    assert.equal(load.bytes, 54_321)
    assert.equal(load.resources, 0)
    assert.ok(load.readyMs >= (load.titleAt ?? Number.POSITIVE_INFINITY))
    await context.close()
  })
})
