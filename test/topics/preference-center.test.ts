/**
 * The preference center in a real Chromium with JavaScript off (issue 15): the link comes from a
 * message the test SMTP server received; unticking a topic and submitting the plain HTML form
 * changes that topic only, through the topic store, recorded as a consent event with source
 * `preference_center`; a topic name with markup is text; a forged token changes nothing; a token
 * authorizes its own recipient only; "unsubscribe from all" leaves every topic and suppresses.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser, BrowserContext } from 'playwright-core'
import { api, identify } from '../campaigns/campaign-api.ts'
import { putTemplate } from '../campaigns/campaign-fixture.ts'
import { header, startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { chromiumMissing, launchChromium } from '../helpers/browser.ts'

const XSS = 'News <img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'

async function waitForState(app: TestApp, id: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const got = await api(app, 'GET', `/v1/campaigns/${id}`)
    if (got.body.state === 'done' || got.body.state === 'failed') return got.body
    if (Date.now() > deadline) throw new Error(`campaign ${id} still ${JSON.stringify(got.body)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

type TopicState = { id: string; state: string; source: string | null }
const statesOf = async (app: TestApp, userId: string): Promise<Record<string, TopicState>> => {
  const got = await api(app, 'GET', `/v1/profiles/${userId}/topics`)
  return Object.fromEntries(got.body.topics.map((t: TopicState) => [t.id, t]))
}

describe('preference center in Chromium without JavaScript', { skip: chromiumMissing() }, () => {
  let smtp: TestSmtpServer
  let app: TestApp
  let browser: Browser
  let context: BrowserContext
  /** The preference link of each recipient, from the message they received. */
  const prefs = new Map<string, string>()

  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'Shop <news@shop.example>' })
    browser = await launchChromium()
    context = await browser.newContext({ javaScriptEnabled: false })
    await putTemplate(app, 'spring')
    await identify(app, { ann: { email: 'ann@example.com' }, bob: { email: 'bob@example.com' } })
    assert.equal(
      (await api(app, 'PUT', '/v1/topics/news', { name: XSS, description: 'Weekly <b>news</b>' })).status,
      201,
    )
    assert.equal((await api(app, 'PUT', '/v1/topics/offers', { name: 'Offers' })).status, 201)
    const put = await api(app, 'PUT', '/v1/campaigns/weekly', {
      templateId: 'spring',
      vars: { greeting: 'Hi' },
      audience: { userIds: ['ann', 'bob'] },
      topic: 'news',
    })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.equal((await api(app, 'POST', '/v1/campaigns/weekly/start')).status, 202)
    assert.equal((await waitForState(app, 'weekly')).progress.sent, 2)
    for (const who of ['ann', 'bob']) {
      const mail = smtp.received.find((m) => m.rcptTo.includes(`${who}@example.com`))
      assert.ok(mail)
      const link = /<(http[^>]+\/u\/[^>]+)>/.exec(header(mail.raw, 'List-Unsubscribe') ?? '')?.[1]
      assert.ok(link)
      // The preference center takes the unsubscribe link's own token.
      prefs.set(who, new URL(new URL(link).pathname.replace(/^\/u\//, '/prefs/'), app.url).href)
    }
  })
  after(async () => {
    await context?.close()
    await browser?.close()
    await app?.close()
    await smtp?.close()
  })

  test('unticking a topic and saving leaves that topic only, as a preference_center consent event', async () => {
    const page = await context.newPage()
    // From the message's unsubscribe link (its page), to the preference center it links.
    const unsub = (prefs.get('ann') as string).replace('/prefs/', '/u/')
    assert.equal((await page.goto(unsub))?.status(), 200)
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/prefs/')),
      page.getByRole('link', { name: 'choose which emails you get' }).click(),
    ])
    assert.equal(page.url(), prefs.get('ann'))
    assert.equal(res?.status(), 200)
    assert.match(res?.headers()['content-security-policy'] ?? '', /default-src 'none'/)
    // The name with markup is text: no injected element, and the text reads as typed.
    assert.equal(await page.locator('img').count(), 0)
    assert.equal(await page.locator('body script').count(), 0)
    const newsBox = page.locator('input[type=checkbox][name="t.news"]')
    const offersBox = page.locator('input[type=checkbox][name="t.offers"]')
    assert.equal(await newsBox.isChecked(), true)
    assert.equal(await offersBox.isChecked(), true)
    assert.match(
      (await page.locator('label').first().textContent()) ?? '',
      /<script>window\.__xss=1<\/script>/,
    )

    await newsBox.uncheck()
    await Promise.all([
      page.waitForLoadState('load'),
      page.getByRole('button', { name: 'Save my choices' }).click(),
    ])
    assert.equal(await page.locator('h1').textContent(), 'Your preferences are saved')
    assert.match(
      (await page.locator('body').textContent()) ?? '',
      /<img src=x onerror="window.__xss=1">.*: unsubscribed/,
    )
    await page.close()

    const ann = await statesOf(app, 'ann')
    assert.equal(ann.news?.state, 'unsubscribed')
    assert.equal(ann.news?.source, 'preference_center')
    assert.equal(ann.offers?.state, 'subscribed')
    assert.equal(ann.offers?.source, null)
    // Bob's link was not used: his states did not move.
    assert.equal((await statesOf(app, 'bob')).news?.source, null)
    assert.equal((await api(app, 'GET', '/v1/suppressions/ann@example.com')).status, 404)

    await waitForProcessed(app)
    const events = await api(app, 'GET', '/v1/profiles/ann/events')
    const consent = events.body.events.filter((e: { name: string }) => e.name === 'Topic Unsubscribed')
    assert.equal(consent.length, 1, JSON.stringify(events.body))
    assert.equal(consent[0].data.properties.topic_id, 'news')
    assert.equal(consent[0].data.properties.source, 'preference_center')
    assert.match(consent[0].data.properties.ip, /127\.0\.0\.1/)
    assert.equal(typeof consent[0].timestamp, 'string')
  })

  test('ticking it again subscribes; the page shows the stored state', async () => {
    const page = await context.newPage()
    await page.goto(prefs.get('ann') as string)
    const newsBox = page.locator('input[type=checkbox][name="t.news"]')
    assert.equal(await newsBox.isChecked(), false)
    await newsBox.check()
    await Promise.all([
      page.waitForLoadState('load'),
      page.getByRole('button', { name: 'Save my choices' }).click(),
    ])
    assert.equal(await page.locator('h1').textContent(), 'Your preferences are saved')
    await page.close()
    const ann = await statesOf(app, 'ann')
    assert.equal(ann.news?.state, 'subscribed')
    assert.equal(ann.news?.source, 'preference_center')
  })

  test('a forged or cut token gets the rejection page and changes nothing', async () => {
    const good = prefs.get('bob') as string
    const i = good.length - 20
    const forged = good.slice(0, i) + (good[i] === 'A' ? 'B' : 'A') + good.slice(i + 1)
    for (const url of [forged, good.slice(0, -10), `${app.url}/prefs/`]) {
      const get = await fetch(url)
      assert.equal(get.status, 400, url)
      assert.equal(get.headers.get('x-ink-error-code'), 'INK_ERR_TOKEN_INVALID')
      const post = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'topics=news,offers&all=1',
      })
      assert.equal(post.status, 400)
    }
    // A body that is not the form (JSON with other types) is not trusted and does not crash.
    const odd = await fetch(good, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topics: 42, all: 1, 't.news': ['on'] }),
    })
    assert.equal(odd.status, 200)
    const bob = await statesOf(app, 'bob')
    assert.equal(bob.news?.source, null)
    assert.equal(bob.offers?.source, null)
    assert.equal((await api(app, 'GET', '/v1/suppressions/bob@example.com')).status, 404)
  })

  test('"unsubscribe from all" leaves every topic and suppresses the address', async () => {
    const page = await context.newPage()
    await page.goto(prefs.get('bob') as string)
    await Promise.all([
      page.waitForLoadState('load'),
      page.getByRole('button', { name: 'Unsubscribe from all' }).click(),
    ])
    assert.equal(await page.locator('h1').textContent(), 'You are unsubscribed from all our emails')
    await page.close()
    const bob = await statesOf(app, 'bob')
    assert.equal(bob.news?.state, 'unsubscribed')
    assert.equal(bob.offers?.state, 'unsubscribed')
    assert.equal(bob.offers?.source, 'preference_center')
    const entries = await api(app, 'GET', '/v1/suppressions/bob@example.com')
    assert.equal(entries.status, 200)
    assert.equal(entries.body.suppressions[0].reason, 'unsubscribed')
    // Ann's states are her own.
    assert.equal((await statesOf(app, 'ann')).offers?.source, null)
  })
})
