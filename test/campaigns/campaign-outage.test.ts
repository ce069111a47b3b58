/**
 * The SMTP outage (issue 10): the mail server stops taking connections mid-campaign → the campaign
 * pauses itself with the reason after N consecutive transport failures, no recipient is failed for
 * good or lost, and a resume after the outage sends the rest exactly once. Also the pause, cancel
 * and recipients routes. A real SMTP server behind a gate that refuses connections.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { type SmtpGate, startSmtpGate } from '../helpers/smtp-gate.ts'
import { type ApiBody, api, identify } from './campaign-api.ts'
import { putTemplate } from './campaign-fixture.ts'

let smtp: TestSmtpServer
let gate: SmtpGate
let app: TestApp

before(async () => {
  smtp = await startSmtpServer()
  gate = await startSmtpGate(smtp.port)
  app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${gate.port}`, from: 'news@shop.example' })
  await putTemplate(app, 'spring')
})

after(async () => {
  await app.close()
  await gate.shut()
  await smtp.close()
})

/** Polls GET until the campaign is in `state` (the run is in the background). */
async function waitForState(id: string, state: string): Promise<ApiBody> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const got = await api(app, 'GET', `/v1/campaigns/${id}`)
    if (got.body.state === state || Date.now() > deadline) {
      assert.equal(got.body.state, state, JSON.stringify(got.body))
      return got.body
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}

const perRecipient = () => {
  const counts = new Map<string, number>()
  for (const m of smtp.received) counts.set(m.rcptTo[0] ?? '', (counts.get(m.rcptTo[0] ?? '') ?? 0) + 1)
  return counts
}

describe('a campaign through an SMTP outage', () => {
  test('pauses after N consecutive refusals with the reason, loses nobody, and a resume sends the rest exactly once', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `out-${String(i).padStart(3, '0')}`)
    await identify(app, Object.fromEntries(ids.map((id) => [id, { email: `${id}@example.com` }])))
    const put = await api(app, 'PUT', '/v1/campaigns/outage', {
      templateId: 'spring',
      audience: { userIds: ids },
      vars: { greeting: 'Hi' },
      ratePerSecond: 150,
      pauseAfterFailures: 5,
    })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.equal(put.body.pauseAfterFailures, 5)
    assert.equal((await api(app, 'POST', '/v1/campaigns/outage/start')).status, 202)
    await smtp.waitForMessages(60, 30_000)
    await gate.shut()

    const paused = await waitForState('outage', 'paused')
    assert.match(paused.reason, /^paused after 5 consecutive transport failures; last: /)
    const atPause = smtp.received.length
    assert.ok(atPause < ids.length, `all ${atPause} sent before the outage`)
    // Nobody failed for good, nobody may-have-been-sent: the refused ones wait, deferred.
    const p = paused.progress
    assert.deepEqual([p.failed, p.unknown, p.sending, p.skipped, p.suppressed], [0, 0, 0, 0, 0])
    assert.equal(p.sent, atPause)
    assert.ok(p.deferred >= 5, JSON.stringify(p))
    assert.equal(p.total, ids.length)
    assert.equal(p.remaining, ids.length - atPause)
    const deferred = await api(app, 'GET', '/v1/campaigns/outage/recipients?state=deferred&limit=1000')
    assert.equal(deferred.status, 200)
    assert.equal(deferred.body.recipients.length, p.deferred)
    assert.equal(deferred.body.next, null)
    for (const r of deferred.body.recipients) {
      assert.deepEqual(
        [r.state, r.reason, r.email],
        ['deferred', 'transport_deferred', `${r.recipient}@example.com`],
      )
      assert.ok(r.retryAt > r.updatedAt, 'retried later, with a backoff')
      assert.ok(r.attempts >= 1)
    }

    await gate.open()
    assert.equal((await api(app, 'POST', '/v1/campaigns/outage/start')).status, 202)
    const done = await waitForState('outage', 'done')
    assert.deepEqual(
      [done.progress.sent, done.progress.deferred, done.progress.failed, done.progress.unknown],
      [ids.length, 0, 0, 0],
    )
    const counts = perRecipient()
    assert.equal(smtp.received.length, ids.length)
    for (const id of ids) assert.equal(counts.get(`${id}@example.com`), 1, id)
  })

  test('pause, resume, cancel and the recipients listing over the API', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `pc-${String(i).padStart(2, '0')}`)
    await identify(app, Object.fromEntries(ids.map((id) => [id, { email: `${id}@example.com` }])))
    const before = smtp.received.length
    await api(app, 'PUT', '/v1/campaigns/pc', {
      templateId: 'spring',
      audience: { userIds: ids },
      vars: { greeting: 'Hi' },
      ratePerSecond: 20,
    })
    // Not running yet: a pause is refused; unknown campaigns are 404.
    const early = await api(app, 'POST', '/v1/campaigns/pc/pause')
    assert.deepEqual([early.status, early.body.code], [409, 'INK_ERR_CAMPAIGN_NOT_RUNNING'])
    assert.equal(early.body.message, 'campaign "pc" is draft; only a running campaign can be paused')
    const missing = await api(app, 'POST', '/v1/campaigns/nope/cancel')
    assert.deepEqual([missing.status, missing.body.code], [404, 'INK_ERR_NOT_FOUND'])

    await api(app, 'POST', '/v1/campaigns/pc/start')
    await smtp.waitForMessages(before + 3, 30_000)
    const paused = await api(app, 'POST', '/v1/campaigns/pc/pause', { reason: 'wrong subject' })
    assert.equal(paused.status, 200, JSON.stringify(paused.body))
    assert.deepEqual([paused.body.state, paused.body.reason], ['paused', 'wrong subject'])
    // The run has stopped: nothing more is sent while paused.
    const sentWhilePaused = paused.body.progress.sent
    assert.equal(smtp.received.length - before, sentWhilePaused)

    const page1 = await api(app, 'GET', '/v1/campaigns/pc/recipients?limit=2')
    assert.equal(page1.status, 200)
    assert.deepEqual(
      page1.body.recipients.map((r: ApiBody) => [r.recipient, r.email, r.state, r.reason, r.retryAt]),
      [
        ['pc-00', 'pc-00@example.com', 'sent', null, null],
        ['pc-01', 'pc-01@example.com', 'sent', null, null],
      ],
    )
    assert.equal(page1.body.recipients[0].attempts, 1)
    assert.match(page1.body.recipients[0].detail, /^250 /)
    assert.equal(page1.body.next, 'pc-01')
    const page2 = await api(app, 'GET', '/v1/campaigns/pc/recipients?limit=2&after=pc-01')
    assert.equal(page2.body.recipients[0].recipient, 'pc-02')
    const bad = await api(app, 'GET', '/v1/campaigns/pc/recipients?state=lost')
    assert.deepEqual([bad.status, bad.body.code], [400, 'INK_ERR_BAD_REQUEST'])

    // Resume, then cancel: cancelled is final, the unsent stay unsent, start is refused.
    assert.equal((await api(app, 'POST', '/v1/campaigns/pc/start')).status, 202)
    const cancelled = await api(app, 'POST', '/v1/campaigns/pc/cancel')
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body))
    assert.deepEqual([cancelled.body.state, cancelled.body.reason], ['cancelled', 'cancelled by request'])
    const sentAtCancel = cancelled.body.progress.sent
    assert.ok(sentAtCancel < ids.length, `all ${sentAtCancel} sent before the cancel`)
    assert.equal(smtp.received.length - before, sentAtCancel)
    const again = await api(app, 'POST', '/v1/campaigns/pc/start')
    assert.deepEqual([again.status, again.body.code], [409, 'INK_ERR_CAMPAIGN_CANCELLED'])
    const twice = await api(app, 'POST', '/v1/campaigns/pc/cancel')
    assert.deepEqual([twice.status, twice.body.code], [409, 'INK_ERR_CAMPAIGN_FINISHED'])
    const got = await api(app, 'GET', '/v1/campaigns/pc')
    assert.deepEqual([got.body.state, got.body.progress.sent], ['cancelled', sentAtCancel])
    // Exactly one full page of the sent: it is the last, no `next` to an empty page.
    const allSent = await api(app, 'GET', `/v1/campaigns/pc/recipients?state=sent&limit=${sentAtCancel}`)
    assert.deepEqual([allSent.body.recipients.length, allSent.body.next], [sentAtCancel, null])
  })
})
