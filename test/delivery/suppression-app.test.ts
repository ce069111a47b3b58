/**
 * The suppression list API on a running app, sent through a real SMTP server: an address added over
 * HTTP gets nothing from a campaign or a trigger, and removing it lets both send again.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { triggerJobId } from '../../src/triggers/trigger-jobs.ts'
import { type ApiBody, api, identify } from '../campaigns/campaign-api.ts'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

const TEMPLATE = {
  subject: 'Hello {{ user_id }}',
  html: '<html><body><p>Hi {{ user_id }}, news for you.</p></body></html>',
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitForState(app: TestApp, id: string, timeoutMs = 10_000): Promise<ApiBody> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const got = await api(app, 'GET', `/v1/campaigns/${id}`)
    if (['done', 'failed'].includes(got.body.state)) return got.body
    if (Date.now() > deadline) throw new Error(`campaign ${id} still ${JSON.stringify(got.body)}`)
    await sleep(20)
  }
}

/** Tracks one `Viewed` event for a user; answers the event's messageId (the trigger job's key). */
async function track(app: TestApp, userId: string): Promise<string> {
  const messageId = randomUUID()
  const res = await fetch(`${app.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({ batch: [{ type: 'track', userId, event: 'Viewed', messageId, properties: {} }] }),
  })
  assert.equal(res.status, 200, await res.text())
  return messageId
}

/** The trigger job of an event, once it reached a final state. */
async function finalJob(app: TestApp, messageId: string, timeoutMs = 10_000) {
  await waitForProcessed(app)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const job = await app.triggers.getJob(
      app.workspace.id,
      triggerJobId(app.workspace.id, 'viewed', messageId),
    )
    if (job && job.state !== 'pending' && job.state !== 'sending') return job
    if (Date.now() > deadline) throw new Error(`trigger job still ${JSON.stringify(job)}`)
    await app.triggerDispatcher?.idle()
    await sleep(10)
  }
}

describe('the suppression list API stops campaigns and triggers, over HTTP and SMTP', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  const to = (email: string) => smtp.received.filter((m) => m.rcptTo.includes(email))

  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'Shop <news@shop.example>' })
    assert.ok((await api(app, 'PUT', '/v1/templates/news', TEMPLATE)).status < 300)
    assert.equal(
      (await api(app, 'PUT', '/v1/triggers/viewed', { event: 'Viewed', templateId: 'news' })).status,
      200,
    )
    await identify(app, { ann: { email: 'ann@example.com' }, bob: { email: 'bob@example.com' } })
  })
  after(async () => {
    await app.close()
    await smtp.close()
  })

  test('an address added through the API is not sent to; removing it lets sends through again', async () => {
    // Added in another spelling: stored (and matched) as the send path normalises it.
    const put = await api(app, 'PUT', '/v1/suppressions/%20Ann@EXAMPLE.com', {
      reason: 'unsubscribed',
      source: 'manual',
    })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.equal(put.body.email, 'ann@example.com')
    assert.equal(put.body.source, 'manual')
    const listed = await api(app, 'GET', '/v1/suppressions')
    assert.deepEqual(
      listed.body.suppressions.map((s: ApiBody) => [s.email, s.reason, s.source]),
      [['ann@example.com', 'unsubscribed', 'manual']],
    )

    // A campaign to both: only bob gets it; ann is `suppressed` in the ledger.
    await api(app, 'PUT', '/v1/campaigns/first', {
      templateId: 'news',
      audience: { userIds: ['ann', 'bob'] },
    })
    assert.equal((await api(app, 'POST', '/v1/campaigns/first/start')).status, 202)
    const first = await waitForState(app, 'first')
    assert.equal(first.state, 'done', JSON.stringify(first))
    assert.equal(first.progress.sent, 1)
    assert.equal(first.progress.suppressed, 1)
    const rows = await api(app, 'GET', '/v1/campaigns/first/recipients')
    assert.deepEqual(
      rows.body.recipients.map((r: ApiBody) => [r.recipient, r.state]),
      [
        ['ann', 'suppressed'],
        ['bob', 'sent'],
      ],
    )
    // A trigger for ann: its job ends `suppressed`, nothing is mailed.
    const suppressedJob = await finalJob(app, await track(app, 'ann'))
    assert.equal(suppressedJob.state, 'suppressed', JSON.stringify(suppressedJob))
    assert.equal(to('ann@example.com').length, 0)
    assert.equal(to('bob@example.com').length, 1)

    // Lifted through the API: the next campaign and the next trigger reach ann.
    const del = await fetch(`${app.url}/v1/suppressions/ann@example.com`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${app.workspace.adminKey}` },
    })
    assert.equal(del.status, 204)
    assert.equal((await api(app, 'GET', '/v1/suppressions')).body.suppressions.length, 0)
    await api(app, 'PUT', '/v1/campaigns/second', { templateId: 'news', audience: { userIds: ['ann'] } })
    await api(app, 'POST', '/v1/campaigns/second/start')
    const second = await waitForState(app, 'second')
    assert.equal(second.progress.sent, 1, JSON.stringify(second))
    const sentJob = await finalJob(app, await track(app, 'ann'))
    assert.equal(sentJob.state, 'sent', JSON.stringify(sentJob))
    assert.equal(to('ann@example.com').length, 2)
  })

  test('the suppression routes are in the admin API description', async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as ApiBody
    assert.deepEqual(Object.keys(doc.paths['/v1/suppressions'] ?? {}), ['get'])
    assert.deepEqual(Object.keys(doc.paths['/v1/suppressions/{email}'] ?? {}).sort(), [
      'delete',
      'get',
      'put',
    ])
    assert.deepEqual(Object.keys(doc.paths['/v1/templates/{id}/test-send'] ?? {}), ['post'])
    const put = doc.paths['/v1/suppressions/{email}'].put
    assert.deepEqual(put.requestBody.content['application/json'].schema.required, ['reason'])
  })
})
