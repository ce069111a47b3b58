/**
 * The bounce policy in the embedded app, end to end: feedback and send-outcome events go through the
 * event log and the processor's thread (configured with INKSTREAM_BOUNCE_SOFT_LIMIT), the suppression
 * it writes is what the one send path reads, and a real SMTP server sees no message to a suppressed
 * address. The SMTP session's own hard bounce and the processor's policy make one entry, not two.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { InkEvent } from '../../src/core/types.ts'
import { type DeliveryDeps, type DeliveryRequest, deliver, messageIdFor } from '../../src/delivery/deliver.ts'
import { type Feedback, feedbackEvent } from '../../src/delivery/feedback.ts'
import { SmtpTransport } from '../../src/delivery/smtp-transport.ts'
import { PUBLIC_URL, putTemplate } from '../campaigns/campaign-fixture.ts'
import { startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

describe('bounce policy: feedback → processor → suppression → send path', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  let transport: SmtpTransport
  let n = 0
  const NOW = Date.parse('2026-11-28T12:00:00Z')

  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ publicUrl: PUBLIC_URL, bounceSoftLimit: 2 })
    await putTemplate(app, 'spring')
    transport = new SmtpTransport({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      maxConnections: 1,
      messageIdDomain: 'mail.example.com',
    })
  })
  after(async () => {
    await transport.close()
    await app.close()
    await smtp.close()
  })

  const deps = (): DeliveryDeps => ({
    renderer: app.renderer,
    transport,
    suppressions: app.suppressions,
    codec: app.codec,
    publicUrl: () => PUBLIC_URL,
    clock: { now: () => NOW },
    logger: { warn: () => {} },
    events: app.log,
    retryDelayMs: 5,
  })

  /** A campaign's message to `userId` at `email`. */
  const request = (userId: string, email: string): DeliveryRequest => {
    const campaignId = 'spring'
    return {
      workspaceId: app.workspace.id,
      origin: 'campaign',
      campaignId,
      source: `campaign:${campaignId}`,
      messageId: messageIdFor(app.workspace.id, campaignId, `${userId}-${++n}`),
      recipient: { userId, email },
      from: 'news@shop.example',
      render: { templateId: 'spring', userId, campaign: { id: campaignId, greeting: 'Hello' } },
      claim: async () => true,
    }
  }

  const identify = (userId: string, email: string): InkEvent => ({
    type: 'identify',
    messageId: `id-${userId}`,
    workspaceId: app.workspace.id,
    userId,
    traits: { email },
    timestamp: new Date(NOW).toISOString(),
    receivedAt: new Date(NOW).toISOString(),
  })

  const feedback = (userId: string, f: Omit<Feedback, 'source' | 'at'>): InkEvent =>
    feedbackEvent(
      { source: 'mailbox', at: NOW, ...f },
      { workspaceId: app.workspace.id, userId, campaignId: 'spring' },
      NOW,
    )

  const entries = async (email: string) =>
    (await app.suppressions.get(app.workspace.id, email)).map((e) => [e.reason, e.source])

  test('a hard bounce read from the mailbox suppresses; the next campaign message is suppressed, not sent', async () => {
    await app.log.append([
      identify('pat', 'pat@example.com'),
      feedback('pat', {
        kind: 'bounced',
        feedbackId: 'dsn-1',
        recipient: 'pat@example.com',
        bounce: { type: 'hard', status: '5.1.1' },
      }),
    ])
    await waitForProcessed(app)
    assert.deepEqual(await entries('pat@example.com'), [['bounced', 'campaign:spring']])
    const got = await deliver(deps(), request('pat', 'pat@example.com'))
    assert.deepEqual(got.outcome, { kind: 'suppressed', detail: 'the address is suppressed' })
    assert.equal(smtp.dataCommandsTo('pat@example.com'), 0)
  })

  test('soft bounces suppress at the configured limit (2 here), the same feedback twice counts once', async () => {
    const soft = (id: string) =>
      feedback('sam', {
        kind: 'bounced',
        feedbackId: id,
        recipient: 'sam@example.com',
        bounce: { type: 'soft', status: '4.2.2' },
      })
    // The same DSN read twice (a mailbox read again after a crash): one event to the dedupe.
    await app.log.append([identify('sam', 'sam@example.com'), soft('dsn-s1'), soft('dsn-s1')])
    await waitForProcessed(app)
    assert.deepEqual(await entries('sam@example.com'), [])
    const sent = await deliver(deps(), request('sam', 'sam@example.com'))
    assert.equal(sent.outcome.kind, 'sent')
    await app.log.append([soft('dsn-s2')])
    await waitForProcessed(app)
    assert.deepEqual(await entries('sam@example.com'), [['bounced', 'campaign:spring']])
    const next = await deliver(deps(), request('sam', 'sam@example.com'))
    assert.equal(next.outcome.kind, 'suppressed')
  })

  test('a complaint suppresses as complained', async () => {
    await app.log.append([
      identify('cat', 'cat@example.com'),
      feedback('cat', { kind: 'complained', feedbackId: 'arf-1', recipient: 'cat@example.com' }),
    ])
    await waitForProcessed(app)
    assert.deepEqual(await entries('cat@example.com'), [['complained', 'campaign:spring']])
  })

  test('the SMTP session hard bounce and the policy on its Email Bounced event make one entry', async () => {
    smtp.answer('quin@example.com', 'rcpt-550')
    await app.log.append([identify('quin', 'old-quin@example.com')])
    await waitForProcessed(app)
    const got = await deliver(deps(), request('quin', 'quin@example.com'))
    assert.equal(got.outcome.kind, 'bounced')
    // The event carries the address that bounced: the profile's trait is another one.
    await waitForProcessed(app)
    assert.deepEqual(await entries('quin@example.com'), [['bounced', 'campaign:spring']])
    assert.deepEqual(await entries('old-quin@example.com'), [])
  })
})
