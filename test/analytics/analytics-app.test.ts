/**
 * Engagement analytics end to end on the embedded app (SQLite): a campaign and a trigger send through
 * a real SMTP server; the pixel and link URLs are taken from the received messages and fetched as
 * email clients and scanners would; conversions arrive at the collector. The stats and time series
 * endpoints answer exact numbers, which survive a restart, a replay of the log from offset 0 and
 * duplicate events appended to the log.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { LOG_FILE } from '../../src/app.ts'
import type { InkEvent } from '../../src/core/types.ts'
import { type ApiBody, api, identify } from '../campaigns/campaign-api.ts'
import {
  mimeParts,
  type ReceivedMessage,
  startSmtpServer,
  type TestSmtpServer,
} from '../delivery/smtp-test-server.ts'
import { basicAuth, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { storedEventsOf } from '../helpers/log.ts'
import { MovableClock, startClockedApp, waitFor, waitForAnalytics } from './analytics-helpers.ts'

const TEMPLATE = (n: number) => ({
  subject: `Spring ${n}`,
  html: `<html><body><p>Hello {{ first_name | default: "there" }}</p><a href="https://shop.example/sale">Sale</a></body></html>`,
})
const HUMAN = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)'
const PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)'
const DAY = 86_400_000

/** The open pixel and the tracked link of a received message (HTML part). */
function trackedUrls(m: ReceivedMessage): { pixel: string; click: string } {
  const html = mimeParts(m.raw).find((p) => p.contentType.startsWith('text/html'))?.body ?? ''
  const pixel = /<img src="([^"]+)" width="1" height="1"/.exec(html)?.[1]
  const click = /<a href="([^"]+)"/.exec(html)?.[1]
  assert.ok(pixel && click, html)
  return { pixel: pixel.replaceAll('&amp;', '&'), click: click.replaceAll('&amp;', '&') }
}

const unsubscribeOf = (m: ReceivedMessage) => {
  const h = /^List-Unsubscribe:(.*(?:\r?\n[ \t].*)*)/im.exec(m.raw)?.[1]?.replace(/\r?\n[ \t]/g, '') ?? ''
  const url = /<(https?:[^>]+)>/.exec(h)?.[1]
  assert.ok(url, m.raw.slice(0, 2000))
  return url
}

async function get(url: string, userAgent: string): Promise<number> {
  const res = await fetch(url, { headers: { 'user-agent': userAgent }, redirect: 'manual' })
  await res.arrayBuffer()
  return res.status
}

async function track(app: TestApp, userId: string, event: string, properties: object, messageId?: string) {
  const res = await fetch(`${app.url}/v1/track`, {
    method: 'POST',
    headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({ userId, event, properties, ...(messageId ? { messageId } : {}) }),
  })
  assert.equal(res.status, 200, await res.text())
}

const stats = async (app: TestApp, path: string) => {
  const r = await api(app, 'GET', path)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body
}

/** The totals the scenario must produce for the campaign (exact). */
const CAMPAIGN_TOTALS = {
  sent: 3,
  delivered: 3,
  bounced: 1,
  failed: 0,
  opens: 3,
  uniqueOpens: 2,
  machineOpens: 1,
  clicks: 3,
  uniqueClicks: 2,
  unsubscribes: 1,
  conversions: 1,
  revenue: 40,
  fallbackSends: 1,
  liveRenders: 0,
  liveFallbacks: 0,
  clickThroughRate: 2 / 3,
  clickToOpenRate: 1,
  fallbackUsage: 1 / 3,
  liveFallbackUsage: null,
  openTime: null,
}

describe('engagement analytics in the running app (SQLite)', { timeout: 60_000 }, () => {
  const clock = new MovableClock()
  let smtp: TestSmtpServer
  let app: TestApp
  let dataDir: string
  let engagedAt = 0
  let convertedAt = 0

  before(async () => {
    smtp = await startSmtpServer()
    app = await startClockedApp(clock, {
      smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
      from: 'Shop <news@shop.example>',
    })
    dataDir = app.dataDir
  })
  after(async () => {
    await app?.close()
    await smtp?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  test('a campaign’s sends, opens (machine apart), clicks, unsubscribe and conversions are counted exactly', async () => {
    await identify(app, {
      ann: { email: 'ann@example.com', firstName: 'Ann' },
      bob: { email: 'bob@example.com' },
      cat: { email: 'cat@example.com', firstName: 'Cat' },
      dan: { email: 'dan@example.com', firstName: 'Dan' },
    })
    assert.equal((await api(app, 'PUT', '/v1/templates/promo', TEMPLATE(1))).status, 201)
    smtp.answer('dan@example.com', 'rcpt-550')
    const put = await api(app, 'PUT', '/v1/campaigns/spring', {
      templateId: 'promo',
      audience: { userIds: ['ann', 'bob', 'cat', 'dan'] },
    })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.equal((await api(app, 'POST', '/v1/campaigns/spring/start')).status, 202)
    const messages = await smtp.waitForMessages(3, 10_000)
    const by = (to: string) => messages.find((m) => m.rcptTo[0] === to) as ReceivedMessage
    await waitFor(
      () => stats(app, '/v1/campaigns/spring/stats'),
      (s) => s.totals.sent === 3 && s.totals.bounced === 1,
    )

    // Past the machine-open window of the send, at a known 5-minute bucket.
    engagedAt = clock.jumpToBucket(10 * 60_000)
    const ann = trackedUrls(by('ann@example.com'))
    const bob = trackedUrls(by('bob@example.com'))
    assert.equal(await get(ann.pixel, PROXY), 200) // a Gmail proxy: a machine open
    // Opens of one message inside one tracking window (10 s) are one event, whoever fetched it.
    clock.offset += 20_000
    assert.equal(await get(ann.pixel, HUMAN), 200)
    assert.equal(await get(ann.pixel, HUMAN), 200) // same window: the same open event, once
    assert.equal(await get(ann.click, HUMAN), 302)
    clock.offset += 20_000 // the next tracking window: a second open and click of ann count again
    assert.equal(await get(ann.pixel, HUMAN), 200)
    assert.equal(await get(ann.click, HUMAN), 302)
    assert.equal(await get(bob.pixel, HUMAN), 200)
    assert.equal(await get(bob.click, HUMAN), 302)
    const unsub = await fetch(unsubscribeOf(by('cat@example.com')), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    })
    assert.equal(unsub.status, 200)

    // Conversions: ann's within 3 days of her click (sent twice: one conversion); bob's 4 days after
    // his; cat never opened nor clicked.
    convertedAt = clock.jumpToBucket(DAY)
    await track(app, 'ann', 'Order Completed', { revenue: 40, total: 99 }, 'order-ann-1')
    await track(app, 'ann', 'Order Completed', { revenue: 40, total: 99 }, 'order-ann-1')
    await track(app, 'cat', 'Order Completed', { revenue: 15 })
    clock.jumpToBucket(4 * DAY)
    await track(app, 'bob', 'Order Completed', { total: '25.5' })
    await track(app, 'ann', 'Product Viewed', { sku: 'x' })
    await waitForProcessed(app)
    await waitForAnalytics(app)

    const s = await stats(app, '/v1/campaigns/spring/stats')
    assert.deepEqual(s, {
      id: 'spring',
      totals: CAMPAIGN_TOTALS,
      versions: [{ templateId: 'promo', templateVersion: 1, ...CAMPAIGN_TOTALS }],
    })
    const metrics = await (await fetch(`${app.url}/metrics`)).text()
    assert.match(metrics, /^inkstream_conversions_total\{origin="campaign"\} 1$/m)
    assert.match(metrics, /^inkstream_conversion_revenue_total\{origin="campaign"\} 40$/m)
  })

  test('the time series puts each count in its bucket', async () => {
    const q = `campaign=spring&bucket=5m&from=${engagedAt - 60_000}&to=${engagedAt + 9 * 60_000}`
    const series = await stats(app, `/v1/analytics/timeseries?${q}`)
    assert.equal(series.bucket, '5m')
    assert.equal(series.from, engagedAt - 60_000)
    assert.equal(series.points.length, 2)
    const [engaged, next] = series.points as ApiBody[]
    assert.deepEqual(
      [engaged?.t, engaged?.sent, engaged?.opens, engaged?.uniqueOpens, engaged?.machineOpens],
      [engagedAt - 60_000, 0, 3, 2, 1],
    )
    assert.deepEqual([engaged?.clicks, engaged?.uniqueClicks, engaged?.unsubscribes], [3, 2, 1])
    assert.deepEqual([next?.opens, next?.clicks, next?.sent], [0, 0, 0])

    const day = await stats(
      app,
      `/v1/analytics/timeseries?campaign=spring&bucket=1d&from=${convertedAt - 3 * DAY}&to=${convertedAt + DAY}`,
    )
    const sum = (f: string) => day.points.reduce((n: number, p: ApiBody) => n + p[f], 0)
    assert.deepEqual([sum('sent'), sum('opens'), sum('conversions'), sum('revenue')], [3, 3, 1, 40])
    const conv = day.points.find((p: ApiBody) => p.conversions > 0)
    assert.equal(conv.t, Math.floor(convertedAt / DAY) * DAY)

    const byTemplate = await stats(
      app,
      `/v1/analytics/timeseries?template=promo&bucket=1h&from=${engagedAt - 60_000}&to=${engagedAt + 60_000}`,
    )
    assert.deepEqual(
      byTemplate.points.map((p: ApiBody) => [p.opens, p.clicks]),
      [[3, 3]],
    )
  })

  test('bad time series requests are 4xx with stable codes; unknown campaigns and triggers are 404', async () => {
    const bad = async (qs: string, code: string, status = 400) => {
      const r = await api(app, 'GET', `/v1/analytics/timeseries?${qs}`)
      assert.equal(r.status, status, JSON.stringify(r.body))
      assert.equal(r.body.code, code)
      return r.body
    }
    assert.match((await bad('campaign=spring&bucket=7m', 'INK_ERR_BAD_REQUEST')).message, /bucket/)
    assert.match(
      (await bad('campaign=spring&from=20&to=10', 'INK_ERR_BAD_REQUEST')).message,
      /from: must be before/,
    )
    assert.match((await bad('campaign=spring&from=yesterday', 'INK_ERR_BAD_REQUEST')).message, /from: epoch/)
    // What Date.parse would have taken: a sign and a number, a US date, a time without its zone.
    for (const from of ['-5', '1%2F2%2F2026', '2026-01-01T00:00:00'])
      assert.match(
        (await bad(`campaign=spring&from=${from}`, 'INK_ERR_BAD_REQUEST')).message,
        /with its zone/,
      )
    // Past a Date's range (2^72 ms, written out in digits): before, the bucket loop could not step
    // through it (`t += bucket` left t as it was) and the request held the event loop until the
    // process ran out of memory.
    const from = (2n ** 72n).toString()
    const to = (2n ** 72n + 4_194_304n).toString()
    assert.match(
      (await bad(`campaign=spring&bucket=5m&from=${from}&to=${to}`, 'INK_ERR_BAD_REQUEST')).message,
      /from: epoch milliseconds or an ISO-8601 time with its zone, e\.g\. 2026-01-01T00:00:00Z \(up to the year 275760\)/,
    )
    assert.match(
      (await bad('campaign=spring&bucket=5m&from=0&to=86400000000', 'INK_ERR_BAD_REQUEST')).message,
      /more than 2000 buckets/,
    )
    assert.match((await bad('campaign=spring&trigger=x', 'INK_ERR_BAD_REQUEST')).message, /exactly one/)
    assert.match((await bad('bucket=1h', 'INK_ERR_BAD_REQUEST')).message, /exactly one/)
    await bad('campaign=nope', 'INK_ERR_NOT_FOUND', 404)
    await bad('trigger=nope', 'INK_ERR_NOT_FOUND', 404)
    await bad('template=nope', 'INK_ERR_NOT_FOUND', 404)
    for (const path of ['/v1/campaigns/nope/stats', '/v1/triggers/nope/stats']) {
      const r = await api(app, 'GET', path)
      assert.deepEqual([r.status, r.body.code], [404, 'INK_ERR_NOT_FOUND'])
    }
    const noKey = await fetch(`${app.url}/v1/campaigns/spring/stats`)
    assert.equal(noKey.status, 401)
  })

  test('a trigger’s stats break down by template version', async () => {
    const put = await api(app, 'PUT', '/v1/triggers/welcome', { event: 'Signed Up', templateId: 'promo' })
    assert.ok(put.status < 300, JSON.stringify(put.body))
    const before = smtp.received.length
    await track(app, 'ann', 'Signed Up', {})
    await smtp.waitForMessages(before + 1, 10_000)
    assert.equal((await api(app, 'PUT', '/v1/templates/promo', TEMPLATE(2))).status, 201)
    await track(app, 'bob', 'Signed Up', {})
    const [, second] = (await smtp.waitForMessages(before + 2, 10_000)).slice(before)
    // The send is recorded once the server answered: past the machine-open window of that record.
    await waitFor(
      () => stats(app, '/v1/triggers/welcome/stats'),
      (v) => v.totals.sent === 2,
    )
    clock.offset += 10_000
    assert.equal(await get(trackedUrls(second as ReceivedMessage).pixel, HUMAN), 200)
    const s = await waitFor(
      () => stats(app, '/v1/triggers/welcome/stats'),
      (v) => v.totals.sent === 2 && v.totals.opens === 1,
    )
    assert.deepEqual(
      s.versions.map((v: ApiBody) => [v.templateId, v.templateVersion, v.sent, v.opens, v.fallbackSends]),
      [
        ['promo', 1, 1, 0, 0],
        ['promo', 2, 1, 1, 1],
      ],
    )
    // The campaign's numbers are its own.
    assert.equal((await stats(app, '/v1/campaigns/spring/stats')).totals.sent, 3)
  })

  test('a restart, a replay of the log from offset 0 and duplicate events change no count', async () => {
    const before = await stats(app, '/v1/campaigns/spring/stats')
    const trigger = await stats(app, '/v1/triggers/welcome/stats')
    await app.close()
    // Replay: the analytics group reads the whole log again (the store's applied offsets must hold).
    const db = new Database(join(dataDir, LOG_FILE))
    const replayed = db
      .prepare("UPDATE log_consumer_offsets SET position = 0 WHERE group_id = 'analytics'")
      .run()
    db.close()
    assert.equal(replayed.changes, 1)
    app = await startClockedApp(clock, {
      dataDir,
      smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
      from: 'Shop <news@shop.example>',
    })
    await waitForAnalytics(app)
    assert.deepEqual(await stats(app, '/v1/campaigns/spring/stats'), before)
    // Duplicates: every event of ann and bob appended again (new offsets, same messageIds).
    const again = [...storedEventsOf(app, 'ann'), ...storedEventsOf(app, 'bob')] as unknown as InkEvent[]
    assert.ok(again.length > 10)
    await app.log.append(again)
    await waitForAnalytics(app)
    assert.deepEqual(await stats(app, '/v1/campaigns/spring/stats'), before)
    assert.deepEqual(await stats(app, '/v1/triggers/welcome/stats'), trigger)
  })
})
