/**
 * The "Segments & triggers" and "Campaigns" pages in a real browser (issue 13): the data is made
 * through the API (profiles through /v1/batch and the pipeline, segments backfilled by the
 * processor, a trigger that really sends); the pages show exact member counts and trigger stats; a
 * campaign is created through the form, started, paused and resumed with the buttons, and its
 * progress reaches "n of n" while the messages arrive at a local SMTP server; its stats show the
 * exact sent count. Names carrying markup show as text and run nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { type ApiBody, api, identify } from '../campaigns/campaign-api.ts'
import { putTemplate } from '../campaigns/campaign-fixture.ts'
import { startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { chromiumMissing, launchChromium } from '../helpers/browser.ts'
import { axeViolations, openDashboard, screenshot } from '../helpers/dashboard.ts'

const IMG = '<img src=x onerror="window.__xss=1">'
const SCRIPT = '<script>window.__xss=1</script>'
const GOLD_NAME = `Gold ${IMG}`
const SILVER_NAME = `${SCRIPT} Silver`
const CAMPAIGN_NAME = `Spring ${IMG} ${SCRIPT}`
// More recipients than the runner's 8 workers: a pause lets those already claimed finish, and
// leaves the rest for the resume.
const N = 20
const GOLD = Array.from({ length: N }, (_, i) => `gold-${String(i).padStart(2, '0')}`)
const SILVER = ['silver-0', 'silver-1']

/** Polls `read` until `ok` holds; fails with the last value after `timeoutMs`. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await read()
    if (ok(v)) return v
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const xssFlag = (page: Page) => page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)

describe('segments & triggers and campaigns pages', { skip: chromiumMissing() }, () => {
  let smtp: TestSmtpServer
  let app: TestApp
  let browser: Browser
  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'Shop <news@shop.example>' })
    await putTemplate(app, 'spring')
    await identify(app, {
      ...Object.fromEntries(GOLD.map((id) => [id, { email: `${id}@example.com`, tier: 'gold' }])),
      ...Object.fromEntries(SILVER.map((id) => [id, { email: `${id}@example.com`, tier: 'silver' }])),
      bronze: { email: 'bronze@example.com', tier: 'bronze' },
    })
    for (const [id, name, tier] of [
      ['gold', GOLD_NAME, 'gold'],
      ['silver', SILVER_NAME, 'silver'],
      ['nobody', 'Nobody', 'platinum'],
    ] as const) {
      const put = await api(app, 'PUT', `/v1/segments/${id}`, { name, condition: { tier } })
      assert.equal(put.status, 200, JSON.stringify(put.body))
      await until(
        () => api(app, 'GET', `/v1/segments/${id}`),
        (r) => r.body.backfilled,
        `segment ${id}`,
      )
    }
    // A trigger that sends once, so its stats on the page are a number the test produced.
    const trigger = await api(app, 'PUT', '/v1/triggers/welcome', {
      event: 'Signed Up',
      templateId: 'spring',
      delayMs: 0,
    })
    assert.equal(trigger.status, 200, JSON.stringify(trigger.body))
    const track = await fetch(`${app.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'bronze', event: 'Signed Up', properties: {} }),
    })
    assert.equal(track.status, 200, await track.text())
    await waitForProcessed(app)
    await until(
      () => api(app, 'GET', '/v1/triggers/welcome/stats'),
      (r) => r.body.totals?.sent === 1,
      'trigger stats',
    )
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    await app?.close()
    await smtp?.close()
  })

  test('segments show their definitions and exact member counts; triggers their event, template and stats', async (t) => {
    const d = await openDashboard(browser, t, app)
    await d.go('segments')
    const { page } = d
    const row = (id: string) => page.locator(`tr[data-segment="${id}"]`)
    await page.locator('[data-count="nobody"]').waitFor()
    assert.equal(await page.locator('[data-count="gold"]').textContent(), String(N))
    assert.equal(await page.locator('[data-count="silver"]').textContent(), '2')
    assert.equal(await page.locator('[data-count="nobody"]').textContent(), '0')
    // Names with markup are text (nothing ran, no element was made); the definition is JSON text.
    await page.waitForLoadState('networkidle')
    assert.equal(await xssFlag(page), undefined, 'a script in a segment name ran')
    assert.equal(await row('gold').locator('td').nth(1).textContent(), GOLD_NAME)
    assert.equal(await row('silver').locator('td').nth(1).textContent(), SILVER_NAME)
    assert.equal(await row('gold').locator('pre').textContent(), JSON.stringify({ tier: 'gold' }, null, 2))
    assert.equal(await page.locator('img[src="x"]').count(), 0)

    const trigger = page.locator('tr[data-trigger="welcome"]')
    assert.match((await trigger.textContent()) ?? '', /“Signed Up”/)
    assert.equal(await trigger.locator('a[href="#/templates/spring"]').textContent(), 'spring')
    assert.equal(await trigger.locator('td').nth(3).textContent(), 'none')
    await page.locator('[data-trigger-stats="welcome"]').waitFor()
    assert.equal(
      await page.locator('[data-trigger-stats="welcome"]').textContent(),
      '1 sent · 0 opened · 0 clicked',
    )

    assert.equal(await xssFlag(page), undefined)
    assert.deepEqual(await axeViolations(page), [])
    await screenshot(page, 'segments')
    assert.deepEqual(d.problems, [])
    assert.deepEqual(d.cspViolations, [])
  })

  test('a campaign is created through the form, started, paused, resumed and watched to the end', async (t) => {
    const d = await openDashboard(browser, t, app)
    const { page } = d
    await d.go('campaigns')
    await page.getByRole('button', { name: 'New campaign' }).click()
    await page.getByLabel('Name', { exact: true }).fill(CAMPAIGN_NAME)
    await page.getByLabel('ID', { exact: true }).fill('spring-gold')
    await page.getByLabel('Template').selectOption('spring')
    await page.getByLabel('Segment').selectOption('gold')
    // Paced, so that the test can pause it mid-send: 20 recipients take about 5 s.
    await page.getByLabel('Messages per second (optional)').fill('4')
    // A mistake in the variables is shown and nothing is saved; then the right ones.
    await page.getByLabel(/^Campaign variables/).fill('{"greeting": ')
    await page.getByRole('button', { name: 'Create campaign' }).click()
    assert.match((await page.locator('#uic-new [role="alert"]').textContent()) ?? '', /not JSON/)
    await page.getByLabel(/^Campaign variables/).fill('{"greeting": "Hello"}')
    assert.deepEqual(await axeViolations(page), [], 'axe on the form')
    await page.getByRole('button', { name: 'Create campaign' }).click()
    await page.waitForURL(/#\/campaigns\/spring-gold$/)
    await page.locator('h2.uic-title').waitFor()
    assert.equal(await page.locator('h2.uic-title').textContent(), CAMPAIGN_NAME)
    const state = page.locator('.uic-state-line [data-state]')
    assert.equal(await state.textContent(), 'draft')
    const saved = await api(app, 'GET', '/v1/campaigns/spring-gold')
    assert.equal(saved.body.name, CAMPAIGN_NAME)
    assert.deepEqual(saved.body.audience, { segment: 'gold' })
    assert.equal(saved.body.ratePerSecond, 4)
    assert.deepEqual(saved.body.vars, { greeting: 'Hello' })

    const before = smtp.received.length
    const progress = page.locator('[data-progress="spring-gold"]')
    await page.getByRole('button', { name: 'Start' }).click()
    await page.getByRole('button', { name: 'Pause' }).waitFor()
    // The page polls while it runs: the progress moves without a reload.
    await until(
      () => progress.textContent(),
      (s) => /^[1-9] of 20$/.test(s ?? ''),
      'progress before pause',
    )
    await page.getByRole('button', { name: 'Pause' }).click()
    await page.getByRole('button', { name: 'Resume' }).waitFor()
    assert.equal(await state.textContent(), 'paused')
    // Paused in the store at once; the sends already claimed finish before the run ends.
    const paused = await until(
      () => api(app, 'GET', '/v1/campaigns/spring-gold'),
      (r) => r.body.progress.sending === 0 && r.body.progress.ratePerSecond === undefined,
      'the paused run to end',
    )
    assert.equal(paused.body.state, 'paused')
    assert.equal(paused.body.reason, 'paused by request')
    const sentWhilePausing = paused.body.progress.sent as number
    assert.ok(sentWhilePausing < N, JSON.stringify(paused.body))
    await until(
      () => progress.textContent(),
      (s) => s === `${sentWhilePausing} of ${N}`,
      'progress paused',
    )
    // Nothing more is sent while it is paused.
    await new Promise((r) => setTimeout(r, 1500))
    assert.equal(smtp.received.length - before, sentWhilePausing)

    await page.getByRole('button', { name: 'Resume' }).click()
    await until(
      () => progress.textContent(),
      (s) => s === `${N} of ${N}`,
      'progress after resume',
    )
    await until(
      () => state.textContent(),
      (s) => s === 'done',
      'state after resume',
    )
    const done = (await api(app, 'GET', '/v1/campaigns/spring-gold')).body as ApiBody
    assert.equal(done.state, 'done')
    assert.equal(done.progress.sent, N)
    assert.deepEqual(
      smtp.received
        .slice(before)
        .map((m) => m.rcptTo.join(','))
        .sort(),
      GOLD.map((id) => `${id}@example.com`),
    )
    assert.match(smtp.received.at(-1)?.raw ?? '', /Hello, gold-\d\d/)
    // The stats come from the analytics consumer, shortly after the sends; the page polls them.
    await until(
      () => page.locator('[data-stat="sent"]').textContent(),
      (s) => s === String(N),
      'stats sent',
    )
    assert.equal(await page.locator('[data-stat="delivered"]').textContent(), String(N))
    // The send ledger, 50 a page: all 20, sent, by recipient id; the filter by state.
    const rows = page.locator('table[aria-label="Recipients"] tbody tr')
    await until(
      () => rows.count(),
      (n) => n === N,
      'recipient rows',
    )
    assert.deepEqual(
      await rows.evaluateAll((trs) =>
        trs.map((tr) => [tr.children[0]?.textContent, tr.children[2]?.textContent]),
      ),
      GOLD.map((id) => [id, 'sent']),
    )
    await page.getByLabel('Show recipients').selectOption('failed')
    await page.getByText('No recipients in state failed yet.').waitFor()
    await page.getByLabel('Show recipients').selectOption('')
    await until(
      () => rows.count(),
      (n) => n === N,
      'recipient rows again',
    )
    assert.equal(await xssFlag(page), undefined)
    assert.deepEqual(await axeViolations(page), [], 'axe on the campaign')
    await screenshot(page, 'campaign')

    await d.go('campaigns')
    const row = page.locator('tr[data-campaign="spring-gold"]')
    assert.equal(await row.locator('td').first().locator('a').textContent(), CAMPAIGN_NAME)
    assert.equal(await row.locator('[data-state]').textContent(), 'done')
    assert.equal(await row.locator('[data-progress="spring-gold"]').textContent(), `${N} of ${N}`)
    assert.equal(await page.locator('img[src="x"]').count(), 0)
    assert.equal(await xssFlag(page), undefined)
    assert.deepEqual(await axeViolations(page), [], 'axe on the list')
    await screenshot(page, 'campaigns')
    assert.deepEqual(d.problems, [])
    assert.deepEqual(d.cspViolations, [])
  })
})
