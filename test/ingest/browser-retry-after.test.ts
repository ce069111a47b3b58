/**
 * A browser on another origin can read when to retry: the collector's 503 (log unavailable) sets
 * Retry-After, and analytics-next's parseRetryAfter reads it, which a browser allows cross-origin
 * only when the answer exposes it (Access-Control-Expose-Headers).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import {
  chromiumMissing,
  launchChromium,
  openPage,
  type PageServer,
  startPageServer,
} from '../helpers/browser.ts'

describe('Retry-After across origins, in Chromium', { skip: chromiumMissing() }, () => {
  let app: TestApp
  let site: PageServer
  let browser: Browser

  before(async () => {
    app = await startTestApp()
    site = await startPageServer((path) =>
      path === '/'
        ? { type: 'text/html; charset=utf-8', body: '<!doctype html><title>shop</title>' }
        : undefined,
    )
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await site?.close()
    await app?.close()
  })

  test("a page on another origin reads the 503's Retry-After when the log cannot commit", {
    timeout: 60_000,
  }, async (t) => {
    await app.log.close()
    const { page, foreign } = await openPage(browser, t, { site, app, path: '/' })
    const read = await page.evaluate(
      async ({ base, writeKey }) => {
        const res = await fetch(`${base}/v1/t`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: JSON.stringify({ writeKey, userId: 'u', event: 'x' }),
        })
        return {
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          code: (await res.json()).code,
        }
      },
      { base: app.url, writeKey: app.workspace.writeKey },
    )
    assert.deepEqual(read, { status: 503, retryAfter: '1', code: 'INK_ERR_LOG_UNAVAILABLE' })
    assert.deepEqual(foreign, [])
  })
})
