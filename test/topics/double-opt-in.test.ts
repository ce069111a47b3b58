/**
 * Double opt-in in the embedded app, over HTTP and a real SMTP server (issue 15): subscribing to a
 * topic with doubleOptIn (API or preference center) makes it pending and mails a signed link; a
 * campaign skips pending; the link's GET only shows a button; its POST confirms, recorded as
 * `Topic Subscribed` with source double_opt_in; a forged link and a stale one change nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { api, identify } from '../campaigns/campaign-api.ts'
import { putTemplate } from '../campaigns/campaign-fixture.ts'
import {
  decodeWords,
  header,
  mimeParts,
  type ReceivedMessage,
  startSmtpServer,
  type TestSmtpServer,
} from '../delivery/smtp-test-server.ts'
import { startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'

async function waitForState(app: TestApp, id: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const got = await api(app, 'GET', `/v1/campaigns/${id}`)
    if (got.body.state === 'done' || got.body.state === 'failed') return got.body
    if (Date.now() > deadline) throw new Error(`campaign ${id} still ${JSON.stringify(got.body)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const stateOf = async (app: TestApp, userId: string, topic: string) =>
  (await api(app, 'GET', `/v1/profiles/${userId}/topics`)).body.topics.find(
    (t: { id: string }) => t.id === topic,
  )

/** The confirmation link in a message's text part, as a path on the test app. */
function confirmLink(app: TestApp, m: ReceivedMessage): string {
  const text = mimeParts(m.raw).find((p) => p.contentType.startsWith('text/plain'))?.body ?? ''
  const url = /(http\S+\/confirm\/\S+)/.exec(text)?.[1]
  assert.ok(url, text)
  return new URL(new URL(url).pathname, app.url).href
}

const form = (url: string, body: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body,
  })

describe('double opt-in: pending, the confirmation email, the confirm page', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  const mailTo = (who: string) => smtp.received.filter((m) => m.rcptTo.includes(`${who}@example.com`))
  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'Shop <news@shop.example>' })
    await putTemplate(app, 'spring')
    await identify(app, { ann: { email: 'ann@example.com' }, bob: { email: 'bob@example.com' } })
    const put = await api(app, 'PUT', '/v1/topics/digest', { name: 'Daily <b>digest</b>', doubleOptIn: true })
    assert.equal(put.status, 201)
    await api(app, 'PUT', '/v1/profiles/ann/topics', { topics: [{ id: 'digest', state: 'unsubscribed' }] })
    await api(app, 'PUT', '/v1/profiles/bob/topics', { topics: [{ id: 'digest', state: 'unsubscribed' }] })
  })
  after(async () => {
    await app?.close()
    await smtp?.close()
  })

  let annLink: string

  test('subscribing through the API makes it pending and mails a signed link; sends skip pending', async () => {
    const res = await api(app, 'PUT', '/v1/profiles/ann/topics', {
      topics: [{ id: 'digest', state: 'subscribed' }],
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.topics[0].state, 'pending')
    const [mail] = await smtp.waitForMessages(1)
    assert.ok(mail)
    assert.deepEqual(mail.rcptTo, ['ann@example.com'])
    assert.match(
      decodeWords(header(mail.raw, 'Subject') ?? ''),
      /confirm your subscription: Daily <b>digest<\/b>/,
    )
    const html = mimeParts(mail.raw).find((p) => p.contentType.startsWith('text/html'))?.body ?? ''
    assert.match(html, /Daily &lt;b&gt;digest&lt;\/b&gt;/)
    annLink = confirmLink(app, mail)
    // Asking for pending is not allowed: only a doubleOptIn subscribe sets it.
    const bad = await api(app, 'PUT', '/v1/profiles/ann/topics', {
      topics: [{ id: 'digest', state: 'pending' }],
    })
    assert.equal(bad.status, 400)

    const c = await api(app, 'PUT', '/v1/campaigns/daily', {
      templateId: 'spring',
      vars: { greeting: 'Hi' },
      audience: { userIds: ['ann'] },
      topic: 'digest',
    })
    assert.equal(c.status, 201, JSON.stringify(c.body))
    assert.equal((await api(app, 'POST', '/v1/campaigns/daily/start')).status, 202)
    const done = await waitForState(app, 'daily')
    assert.equal(done.progress.skipped, 1, JSON.stringify(done.progress))
    assert.equal(mailTo('ann').length, 1, 'only the confirmation')
  })

  test('GET of the link shows a button and confirms nothing; a forged link is refused', async () => {
    const page = await fetch(annLink)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /<form method="post">/)
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/)
    assert.equal((await stateOf(app, 'ann', 'digest')).state, 'pending')
    const i = annLink.length - 20
    const forged = annLink.slice(0, i) + (annLink[i] === 'A' ? 'B' : 'A') + annLink.slice(i + 1)
    const refused = await form(forged, 'confirm=1')
    assert.equal(refused.status, 400)
    assert.equal(refused.headers.get('x-ink-error-code'), 'INK_ERR_TOKEN_INVALID')
    // An unsubscribe (or any other kind of) token is not a confirmation.
    const unsub = annLink.replace('/confirm/', '/u/')
    assert.equal((await fetch(unsub)).status, 400)
    assert.equal((await stateOf(app, 'ann', 'digest')).state, 'pending')
  })

  test('POST confirms: subscribed, a Topic Subscribed event with source double_opt_in', async () => {
    const res = await form(annLink, 'confirm=1')
    assert.equal(res.status, 200)
    assert.match(await res.text(), /Your subscription is confirmed/)
    const s = await stateOf(app, 'ann', 'digest')
    assert.equal(s.state, 'subscribed')
    assert.equal(s.source, 'double_opt_in')
    await waitForProcessed(app)
    const events = await api(app, 'GET', '/v1/profiles/ann/events')
    const sub = events.body.events.filter(
      (e: { name: string; data: { properties: { source: string } } }) =>
        e.name === 'Topic Subscribed' && e.data.properties.source === 'double_opt_in',
    )
    assert.equal(sub.length, 1, JSON.stringify(events.body))
    assert.equal(sub[0].data.properties.topic_id, 'digest')
    assert.match(sub[0].data.properties.ip, /127\.0\.0\.1/)
    assert.equal(typeof sub[0].timestamp, 'string')
    // Twice is fine and changes nothing.
    assert.equal((await form(annLink, 'confirm=1')).status, 200)
  })

  test('an old link after leaving again changes nothing', async () => {
    await api(app, 'PUT', '/v1/profiles/ann/topics', { topics: [{ id: 'digest', state: 'unsubscribed' }] })
    const res = await form(annLink, 'confirm=1')
    assert.equal(res.status, 200)
    assert.match(await res.text(), /Nothing to confirm/)
    assert.equal((await stateOf(app, 'ann', 'digest')).state, 'unsubscribed')
  })

  test('ticking it in the preference center makes it pending and mails the link', async () => {
    // Bob's preference link: his unsubscribe token, from a message he received.
    const c = await api(app, 'PUT', '/v1/campaigns/hello', {
      templateId: 'spring',
      vars: { greeting: 'Hi' },
      audience: { userIds: ['bob'] },
    })
    assert.equal(c.status, 201)
    await api(app, 'POST', '/v1/campaigns/hello/start')
    await waitForState(app, 'hello')
    const [hello] = mailTo('bob')
    assert.ok(hello)
    const link = /<(http[^>]+\/u\/[^>]+)>/.exec(header(hello.raw, 'List-Unsubscribe') ?? '')?.[1]
    assert.ok(link)
    const prefs = new URL(new URL(link).pathname.replace(/^\/u\//, '/prefs/'), app.url).href
    const saved = await form(prefs, 'topics=digest&t.digest=on')
    assert.equal(saved.status, 200)
    assert.match(await saved.text(), /check your inbox to confirm/)
    assert.equal((await stateOf(app, 'bob', 'digest')).state, 'pending')
    const before = mailTo('bob').length
    await smtp.waitForMessages(smtp.received.length)
    const confirmation = mailTo('bob').at(-1)
    assert.ok(confirmation && before === 2)
    // Saving again with the box still ticked sends no second email.
    await form(prefs, 'topics=digest&t.digest=on')
    assert.equal(mailTo('bob').length, 2)
    const confirmed = await form(confirmLink(app, confirmation), 'confirm=1')
    assert.equal(confirmed.status, 200)
    assert.equal((await stateOf(app, 'bob', 'digest')).source, 'double_opt_in')
  })

  test('someone who never chose a double opt-in topic is not subscribed: no send, shown unsubscribed, subscribing asks to confirm', async () => {
    await identify(app, { cy: { email: 'cy@example.com' } })
    assert.equal((await stateOf(app, 'cy', 'digest')).state, 'unsubscribed')
    const before = mailTo('cy').length
    const c = await api(app, 'PUT', '/v1/campaigns/daily-cy', {
      templateId: 'spring',
      vars: { greeting: 'Hi' },
      audience: { userIds: ['cy'] },
      topic: 'digest',
    })
    assert.equal(c.status, 201, JSON.stringify(c.body))
    assert.equal((await api(app, 'POST', '/v1/campaigns/daily-cy/start')).status, 202)
    const done = await waitForState(app, 'daily-cy')
    assert.equal(done.progress.skipped, 1, JSON.stringify(done.progress))
    assert.equal(mailTo('cy').length, before, 'nothing sent before a confirmation')
    const res = await api(app, 'PUT', '/v1/profiles/cy/topics', {
      topics: [{ id: 'digest', state: 'subscribed' }],
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.topics.find((t: { id: string }) => t.id === 'digest').state, 'pending')
    await smtp.waitForMessages(smtp.received.length)
    const deadline = Date.now() + 5_000
    while (mailTo('cy').length === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20))
    assert.equal(mailTo('cy').length, before + 1, 'the confirmation email')
  })
})
