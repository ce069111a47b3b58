import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { triggerJobId } from '../../src/triggers/trigger-jobs.ts'
import { api, identify } from '../campaigns/campaign-api.ts'
import { startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'

const TEMPLATE = {
  subject: 'Still thinking about {{ event.properties.name }}?',
  html: '<html><body><p>Hi {{ user_id }}, the {{ event.properties.name }} is waiting.</p></body></html>',
}

async function track(
  app: TestApp,
  events: {
    userId: string
    event: string
    properties?: Record<string, unknown>
    messageId?: string
    timestamp?: string
  }[],
): Promise<void> {
  const res = await fetch(`${app.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({
      batch: events.map((e) => ({ type: 'track', messageId: randomUUID(), properties: {}, ...e })),
    }),
  })
  assert.equal(res.status, 200, await res.text())
}

const remove = (app: TestApp, id: string) =>
  fetch(`${app.url}/v1/triggers/${id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${app.workspace.adminKey}` },
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Waits until the processor caught up and the dispatcher has nothing due and no pass running: every
 * job the events made is then in a final state (or pending for later), so what the SMTP server has
 * is all it will get for them. A state to wait for, not a fixed pause.
 */
async function settle(app: TestApp, timeoutMs = 10_000): Promise<void> {
  await waitForProcessed(app)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    await app.triggerDispatcher?.idle()
    if ((await app.triggers.due(Date.now(), 1)).length === 0) return
    if (Date.now() > deadline) throw new Error('trigger jobs still due after the deadline')
    await sleep(10)
  }
}

const jobOf = (app: TestApp, triggerId: string, messageId: string) =>
  app.triggers.getJob(app.workspace.id, triggerJobId(app.workspace.id, triggerId, messageId))

describe('behavioural triggers, sent through SMTP', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  const to = (email: string) => smtp.received.filter((m) => m.rcptTo.includes(email))

  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'Shop <news@shop.example>' })
    const t = await api(app, 'PUT', '/v1/templates/browse', TEMPLATE)
    assert.ok(t.status < 300, JSON.stringify(t.body))
    await identify(app, {
      ann: { email: 'ann@example.com' },
      bob: { email: 'bob@example.com' },
      cat: { email: 'cat@example.com' },
      dan: { email: 'dan@example.com' },
      nomail: { firstName: 'No' },
    })
  })
  after(async () => {
    await app.close()
    await smtp.close()
  })

  test('the API stores, lists, validates and deletes triggers', async () => {
    const put = await api(app, 'PUT', '/v1/triggers/tmp', { event: 'Thing', templateId: 'browse' })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    assert.equal(put.body.delayMs, 0)
    assert.equal(put.body.from, 'Shop <news@shop.example>')
    assert.equal((await api(app, 'GET', '/v1/triggers/tmp')).body.event, 'Thing')
    assert.deepEqual(
      (await api(app, 'GET', '/v1/triggers')).body.triggers.map((t: { id: string }) => t.id),
      ['tmp'],
    )
    const bad = await api(app, 'PUT', '/v1/triggers/bad', { event: 'X', templateId: 'browse', delayMs: -1 })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.code, 'INK_ERR_BAD_REQUEST')
    assert.deepEqual(bad.body.issues, ['delayMs: Too small: expected number to be >=0'])
    const noTemplate = await api(app, 'PUT', '/v1/triggers/bad', { event: 'X', templateId: 'missing' })
    assert.equal(noTemplate.status, 404)
    assert.equal((await fetch(`${app.url}/v1/triggers`)).status, 401)
    assert.equal((await remove(app, 'tmp')).status, 204)
    assert.equal((await api(app, 'GET', '/v1/triggers/tmp')).status, 404)
  })

  test('a trigger "from" that is not one mailbox is refused at save with 422, and nothing is saved', async () => {
    for (const from of [
      'not an address',
      'news@shop.example\r\nBcc: all@example.com',
      'a@x.com, b@y.com',
      'Shop <news@shop.example>\u0007',
      'news@shop.example\u2028',
    ]) {
      const res = await api(app, 'PUT', '/v1/triggers/bad-from', { event: 'X', templateId: 'browse', from })
      assert.equal(res.status, 422, `${JSON.stringify(from)}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.code, 'INK_ERR_INVALID_ADDRESS')
      assert.match(res.body.message, /^from .*; write one sender such as/)
    }
    assert.equal((await api(app, 'GET', '/v1/triggers/bad-from')).status, 404)
    // A bad "from" on an existing trigger leaves the stored one as it was.
    const ok = await api(app, 'PUT', '/v1/triggers/good-from', {
      event: 'X',
      templateId: 'browse',
      from: '"Shop, Inc." <news@shop.example>',
    })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    const bad = await api(app, 'PUT', '/v1/triggers/good-from', {
      event: 'X',
      templateId: 'browse',
      from: 'a@b',
    })
    assert.equal(bad.status, 422, JSON.stringify(bad.body))
    assert.equal(
      (await api(app, 'GET', '/v1/triggers/good-from')).body.from,
      '"Shop, Inc." <news@shop.example>',
    )
    assert.equal((await remove(app, 'good-from')).status, 204)
  })

  test('a Product Viewed trigger sends once per event, not again for a redelivery or past its cap', async () => {
    const put = await api(app, 'PUT', '/v1/triggers/viewed', {
      event: 'Product Viewed',
      templateId: 'browse',
      frequencyCap: { max: 1, perMs: 86_400_000 },
    })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    const messageId = randomUUID()
    await track(app, [
      { userId: 'ann', event: 'Product Viewed', properties: { name: 'Red Kettle' }, messageId },
    ])
    // The bound is on failing, not on speed: with no delay the job falls due at the event itself.
    const [msg] = await smtp.waitForMessages(1, 10_000)
    const job = await app.triggers.getJob(
      app.workspace.id,
      triggerJobId(app.workspace.id, 'viewed', messageId),
    )
    assert.equal(job && job.dueAt - job.eventAt, 0, 'the job fell due when the event happened')
    assert.deepEqual(msg?.rcptTo, ['ann@example.com'])
    assert.match(msg?.raw ?? '', /Red Kettle/)
    assert.match(msg?.raw ?? '', /Hi ann/)

    // The same event again (a client retry, a replay): no second job, no second message.
    await track(app, [
      { userId: 'ann', event: 'Product Viewed', properties: { name: 'Red Kettle' }, messageId },
    ])
    // A new view within the day: the cap of 1 per day holds it back.
    const blue = randomUUID()
    await track(app, [
      { userId: 'ann', event: 'Product Viewed', properties: { name: 'Blue Kettle' }, messageId: blue },
    ])
    await settle(app)
    const capped = await jobOf(app, 'viewed', blue)
    assert.deepEqual([capped?.state, capped?.sentAt], ['skipped', null], JSON.stringify(capped))
    assert.match(capped?.detail ?? '', /^frequency cap: 1 sent/)
    assert.equal(to('ann@example.com').length, 1)

    // Another recipient has its own cap; a profile without an email is skipped.
    await track(app, [
      { userId: 'bob', event: 'Product Viewed', properties: { name: 'Teapot' } },
      { userId: 'nomail', event: 'Product Viewed', properties: { name: 'Teapot' } },
    ])
    await smtp.waitForMessages(2, 3000)
    await settle(app)
    assert.equal(to('bob@example.com').length, 1)
    assert.equal(smtp.received.length, 2)
    assert.equal((await remove(app, 'viewed')).status, 204)
  })

  test('a 451 is retried and delivered once; a reply lost after the body ends unknown and is not resent', async () => {
    const put = await api(app, 'PUT', '/v1/triggers/flaky', { event: 'Flaky Thing', templateId: 'browse' })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    await identify(app, { eve: { email: 'eve@example.com' }, fay: { email: 'fay@example.com' } })
    // 451 after the body (once): a reply, so nodemailer's pool does not resend it by itself.
    smtp.answer('eve@example.com', 'data-451', 1)
    smtp.answer('fay@example.com', 'data-drop-after')
    const ids = { eve: randomUUID(), fay: randomUUID() }
    await track(app, [
      { userId: 'eve', event: 'Flaky Thing', properties: { name: 'Lamp' }, messageId: ids.eve },
      { userId: 'fay', event: 'Flaky Thing', properties: { name: 'Lamp' }, messageId: ids.fay },
    ])
    const deadline = Date.now() + 5000
    const job = (user: 'eve' | 'fay') =>
      app.triggers.getJob(app.workspace.id, triggerJobId(app.workspace.id, 'flaky', ids[user]))
    while (
      Date.now() < deadline &&
      ((await job('eve'))?.state !== 'sent' || (await job('fay'))?.state === 'pending')
    )
      await sleep(50)
    await settle(app)
    assert.equal((await job('eve'))?.state, 'sent')
    assert.equal(to('eve@example.com').length, 1)
    const fay = await job('fay')
    assert.equal(fay?.state, 'unknown', JSON.stringify(fay))
    // Nothing is due and no pass runs (settle): an unknown job is final, so this count is final too.
    assert.equal(to('fay@example.com').length, 1, 'kept once by the server, never sent again')
    assert.equal((await job('fay'))?.state, 'unknown')
    smtp.answer('fay@example.com', 'accept')
    assert.equal((await remove(app, 'flaky')).status, 204)
  })

  test('abandonment: the unless event within the window cancels, its absence sends after the window', async () => {
    const put = await api(app, 'PUT', '/v1/triggers/cart', {
      event: 'Product Added',
      unless: { event: 'Order Completed', withinMs: 300 },
      templateId: 'browse',
    })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    const before = smtp.received.length

    const ids = { cat: randomUUID(), dan: randomUUID() }
    await track(app, [
      { userId: 'cat', event: 'Product Added', properties: { name: 'Green Mug' }, messageId: ids.cat },
    ])
    await track(app, [{ userId: 'cat', event: 'Order Completed', properties: { total: 12 } }])
    await track(app, [
      { userId: 'dan', event: 'Product Added', properties: { name: 'Yellow Mug' }, messageId: ids.dan },
    ])

    const got = await smtp.waitForMessages(before + 1, 3000)
    assert.deepEqual(got.at(-1)?.rcptTo, ['dan@example.com'])
    assert.match(got.at(-1)?.raw ?? '', /Yellow Mug/)
    await settle(app)
    // The message waited out the window: due 300 ms after the add, sent no earlier than that.
    const dan = await jobOf(app, 'cart', ids.dan)
    assert.equal(dan?.state, 'sent', JSON.stringify(dan))
    assert.equal((dan?.dueAt ?? 0) - (dan?.eventAt ?? 0), 300)
    assert.ok((dan?.sentAt ?? 0) >= (dan?.dueAt ?? Number.POSITIVE_INFINITY), JSON.stringify(dan))
    const cat = await jobOf(app, 'cart', ids.cat)
    assert.equal(cat?.state, 'cancelled', JSON.stringify(cat))
    assert.equal(to('cat@example.com').length, 0)
    assert.equal(smtp.received.length, before + 1)
  })

  test('clock abuse: an add dated 10 years back is cancelled by the order after it; one dated 10 years ahead is sent after the window', async () => {
    // A 2 s window: the order must reach the processor inside it even on a loaded machine.
    const put = await api(app, 'PUT', '/v1/triggers/stale-cart', {
      event: 'Cart Viewed',
      unless: { event: 'Checkout Completed', withinMs: 2000 },
      templateId: 'browse',
    })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    await identify(app, { gus: { email: 'gus@example.com' }, hal: { email: 'hal@example.com' } })
    const before = smtp.received.length
    const TEN_YEARS = 3653 * 86_400_000
    const gusAdd = randomUUID()
    await track(app, [
      {
        userId: 'gus',
        event: 'Cart Viewed',
        properties: { name: 'Old Mug' },
        messageId: gusAdd,
        timestamp: new Date(Date.now() - TEN_YEARS).toISOString(),
      },
    ])
    await waitForProcessed(app)
    await track(app, [{ userId: 'gus', event: 'Checkout Completed' }])
    await track(app, [
      {
        userId: 'hal',
        event: 'Cart Viewed',
        properties: { name: 'Future Mug' },
        timestamp: new Date(Date.now() + TEN_YEARS).toISOString(),
      },
    ])
    // hal's job is due after gus's: by the time it is sent, gus's would have been too.
    const got = await smtp.waitForMessages(before + 1, 8000)
    assert.deepEqual(got.at(-1)?.rcptTo, ['hal@example.com'])
    assert.match(got.at(-1)?.raw ?? '', /Future Mug/)
    await settle(app)
    const gus = await jobOf(app, 'stale-cart', gusAdd)
    assert.equal(gus?.state, 'cancelled', JSON.stringify(gus))
    assert.equal(to('gus@example.com').length, 0, 'the order cancelled the back-dated add')
    assert.equal(smtp.received.length, before + 1)
    assert.equal((await remove(app, 'stale-cart')).status, 204)
  })
})
