/**
 * Subscription topics in the embedded app, over HTTP and a real SMTP server: the admin API, a
 * campaign with a topic skipping who left it, its one-click unsubscribe leaving that topic only, and
 * consent changes recorded as events on the profile.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { api, identify } from '../campaigns/campaign-api.ts'
import { putTemplate } from '../campaigns/campaign-fixture.ts'
import { header, startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'

/** Polls `find` until it answers something (or fails after `timeoutMs`). */
async function poll<T>(find: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await find()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error('not found in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function waitForState(app: TestApp, id: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const got = await api(app, 'GET', `/v1/campaigns/${id}`)
    if (got.body.state === 'done' || got.body.state === 'failed') return got.body
    if (Date.now() > deadline) throw new Error(`campaign ${id} still ${JSON.stringify(got.body)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('subscription topics: API, send path, one-click unsubscribe', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'Shop <news@shop.example>' })
    await putTemplate(app, 'spring')
    await identify(app, { ann: { email: 'ann@example.com' }, bob: { email: 'bob@example.com' } })
  })
  after(async () => {
    await app.close()
    await smtp.close()
  })

  const run = async (id: string, body: Record<string, unknown>) => {
    const put = await api(app, 'PUT', `/v1/campaigns/${id}`, {
      templateId: 'spring',
      vars: { greeting: 'Hi' },
      audience: { userIds: ['ann', 'bob'] },
      ...body,
    })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.equal((await api(app, 'POST', `/v1/campaigns/${id}/start`)).status, 202)
    return waitForState(app, id)
  }

  test('topics are created, replaced, listed; bad ids and unknown topics get clear errors', async () => {
    const created = await api(app, 'PUT', '/v1/topics/news', { name: 'News', description: 'Weekly news' })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    assert.equal(created.body.doubleOptIn, false)
    const replaced = await api(app, 'PUT', '/v1/topics/news', { name: 'News', doubleOptIn: true })
    assert.equal(replaced.status, 200)
    assert.equal(replaced.body.doubleOptIn, true)
    // Back to an ordinary (opt-out) topic for the tests below: on a double opt-in topic nobody is
    // subscribed before confirming (test/topics/double-opt-in.test.ts).
    const plain = await api(app, 'PUT', '/v1/topics/news', { name: 'News', description: 'Weekly news' })
    assert.equal(plain.body.doubleOptIn, false)
    assert.deepEqual(
      (await api(app, 'GET', '/v1/topics')).body.topics.map((t: { id: string }) => t.id),
      ['news'],
    )
    const bad = await api(app, 'PUT', '/v1/topics/Not%20A%20Slug', { name: 'x' })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.code, 'INK_ERR_BAD_REQUEST')
    const missing = await api(app, 'DELETE', '/v1/topics/offers')
    assert.equal(missing.status, 404)
    const noTopic = await api(app, 'PUT', '/v1/campaigns/x', {
      templateId: 'spring',
      audience: { userIds: ['ann'] },
      topic: 'offers',
    })
    assert.equal(noTopic.status, 400)
    assert.match(
      noTopic.body.message,
      /topic "offers" does not exist; create it first with PUT \/v1\/topics\/offers/,
    )
    const unknownState = await api(app, 'PUT', '/v1/profiles/bob/topics', {
      topics: [{ id: 'offers', state: 'unsubscribed' }],
    })
    assert.equal(unknownState.status, 404)
  })

  test('who left a topic is skipped by its campaign and still gets mail without a topic', async () => {
    const before = await api(app, 'GET', '/v1/profiles/bob/topics')
    assert.deepEqual(before.body.topics, [
      { id: 'news', name: 'News', state: 'subscribed', source: null, at: null },
    ])
    const left = await api(app, 'PUT', '/v1/profiles/bob/topics', {
      topics: [{ id: 'news', state: 'unsubscribed' }],
    })
    assert.equal(left.status, 200, JSON.stringify(left.body))
    assert.equal(left.body.topics[0].state, 'unsubscribed')
    assert.equal(left.body.topics[0].source, 'api')

    const weekly = await run('weekly', { topic: 'news' })
    assert.equal(weekly.topic, 'news')
    assert.equal(weekly.progress.sent, 1, JSON.stringify(weekly.progress))
    assert.equal(weekly.progress.skipped, 1)
    assert.equal(smtp.dataCommandsTo('bob@example.com'), 0)
    assert.equal(smtp.dataCommandsTo('ann@example.com'), 1)

    const plain = await run('plain', {})
    assert.equal(plain.progress.sent, 2, JSON.stringify(plain.progress))
    assert.equal(smtp.dataCommandsTo('bob@example.com'), 1)

    // The change is an event on the profile, with its topic and source.
    await waitForProcessed(app)
    const events = await api(app, 'GET', '/v1/profiles/bob/events')
    const consent = events.body.events.find((e: { name: string }) => e.name === 'Topic Unsubscribed')
    assert.ok(consent, JSON.stringify(events.body))
    assert.equal(consent.data.properties.topic_id, 'news')
    assert.equal(consent.data.properties.source, 'api')
    assert.match(consent.data.properties.ip, /127\.0\.0\.1/)
    assert.equal(typeof consent.timestamp, 'string')
  })

  test("a topic message's one-click unsubscribe leaves that topic only; one without a topic suppresses", async () => {
    const toAnn = smtp.received.filter((m) => m.rcptTo.includes('ann@example.com'))
    // Campaign "weekly" (topic news) ran first, then "plain".
    const fromWeekly = toAnn[0]
    assert.ok(fromWeekly)
    const link = /<(http[^>]+\/u\/[^>]+)>/.exec(header(fromWeekly.raw, 'List-Unsubscribe') ?? '')?.[1]
    assert.ok(link)
    const res = await fetch(new URL(new URL(link).pathname, app.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    })
    assert.equal(res.status, 200, await res.text())
    const topics = await api(app, 'GET', '/v1/profiles/ann/topics')
    assert.equal(topics.body.topics[0].state, 'unsubscribed')
    assert.equal(topics.body.topics[0].source, 'unsubscribe-link:weekly')
    assert.equal((await api(app, 'GET', '/v1/suppressions/ann@example.com')).status, 404)

    // The message without a topic (campaign "plain"): its link suppresses the address, as before.
    const fromPlain = toAnn[1]
    assert.ok(fromPlain)
    const plainLink = /<(http[^>]+\/u\/[^>]+)>/.exec(header(fromPlain.raw, 'List-Unsubscribe') ?? '')?.[1]
    assert.ok(plainLink)
    const res2 = await fetch(new URL(new URL(plainLink).pathname, app.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    })
    assert.equal(res2.status, 200)
    const entries = await api(app, 'GET', '/v1/suppressions/ann@example.com')
    assert.equal(entries.status, 200)
    assert.equal(entries.body.suppressions[0].reason, 'unsubscribed')
  })

  test('a trigger with a topic skips who left it; its unsubscribe link leaves the topic', async () => {
    const bad = await api(app, 'PUT', '/v1/triggers/cart', {
      event: 'Cart Viewed',
      templateId: 'spring',
      topic: 'offers',
    })
    assert.equal(bad.status, 400)
    const put = await api(app, 'PUT', '/v1/triggers/cart', {
      event: 'Cart Viewed',
      templateId: 'spring',
      topic: 'news',
    })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    assert.equal(put.body.topic, 'news')
    await identify(app, { cy: { email: 'cy@example.com' }, dan: { email: 'dan@example.com' } })
    await api(app, 'PUT', '/v1/profiles/dan/topics', { topics: [{ id: 'news', state: 'unsubscribed' }] })
    const track = await fetch(`${app.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: ['cy', 'dan'].map((userId) => ({ type: 'track', event: 'Cart Viewed', userId })),
      }),
    })
    assert.equal(track.status, 200)
    const skipped = await poll(async () => {
      await waitForProcessed(app)
      const events = await api(app, 'GET', '/v1/profiles/dan/events')
      return events.body.events.find((e: { name: string }) => e.name === 'Email Skipped')
    })
    assert.equal(skipped.data.properties.reason, 'topic_unsubscribed')
    const toCy = await poll(async () => smtp.received.find((m) => m.rcptTo.includes('cy@example.com')))
    assert.equal(smtp.dataCommandsTo('dan@example.com'), 0)
    const link = /<(http[^>]+\/u\/[^>]+)>/.exec(header(toCy.raw, 'List-Unsubscribe') ?? '')?.[1]
    assert.ok(link)
    const res = await fetch(new URL(new URL(link).pathname, app.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    })
    assert.equal(res.status, 200)
    const topics = await api(app, 'GET', '/v1/profiles/cy/topics')
    assert.equal(topics.body.topics[0].state, 'unsubscribed')
    assert.equal(topics.body.topics[0].source, 'unsubscribe-link:trigger:cart')
    assert.equal((await api(app, 'GET', '/v1/suppressions/cy@example.com')).status, 404)
  })
})
