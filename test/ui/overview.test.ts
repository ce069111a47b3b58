/**
 * The overview and alerts pages in a real browser (issue 13): the charts draw from live data the
 * test produces (events posted to /v1/batch, emails rendered through the preview API), with exact
 * counts; anomaly episodes put in the alert store are shaded on their series' chart and listed on
 * the alerts page with their exact values, newest first; no console error, failed request or CSP
 * violation; axe finds nothing serious; a script in an alert's series name stays text.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { openSqlite } from '../../src/db/sqlite.ts'
import type { Alert } from '../../src/observe/alerts/alert-store.ts'
import { SqliteAlertStore } from '../../src/observe/alerts/sqlite-alert-store.ts'
import { basicAuth, startTestApp, type TestApp } from '../helpers/app.ts'
import { chromiumMissing, launchChromium } from '../helpers/browser.ts'
import { axeViolations, openDashboard, screenshot } from '../helpers/dashboard.ts'

const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
const MIN = 60_000

describe('overview and alerts pages', { skip: chromiumMissing() }, () => {
  let app: TestApp
  let browser: Browser
  const now = Math.floor(Date.now() / MIN) * MIN
  // Episodes: an open one on ingest, two past ones (render, then a newer fallback one), one with a script in its name.
  const alerts: Alert[] = [
    {
      id: `ingest_rate@${now - 3 * MIN}`,
      series: 'ingest_rate',
      startedAt: now - 3 * MIN,
      endedAt: null,
      expectedLower: 0,
      expectedUpper: 12.5,
      observed: 480,
      peakScore: 9.25,
    },
    {
      id: `render_p95@${now - 10 * MIN}`,
      series: 'render_p95',
      startedAt: now - 10 * MIN,
      endedAt: now - 6 * MIN,
      expectedLower: 0.0012,
      expectedUpper: 0.0048,
      observed: 0.25,
      peakScore: 14.5,
    },
    {
      id: `fallback_rate@${now - 8 * MIN}`,
      series: 'fallback_rate',
      startedAt: now - 8 * MIN,
      endedAt: now - 7 * MIN,
      expectedLower: 0,
      expectedUpper: 0.05,
      observed: 0.75,
      peakScore: 6,
    },
    {
      id: `cc_success_ratio:${XSS}@${now - 90 * MIN}`,
      series: `cc_success_ratio:${XSS}`,
      startedAt: now - 90 * MIN,
      endedAt: now - 89 * MIN,
      expectedLower: 0.9,
      expectedUpper: 1,
      observed: 0.5,
      peakScore: 5,
    },
  ]

  before(async () => {
    app = await startTestApp()
    browser = await launchChromium()
    const db = openSqlite(join(app.dataDir, 'inkstream.db'))
    const store = new SqliteAlertStore(db)
    // The app's watcher ends, at its first run, every active alert its replay does not find open
    // (its first run is at the next minute boundary + 15 s grace, i.e. up to 75 s away): insert only
    // once that run is over (it leaves a watermark), or the open episode may be ended mid-test.
    const deadline = Date.now() + 90_000
    while ((await store.watermark()) === undefined) {
      assert.ok(Date.now() < deadline, 'the anomaly watcher never ran')
      await new Promise((r) => setTimeout(r, 50))
    }
    for (const a of alerts) assert.equal(await store.insert(a), true)
    await store.close()
    db.close()
  })
  after(async () => {
    await browser?.close()
    await app?.close()
  })

  const attr = (page: Page, selector: string, name: string) => page.locator(selector).getAttribute(name)
  const total = (page: Page, chart: string) =>
    attr(page, `[data-chart="${chart}"] [data-window-total]`, 'data-window-total')
  const drawn = async (
    page: Page,
    chart: string,
    name: 'data-drawn-max' | 'data-drawn-last' | 'data-bands',
  ) => JSON.parse((await attr(page, `[data-chart="${chart}"] .ov-chart`, name)) ?? 'null') as unknown[]

  test('the charts draw the events and renders the test makes, with anomaly episodes marked', async (t) => {
    const d = await openDashboard(browser, t, app)
    await d.go('overview')
    const { page } = d
    await page.locator('.ov-status', { hasText: 'Live: updated every 2 s' }).waitFor()

    const batch = Array.from({ length: 9 }, (_, i) => ({
      type: 'track',
      event: 'Product Viewed',
      userId: `shopper-${i % 3}`,
      messageId: `overview-${i}`,
    }))
    const ingest = await fetch(`${app.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    })
    assert.equal(ingest.status, 200)
    const admin = { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' }
    const put = await fetch(`${app.url}/v1/templates/hello`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ subject: 'Hi', html: '<p>Hi {{ first_name | default: "there" }}</p>' }),
    })
    assert.equal(put.status, 201)
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${app.url}/v1/templates/hello/preview`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ profile: {} }),
      })
      assert.equal(res.status, 200)
    }

    // Exact counts over the window, once the 2 s samples have them.
    await page.waitForFunction(
      () =>
        document
          .querySelector('[data-chart="ingest"] [data-window-total]')
          ?.getAttribute('data-window-total') === '9' &&
        document
          .querySelector('[data-chart="render"] [data-window-total]')
          ?.getAttribute('data-window-total') === '4' &&
        (document.querySelector('[data-chart="lag"] .ov-chart')?.getAttribute('data-drawn-max') ??
          '[null]') !== '[null,null]',
      undefined,
      { timeout: 20_000 },
    )
    assert.equal(await total(page, 'ingest'), '9')
    assert.equal(await total(page, 'render'), '4')
    assert.equal(await total(page, 'fallbacks'), '4')
    // uPlot drew the data: the ingest line's peak is a positive rate, the render p50 and p95 are drawn.
    const [ingestMax] = (await drawn(page, 'ingest', 'data-drawn-max')) as number[]
    assert.ok(ingestMax !== undefined && ingestMax > 0, `ingest drawn max ${ingestMax}`)
    const [p50, p95] = (await drawn(page, 'render', 'data-drawn-max')) as (number | null)[]
    assert.ok(p50 !== null && p95 !== null && p50 !== undefined && p95 !== undefined && p50 <= p95)
    const lag = (await drawn(page, 'lag', 'data-drawn-max')) as (number | null)[]
    assert.ok(
      lag.every((v) => v !== null && v > 0),
      JSON.stringify(lag),
    )
    // A fallback in every render: the fallback rate drawn is 100 %.
    assert.deepEqual(await drawn(page, 'fallbacks', 'data-drawn-max'), [100])
    assert.ok(Number(await attr(page, '[data-chart="ingest"] .ov-chart', 'data-drawn-points')) > 0)
    assert.match((await page.locator('[data-chart="ingest"] canvas').count()).toString(), /^[1-9]/)
    // The screen-reader summary names the chart, its latest value and the episode marked on it.
    const label = (await attr(page, '[data-chart="ingest"] .ov-chart', 'aria-label')) ?? ''
    assert.match(
      label,
      /^Ingest rate, latest: accepted [\d.]+ events\/s\. 9 events accepted in the last hour\. 1 anomaly episode marked\.$/,
    )

    // Episodes inside the hour shown are shaded on their series' chart; older ones are not.
    assert.deepEqual(await drawn(page, 'ingest', 'data-bands'), [alerts[0]?.id])
    assert.deepEqual(await drawn(page, 'render', 'data-bands'), [alerts[1]?.id])
    assert.deepEqual(await drawn(page, 'fallbacks', 'data-bands'), [alerts[2]?.id])
    assert.deepEqual(await drawn(page, 'cc', 'data-bands'), [])
    assert.deepEqual(await drawn(page, 'lag', 'data-bands'), [])

    assert.deepEqual(await axeViolations(page), [])
    await screenshot(page, 'overview')
    assert.deepEqual(d.problems, [])
    assert.deepEqual(d.cspViolations, [])
  })

  test('the alerts page lists open and past episodes with their values, newest first, linked to their chart', async (t) => {
    const d = await openDashboard(browser, t, app)
    await d.go('alerts')
    const { page } = d
    const rows = (state: string) =>
      page
        .locator(`table[data-state="${state}"] tbody tr`)
        .evaluateAll((trs) =>
          trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)),
        )
    // Each table loads on its own: wait for both.
    await page.locator('table[data-state="ended"]').waitFor()
    await page.locator('table[data-state="active"]').waitFor()
    const open = await rows('active')
    assert.equal(open.length, 1)
    assert.equal(open[0]?.[0], 'ingest_rate')
    assert.equal(open[0]?.[2], 'ongoing')
    assert.deepEqual(open[0]?.slice(3), ['0 – 12.5', '480', '9.3'])
    const past = await rows('ended')
    assert.deepEqual(
      past.map((r) => [r[0], ...r.slice(3)]),
      [
        ['fallback_rate', '0 – 0.05', '0.75', '6'],
        ['render_p95', '0.0012 – 0.0048', '0.25', '14.5'],
        [`cc_success_ratio:${XSS}`, '0.9 – 1', '0.5', '5'],
      ],
    )
    const started = await page
      .locator('table[data-state="ended"] tbody tr td:nth-child(2) time')
      .evaluateAll((ts) => ts.map((x) => x.getAttribute('datetime')))
    assert.deepEqual(
      started,
      [alerts[2], alerts[1], alerts[3]].map((a) => new Date(a?.startedAt ?? 0).toISOString()),
    )
    // The script in the series name is text: nothing ran.
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined)
    assert.deepEqual(await axeViolations(page), [])
    await screenshot(page, 'alerts')

    // A series links to its chart on the overview, which is brought into focus.
    await page.getByRole('link', { name: 'render_p95' }).click()
    await page.locator('.ov-focus [data-chart="render"]').waitFor()
    assert.equal(new URL(page.url()).hash, '#/overview?series=render_p95')
    assert.deepEqual(d.problems, [])
    assert.deepEqual(d.cspViolations, [])
  })
})
