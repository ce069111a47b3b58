/**
 * The one send path (src/delivery/deliver.ts) against real parts: the app's renderer, suppression
 * list, token codec and event log, a real SMTP server over a socket.
 */
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import type { InkEvent } from '../../src/core/types.ts'
import { type DeliveryDeps, type DeliveryRequest, deliver, messageIdFor } from '../../src/delivery/deliver.ts'
import { outcomeEventId } from '../../src/delivery/outcome-events.ts'
import { SmtpTransport } from '../../src/delivery/smtp-transport.ts'
import { createMetrics } from '../../src/observe/metrics.ts'
import { PUBLIC_URL, putTemplate } from '../campaigns/campaign-fixture.ts'
import { startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

describe('deliver: one message, any origin', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  let transport: SmtpTransport
  let metrics: ReturnType<typeof createMetrics>
  let appended: InkEvent[]
  let steps: string[]
  let n = 0

  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ publicUrl: PUBLIC_URL })
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
  beforeEach(() => {
    metrics = createMetrics({ defaultMetrics: false })
    appended = []
    steps = []
  })

  const deps = (over: Partial<DeliveryDeps> = {}): DeliveryDeps => ({
    renderer: {
      render: async (ws, req) => {
        steps.push('render')
        return app.renderer.render(ws, req)
      },
    },
    transport: {
      send: async (m) => {
        steps.push('send')
        return transport.send(m)
      },
      close: async () => {},
    },
    suppressions: app.suppressions,
    codec: app.codec,
    publicUrl: () => PUBLIC_URL,
    clock: { now: () => Date.parse('2026-03-01T10:00:00Z') },
    logger: { warn: () => {} },
    metrics,
    events: {
      append: async (events) => {
        appended.push(...events)
        await app.log.append(events)
      },
    },
    retryDelayMs: 5,
    ...over,
  })

  /** A trigger-like request to `email`, with a claim that answers `claims`. */
  const request = (email: string, claims = true): DeliveryRequest => {
    const userId = `u${++n}`
    const campaignId = 'trigger:poke'
    return {
      workspaceId: app.workspace.id,
      origin: 'trigger',
      campaignId,
      source: campaignId,
      messageId: messageIdFor(app.workspace.id, campaignId, `job-${n}`),
      recipient: { userId, email },
      from: 'news@shop.example',
      render: { templateId: 'spring', userId, campaign: { id: campaignId, greeting: 'Hello' } },
      claim: async () => {
        steps.push('claim')
        return claims
      },
    }
  }

  const counted = async (kind: string) =>
    (await metrics.deliveryOutcomes.get()).values.find(
      (v) => v.labels.origin === 'trigger' && v.labels.kind === kind,
    )?.value ?? 0

  test('sent: rendered, tracked, unsubscribe headers, claimed after the render; one Email Sent event', async () => {
    const req = request('ann@example.com')
    const got = await deliver(deps(), req)
    assert.deepEqual(got, {
      outcome: { kind: 'sent', detail: '250 OK: queued as TEST', attempts: 1 },
      claimed: true,
    })
    assert.deepEqual(steps, ['render', 'claim', 'send'])
    const raw = smtp.received.find((m) => m.rcptTo.includes('ann@example.com'))?.raw ?? ''
    assert.match(raw, /Hello, u\d+!/)
    assert.match(raw, new RegExp(`Message-ID: <${req.messageId}@mail\\.example\\.com>`))
    assert.match(raw, /List-Unsubscribe:\r\n <https:\/\/t\.example\.com\/u\//)
    // Quoted-printable: soft line breaks joined, the link is wrapped and the pixel is in.
    const html = raw.replaceAll('=\r\n', '')
    assert.match(
      html,
      /<a href=3D"https:\/\/t\.example\.com\/c\/[^"]+">Sale<\/a><img src=3D"https:\/\/t\.example\.com\/p\//,
    )
    assert.deepEqual(appended, [
      {
        type: 'track',
        event: 'Email Sent',
        messageId: outcomeEventId(app.workspace.id, req.messageId, 'sent'),
        workspaceId: app.workspace.id,
        userId: req.recipient.userId,
        properties: {
          campaign_id: 'trigger:poke',
          email_id: req.messageId,
          origin: 'trigger',
          // The template version rendered and its fallbacks: analytics per template version.
          template_id: 'spring',
          template_version: 1,
          fallbacks: 0,
          detail: '250 OK: queued as TEST',
          attempts: 1,
        },
        timestamp: '2026-03-01T10:00:00.000Z',
        receivedAt: '2026-03-01T10:00:00.000Z',
      },
    ])
    assert.equal(await counted('sent'), 1)
  })

  test('a render that throws is a temporary failure before any claim: nothing claimed, nothing sent', async () => {
    const req = request('bob@example.com')
    const got = await deliver(
      deps({
        renderer: {
          render: async () => {
            steps.push('render')
            throw new Error('templates unreadable')
          },
        },
      }),
      req,
    )
    assert.deepEqual(got, {
      outcome: {
        kind: 'failed',
        temporary: true,
        reason: 'unavailable',
        detail: 'could not be built: templates unreadable',
      },
      claimed: false,
    })
    assert.deepEqual(steps, ['render'])
    assert.equal(smtp.dataCommandsTo('bob@example.com'), 0)
    assert.deepEqual(appended, [], 'a temporary failure is not a fact yet')
    assert.equal(await counted('failed'), 1)
  })

  test('a claim refused: skipped already_handled, nothing sent, no event', async () => {
    const got = await deliver(deps(), request('cat@example.com', false))
    assert.deepEqual(got, {
      outcome: {
        kind: 'skipped',
        reason: 'already_handled',
        detail: 'claimed by another run, process or attempt',
      },
      claimed: false,
    })
    assert.deepEqual(steps, ['render', 'claim'])
    assert.equal(smtp.dataCommandsTo('cat@example.com'), 0)
    assert.deepEqual(appended, [])
  })

  test('550 5.1.1: bounced, the address suppressed with the origin as source, Email Bounced', async () => {
    smtp.answer('gone@example.com', 'rcpt-550')
    const req = request('Gone@Example.com')
    const got = await deliver(deps(), req)
    const detail =
      "550 EENVELOPE (RCPT TO): Can't send mail - all recipients were rejected: 550 5.1.1 <Gone@example.com>: no such user"
    assert.deepEqual(got, { outcome: { kind: 'bounced', detail }, claimed: true })
    const entries = await app.suppressions.get(app.workspace.id, 'gone@example.com')
    assert.deepEqual(
      entries.map((e) => [e.email, e.reason, e.source]),
      [['gone@example.com', 'bounced', 'trigger:poke']],
    )
    assert.deepEqual(
      appended.map((e) => [e.event, e.messageId, e.properties?.reason, e.properties?.detail]),
      [['Email Bounced', outcomeEventId(app.workspace.id, req.messageId, 'bounced'), 'hard_bounce', detail]],
    )
    // The next message to it is suppressed before it is rendered.
    steps = []
    const next = await deliver(deps(), request('gone@example.com'))
    assert.deepEqual(next, {
      outcome: { kind: 'suppressed', detail: 'the address is suppressed' },
      claimed: false,
    })
    assert.deepEqual(steps, [], 'no render, no claim')
    assert.deepEqual(appended.at(-1)?.event, 'Email Suppressed')
    assert.equal(smtp.dataCommandsTo('gone@example.com'), 0)
  })

  test('no usable address: skipped no_address, with an Email Skipped event', async () => {
    const got = await deliver(deps(), request('not-an-address'))
    assert.deepEqual(got, {
      outcome: { kind: 'skipped', reason: 'no_address', detail: '"not-an-address" is not an email address' },
      claimed: false,
    })
    assert.deepEqual(
      appended.map((e) => [e.event, e.properties?.reason]),
      [['Email Skipped', 'no_address']],
    )
  })

  test('refused three times: failed, temporary, transport_deferred; the server saw three DATA', async () => {
    smtp.answer('busy@example.com', 'data-451')
    const got = await deliver(deps(), request('busy@example.com'))
    assert.deepEqual(got, {
      outcome: {
        kind: 'failed',
        temporary: true,
        reason: 'transport_deferred',
        detail: '451 EMESSAGE (DATA): Message failed: 451 4.3.0 Local problem, try later (after 3 attempts)',
      },
      claimed: true,
    })
    assert.equal(smtp.dataCommandsTo('busy@example.com'), 3)
    assert.deepEqual(appended, [])
  })

  test('a reply lost after the body: unknown, one DATA, Email Delivery Unknown', async () => {
    smtp.answer('lost@example.com', 'data-drop-after')
    const got = await deliver(deps(), request('lost@example.com'))
    assert.equal(got.outcome.kind, 'unknown', JSON.stringify(got))
    assert.equal(smtp.dataCommandsTo('lost@example.com'), 1)
    assert.deepEqual(
      appended.map((e) => e.event),
      ['Email Delivery Unknown'],
    )
  })

  test('an event log that refuses the append: still sent, the failure counted', async () => {
    const got = await deliver(
      deps({
        events: {
          append: async () => {
            throw new Error('log unavailable')
          },
        },
      }),
      request('dan@example.com'),
    )
    assert.equal(got.outcome.kind, 'sent')
    const errors = (await metrics.deliveryEventErrors.get()).values
    assert.deepEqual(
      errors.map((v) => [v.labels.origin, v.value]),
      [['trigger', 1]],
    )
  })

  test('the same outcome of the same message appended twice is one event to the processor', async () => {
    const req = request('eve@example.com')
    await waitForProcessed(app)
    const dupBefore = await duplicates(app)
    await deliver(deps(), req)
    await deliver(deps(), req)
    assert.equal(appended.length, 2)
    assert.equal(appended[0]?.messageId, appended[1]?.messageId)
    await waitForProcessed(app)
    assert.equal((await duplicates(app)) - dupBefore, 1, 'the second is dropped by the dedupe')
  })
})

async function duplicates(app: TestApp): Promise<number> {
  const values = (await app.metrics.processedEvents.get()).values
  return values.find((v) => v.labels.outcome === 'duplicate')?.value ?? 0
}
