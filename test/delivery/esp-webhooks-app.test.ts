/**
 * The ESP webhooks of a running app (embedded, SQLite), over real HTTP, played by the test as the
 * providers play them: SNS signs with a certificate the test made, served over HTTPS by a local
 * stand-in for sns.<region>.amazonaws.com (trusted through the default agent's CA, allowed by
 * INKSTREAM_SNS_CERT_HOSTS); SendGrid signs with an EC key the test made; Postmark uses basic auth.
 * What each call appends to the event log is checked exactly, and where it lands (the profile's
 * events, the message's analytics row); forged and replayed calls leave the log untouched.
 */
import assert from 'node:assert/strict'
import https from 'node:https'
import { after, before, beforeEach, describe, test } from 'node:test'
import type { InkEvent } from '../../src/core/types.ts'
import { messageIdFor } from '../../src/delivery/deliver.ts'
import { feedbackEventId } from '../../src/delivery/feedback.ts'
import { outcomeEvent } from '../../src/delivery/outcome-events.ts'
import { waitForAnalytics } from '../analytics/analytics-helpers.ts'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import {
  type FakeSns,
  selfSigned,
  sendgridHeaders,
  sendgridKeys,
  sesMail,
  sesNotification,
  snsSigned,
  startFakeSns,
  TOPIC,
} from './esp-fixtures.ts'

const SECRET = 'whsec_0123456789abcdef'
const WS = 'default'
const emailId = messageIdFor(WS, 'spring', 'ann')
const MESSAGE_ID_HEADER = `<${emailId}@mail.shop.example>`
const CERT_PATH = '/SimpleNotificationService-0123456789abcdef.pem'
const OTHER_CERT_PATH = '/SimpleNotificationService-other.pem'

describe('ESP webhooks in the running app', () => {
  const tls = selfSigned()
  const signer = selfSigned('sns.amazonaws.com')
  const sendgrid = sendgridKeys()
  let sns: FakeSns
  let app: TestApp
  let appended: InkEvent[]
  const savedCa = https.globalAgent.options.ca

  const certUrl = () => `https://localhost:${sns.port}${CERT_PATH}`
  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${app.url}${path}`, { method: 'POST', headers, body }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as Record<string, unknown>,
    }))
  const postSns = (message: Record<string, string>, secret = SECRET, ws = WS) =>
    post(`/v1/webhooks/ses/${ws}/${secret}`, JSON.stringify(message), {
      'content-type': 'text/plain; charset=UTF-8',
      'x-amz-sns-message-type': message.Type ?? '',
    })
  const admin = async (path: string) => {
    const r = await fetch(`${app.url}${path}`, {
      headers: { authorization: `Bearer ${app.workspace.adminKey}` },
    })
    assert.equal(r.status, 200, path)
    return (await r.json()) as Record<string, unknown>
  }
  const profileEvents = async (userId: string, name: string) => {
    await waitForProcessed(app)
    const { events } = (await admin(`/v1/profiles/${userId}/events`)) as {
      events: { messageId: string; name: string; data: { properties?: Record<string, unknown> } }[]
    }
    return events.filter((e) => e.name === name)
  }

  before(async () => {
    sns = await startFakeSns(tls)
    sns.serve(CERT_PATH, signer.cert)
    sns.serve(OTHER_CERT_PATH, signer.cert)
    // The app fetches certificates with node:https's default agent: trust the test's server there.
    https.globalAgent.options.ca = [tls.cert]
    app = await startTestApp({
      espWebhookSecrets: `${WS}:${SECRET}`,
      snsCertHosts: `localhost:${sns.port}`,
      sendgridWebhookKey: sendgrid.verificationKey,
      postmarkWebhookAuth: 'inkstream:pm-pass-0123456789',
    })
    const log = app.log
    const append = log.append.bind(log)
    log.append = async (events) => {
      for (const e of events) appended.push('json' in e ? e.event : e)
      return append(events)
    }
    appended = []
    for (const [userId, email] of [
      ['ann', 'ann@example.com'],
      ['bob', 'bob@example.com'],
    ]) {
      const res = await fetch(`${app.url}/v1/identify`, {
        method: 'POST',
        headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
        body: JSON.stringify({ userId, traits: { email } }),
      })
      assert.equal(res.status, 200)
    }
    // The message the feedback is about, as the send path records it (analytics folds its row).
    await log.append([
      outcomeEvent(
        {
          workspaceId: WS,
          origin: 'campaign',
          campaignId: 'spring',
          messageId: emailId,
          userId: 'ann',
          templateId: 'promo',
          templateVersion: 1,
        },
        { kind: 'sent', detail: '250 ok', attempts: 1 },
        Date.now() - 3_600_000,
      ),
    ])
    await waitForProcessed(app)
    await waitForAnalytics(app)
  })
  after(async () => {
    https.globalAgent.options.ca = savedCa
    await app?.close()
    await sns?.close()
  })
  beforeEach(() => {
    appended = []
  })

  test('an SNS subscription confirmation is verified, then confirmed by GETting its SubscribeURL', async () => {
    const subscribeUrl = `https://localhost:${sns.port}/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(TOPIC)}&Token=2336412f37fb687f5d51e6e2425`
    const res = await postSns(
      snsSigned(
        {
          Type: 'SubscriptionConfirmation',
          MessageId: '165545c9-2a5c-472c-8df2-7ff2be2b3b1b',
          Token: '2336412f37fb687f5d51e6e2425',
          TopicArn: TOPIC,
          Message: `You have chosen to subscribe to the topic ${TOPIC}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
          SubscribeURL: subscribeUrl,
          Timestamp: '2026-11-28T11:00:00.000Z',
        },
        signer.key,
        certUrl(),
        '1',
      ),
    )
    assert.deepEqual(res, { status: 200, body: { success: true, confirmed: true } })
    assert.ok(
      sns.requests.includes(subscribeUrl.slice(subscribeUrl.indexOf('/', 8))),
      JSON.stringify(sns.requests),
    )
    assert.equal(appended.length, 0)
  })

  test('an SES bounce lands on the recipient of the message it names, once however often SNS delivers it', async () => {
    const bounce = snsSigned(
      sesNotification('a3a8e4e3-bounce-0001', {
        notificationType: 'Bounce',
        bounce: {
          bounceType: 'Permanent',
          bounceSubType: 'General',
          reportingMTA: 'dns; email.example.com',
          bouncedRecipients: [
            {
              emailAddress: 'ann@example.com',
              status: '5.1.1',
              action: 'failed',
              diagnosticCode: 'smtp; 550 5.1.1 <ann@example.com>... User unknown',
            },
          ],
          timestamp: '2026-11-28T11:59:38.237Z',
          feedbackId: '00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000',
          remoteMtaIp: '127.0.2.0',
        },
        mail: sesMail(MESSAGE_ID_HEADER, 'ann@example.com'),
      }),
      signer.key,
      certUrl(),
      '1',
    )
    const first = await postSns(bounce)
    assert.deepEqual(first, {
      status: 200,
      body: { success: true, received: 1, recorded: 1, unmatched: 0 },
    })
    const id = feedbackEventId(WS, {
      source: 'ses',
      kind: 'bounced',
      feedbackId: '00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000/ann@example.com',
    })
    const properties = {
      origin: 'feedback',
      source: 'ses',
      recipient: 'ann@example.com',
      campaign_id: 'spring',
      email_id: emailId,
      bounce_type: 'hard',
      reason: 'hard_bounce',
      status: '5.1.1',
      diagnostic: 'smtp; 550 5.1.1 <ann@example.com>... User unknown',
    }
    assert.equal(appended.length, 1)
    assert.deepEqual(
      { ...appended[0], receivedAt: 'x' },
      {
        type: 'track',
        event: 'Email Bounced',
        messageId: id,
        workspaceId: WS,
        userId: 'ann',
        properties,
        timestamp: '2026-11-28T11:59:38.237Z',
        receivedAt: 'x',
      },
    )
    // SNS retries (or the same bounce arrives again): appended again with the same id, applied once.
    assert.equal((await postSns(bounce)).status, 200)
    assert.equal(appended.length, 2)
    assert.equal(appended[1]?.messageId, id)
    const events = await profileEvents('ann', 'Email Bounced')
    assert.deepEqual(
      events.map((e) => [e.messageId, e.data.properties]),
      [[id, properties]],
    )
    await waitForAnalytics(app)
    // Analytics folded the bounce into the message's row (once: the retry's id was already counted).
    const { messages } = (await admin('/v1/profiles/ann/messages')) as {
      messages: { emailId: string; outcome: string }[]
    }
    assert.deepEqual(
      messages.map((m) => [m.emailId, m.outcome]),
      [[emailId, 'bounced']],
    )
  })

  test('an SES complaint without our headers is matched by the address (SignatureVersion 2)', async () => {
    const res = await postSns(
      snsSigned(
        sesNotification('complaint-0001', {
          notificationType: 'Complaint',
          complaint: {
            userAgent: 'AnyCompany Feedback Loop (V0.01)',
            complainedRecipients: [{ emailAddress: 'bob@example.com' }],
            complaintFeedbackType: 'abuse',
            arrivalDate: '2026-11-28T11:50:00.000Z',
            timestamp: '2026-11-28T11:51:00.000Z',
            feedbackId: '000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000',
          },
          mail: { ...sesMail(undefined, 'bob@example.com'), headers: undefined, commonHeaders: undefined },
        }),
        signer.key,
        certUrl(),
        '2',
      ),
    )
    assert.equal(res.status, 200)
    assert.equal(res.body.recorded, 1)
    const [event] = await profileEvents('bob', 'Email Complained')
    assert.deepEqual(event?.data.properties, {
      origin: 'feedback',
      source: 'ses',
      recipient: 'bob@example.com',
      complaint_type: 'abuse',
    })
  })

  test('SES event publishing: a click lands as an ESP click of the message; an unsubscribe confirmation records nothing', async () => {
    const click = await postSns(
      snsSigned(
        sesNotification('click-0001', {
          eventType: 'Click',
          mail: sesMail(MESSAGE_ID_HEADER, 'ann@example.com'),
          click: {
            ipAddress: '192.0.2.1',
            link: 'https://shop.example/lamp',
            linkTags: { samplekey0: ['samplevalue0'] },
            timestamp: '2026-11-28T11:59:50.000Z',
            userAgent: 'Mozilla/5.0',
          },
        }),
        signer.key,
        certUrl(),
      ),
    )
    assert.equal(click.status, 200)
    assert.deepEqual(
      appended.map((e) => [e.event, e.userId, e.timestamp, e.properties]),
      [
        [
          'Email Link Clicked',
          'ann',
          '2026-11-28T11:59:50.000Z',
          {
            origin: 'feedback',
            source: 'ses',
            recipient: 'ann@example.com',
            campaign_id: 'spring',
            email_id: emailId,
            click_kind: 'esp',
            url: 'https://shop.example/lamp',
          },
        ],
      ],
    )
    appended = []
    const unsubscribed = await postSns(
      snsSigned(
        {
          Type: 'UnsubscribeConfirmation',
          MessageId: '47138184-6831-46b8-8f7c-afc488602d7d',
          Token: '2336412f37fb687f5d51e6e2425',
          TopicArn: TOPIC,
          Message: `You have chosen to deactivate subscription ${TOPIC}:1.`,
          SubscribeURL: `https://localhost:${sns.port}/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=2336412f37fb687f5d51e6e2425`,
          Timestamp: '2026-11-28T12:00:00.000Z',
        },
        signer.key,
        certUrl(),
      ),
    )
    assert.deepEqual(unsubscribed, { status: 200, body: { success: true } })
    assert.equal(appended.length, 0)
  })

  test('SES delivery delays are recorded as delays: three of them neither suppress the recipient nor count as soft bounces', async () => {
    const res = await fetch(`${app.url}/v1/identify`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'cyd', traits: { email: 'cyd@example.com' } }),
    })
    assert.equal(res.status, 200)
    appended = []
    // SES publishes a DeliveryDelay each time it retries; the default soft-bounce limit is 3.
    for (const n of [1, 2, 3]) {
      const delayed = await postSns(
        snsSigned(
          sesNotification(`delay-000${n}`, {
            eventType: 'DeliveryDelay',
            mail: { ...sesMail(undefined, 'cyd@example.com'), headers: undefined, commonHeaders: undefined },
            deliveryDelay: {
              timestamp: `2026-11-28T12:0${n}:00.000Z`,
              delayType: 'MailboxFull',
              expirationTime: '2026-11-29T12:00:00.000Z',
              delayedRecipients: [
                {
                  emailAddress: 'cyd@example.com',
                  status: '4.2.2',
                  diagnosticCode: 'smtp; 452 4.2.2 Mailbox full',
                },
              ],
            },
          }),
          signer.key,
          certUrl(),
        ),
      )
      assert.deepEqual(delayed, {
        status: 200,
        body: { success: true, received: 1, recorded: 1, unmatched: 0 },
      })
    }
    await waitForProcessed(app)
    const suppressed = await fetch(`${app.url}/v1/suppressions/cyd@example.com`, {
      headers: { authorization: `Bearer ${app.workspace.adminKey}` },
    })
    assert.equal(suppressed.status, 404, 'a slow mailbox is not suppressed')
    const { traits } = (await admin('/v1/profiles/cyd')) as { traits: Record<string, unknown> }
    assert.deepEqual([traits.email_status, traits.email_soft_bounces], [undefined, undefined])
    assert.deepEqual(
      appended.map((e) => [e.event, e.userId, e.properties?.delay_type, e.properties?.status]),
      Array.from({ length: 3 }, () => ['Email Delivery Delayed', 'cyd', 'MailboxFull', '4.2.2']),
    )
    assert.equal((await profileEvents('cyd', 'Email Delivery Delayed')).length, 3)
  })

  test('forged SNS calls are refused with 401 and record nothing', async () => {
    const unsigned = sesNotification('forged-0001', {
      notificationType: 'Bounce',
      bounce: {
        bounceType: 'Permanent',
        bouncedRecipients: [{ emailAddress: 'ann@example.com', status: '5.1.1' }],
        timestamp: '2026-11-28T11:59:00.000Z',
        feedbackId: 'forged',
      },
      mail: sesMail(MESSAGE_ID_HEADER, 'ann@example.com'),
    })
    const good = snsSigned(unsigned, signer.key, certUrl())
    const otherKey = selfSigned('attacker').key
    const forged = [
      // The body changed after signing.
      { ...good, Message: good.Message?.replace('Permanent', 'Transient') ?? '' },
      // Signed by another key.
      snsSigned(unsigned, otherKey, certUrl()),
      // The certificate on a host that is not SNS's (the same server under another name).
      snsSigned(unsigned, signer.key, `https://127.0.0.1:${sns.port}${OTHER_CERT_PATH}`),
      // Not https.
      snsSigned(unsigned, signer.key, `http://localhost:${sns.port}${OTHER_CERT_PATH}`),
    ]
    for (const m of forged) {
      const res = await postSns(m)
      assert.equal(res.status, 401, JSON.stringify(res.body))
      assert.equal(res.body.code, 'INK_ERR_WEBHOOK_UNAUTHORIZED')
    }
    // The certificate of a refused URL was never fetched.
    assert.ok(!sns.requests.includes(OTHER_CERT_PATH), JSON.stringify(sns.requests))
    for (const [secret, ws] of [
      ['whsec_wrong_wrong_wrong', WS],
      [SECRET, 'other'],
    ] as const) {
      const res = await postSns(good, secret, ws)
      assert.equal(res.status, 401)
      assert.equal(res.body.code, 'INK_ERR_WEBHOOK_UNAUTHORIZED')
    }
    // A certificate that cannot be fetched now: 503, SNS delivers again later.
    const unreachable = await postSns(
      snsSigned(unsigned, signer.key, `https://localhost:${sns.port}/SimpleNotificationService-gone.pem`),
    )
    assert.equal(unreachable.status, 503)
    assert.equal(unreachable.body.code, 'INK_ERR_WEBHOOK_UNVERIFIABLE')
    const malformed = await post(`/v1/webhooks/ses/${WS}/${SECRET}`, '{"Type": "Notification"', {
      'content-type': 'text/plain',
    })
    assert.equal(malformed.status, 400)
    assert.equal(malformed.body.code, 'INK_ERR_WEBHOOK_MALFORMED')
    assert.equal(appended.length, 0)
  })

  const sendgridBody = JSON.stringify([
    {
      email: 'ann@example.com',
      timestamp: 1764331200,
      'smtp-id': MESSAGE_ID_HEADER,
      event: 'bounce',
      category: 'spring',
      sg_event_id: 'Z2JhbmRfZXZlbnRfaWQ=',
      sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0',
      reason: '500 unknown recipient',
      status: '5.0.0',
      type: 'bounce',
    },
    {
      email: 'bob@example.com',
      timestamp: 1764331260,
      'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
      event: 'deferred',
      sg_event_id: 'ZGVmZXJyZWRfZXZlbnQ=',
      sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0',
      response: '400 4.2.2 try again later',
      attempt: '5',
    },
    {
      email: 'bob@example.com',
      timestamp: 1764331300,
      event: 'click',
      sg_event_id: 'Y2xpY2tfZXZlbnQ=',
      sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0',
      useragent: 'Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)',
      ip: '255.255.255.255',
      url: 'https://shop.example/lamp',
    },
    { email: 'ann@example.com', timestamp: 1764331200, event: 'processed', sg_event_id: 'cHJvY2Vzc2Vk' },
  ])
  const sendgridUrl = `/v1/webhooks/sendgrid/${WS}/${SECRET}`

  test('signed SendGrid events become a bounce, a delivery delay and an ESP click', async () => {
    const now = Math.floor(Date.now() / 1000)
    const res = await post(sendgridUrl, sendgridBody, sendgridHeaders(sendgrid.privateKey, sendgridBody, now))
    assert.deepEqual(res, { status: 200, body: { success: true, received: 3, recorded: 3, unmatched: 0 } })
    assert.deepEqual(
      appended.map((e) => [e.event, e.userId, e.messageId, e.timestamp, e.properties]),
      [
        [
          'Email Bounced',
          'ann',
          feedbackEventId(WS, { source: 'sendgrid', kind: 'bounced', feedbackId: 'Z2JhbmRfZXZlbnRfaWQ=' }),
          new Date(1764331200_000).toISOString(),
          {
            origin: 'feedback',
            source: 'sendgrid',
            recipient: 'ann@example.com',
            campaign_id: 'spring',
            email_id: emailId,
            bounce_type: 'hard',
            reason: 'hard_bounce',
            status: '5.0.0',
            diagnostic: '500 unknown recipient',
          },
        ],
        [
          'Email Delivery Delayed',
          'bob',
          feedbackEventId(WS, { source: 'sendgrid', kind: 'delayed', feedbackId: 'ZGVmZXJyZWRfZXZlbnQ=' }),
          new Date(1764331260_000).toISOString(),
          {
            origin: 'feedback',
            source: 'sendgrid',
            recipient: 'bob@example.com',
            status: '4.2.2',
            diagnostic: '400 4.2.2 try again later',
            attempt: 5,
          },
        ],
        [
          'Email Link Clicked',
          'bob',
          feedbackEventId(WS, { source: 'sendgrid', kind: 'clicked', feedbackId: 'Y2xpY2tfZXZlbnQ=' }),
          new Date(1764331300_000).toISOString(),
          {
            origin: 'feedback',
            source: 'sendgrid',
            recipient: 'bob@example.com',
            click_kind: 'esp',
            url: 'https://shop.example/lamp',
          },
        ],
      ],
    )
  })

  test('a SendGrid call with a bad signature, no signature or an old timestamp is refused and records nothing', async () => {
    const now = Math.floor(Date.now() / 1000)
    const signed = sendgridHeaders(sendgrid.privateKey, sendgridBody, now)
    const cases: [Record<string, string>, string, string][] = [
      [signed, sendgridBody.replace('5.0.0', '4.0.0'), 'INK_ERR_WEBHOOK_UNAUTHORIZED'],
      [
        sendgridHeaders(sendgridKeys().privateKey, sendgridBody, now),
        sendgridBody,
        'INK_ERR_WEBHOOK_UNAUTHORIZED',
      ],
      [{ 'content-type': 'application/json' }, sendgridBody, 'INK_ERR_WEBHOOK_UNAUTHORIZED'],
      [
        { ...signed, 'x-twilio-email-event-webhook-timestamp': String(now - 1) },
        sendgridBody,
        'INK_ERR_WEBHOOK_UNAUTHORIZED',
      ],
      [
        sendgridHeaders(sendgrid.privateKey, sendgridBody, now - 11 * 60),
        sendgridBody,
        'INK_ERR_WEBHOOK_REPLAYED',
      ],
    ]
    for (const [headers, body, code] of cases) {
      const res = await post(sendgridUrl, body, headers)
      assert.equal(res.status, 401, JSON.stringify(res.body))
      assert.equal(res.body.code, code)
    }
    // A wrong URL secret is refused before the body is read: 401, not 413 for a 6 MB body.
    const big = await post(
      `/v1/webhooks/sendgrid/${WS}/whsec_wrong_wrong_wrong`,
      'x'.repeat(6 * 1024 * 1024),
      signed,
    )
    assert.equal(big.status, 401)
    assert.equal(big.body.code, 'INK_ERR_WEBHOOK_UNAUTHORIZED')
    const notArray = '{"event":"bounce"}'
    const res = await post(sendgridUrl, notArray, sendgridHeaders(sendgrid.privateKey, notArray, now))
    assert.equal(res.status, 400)
    assert.equal(res.body.code, 'INK_ERR_WEBHOOK_MALFORMED')
    assert.equal(appended.length, 0)
  })

  const postmarkUrl = `/v1/webhooks/postmark/${WS}/${SECRET}`
  const postmarkAuth = `Basic ${Buffer.from('inkstream:pm-pass-0123456789').toString('base64')}`

  test('Postmark bounce, spam complaint and delivery records, with basic auth', async () => {
    const records = [
      {
        RecordType: 'Bounce',
        MessageStream: 'outbound',
        // A 64-bit id, as in Postmark's sample: written into the body as digits (below).
        ID: '__BIG_ID__',
        Type: 'HardBounce',
        TypeCode: 1,
        Name: 'Hard bounce',
        Tag: 'spring',
        MessageID: '883953f4-6105-42a2-a16a-77a8eac79483',
        Metadata: { ink_email_id: emailId },
        ServerID: 23,
        Description: 'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
        Details: 'smtp;550 5.1.1 The email account that you tried to reach does not exist.',
        Email: 'ann@example.com',
        From: 'news@shop.example',
        BouncedAt: '2026-11-28T11:40:00.000Z',
        DumpAvailable: true,
        Inactive: true,
        CanActivate: true,
        Subject: 'Spring sale',
      },
      {
        RecordType: 'SpamComplaint',
        MessageStream: 'outbound',
        ID: 42,
        Type: 'SpamComplaint',
        TypeCode: 512,
        Name: 'Spam complaint',
        Tag: '',
        MessageID: '00000000-0000-0000-0000-000000000000',
        Metadata: {},
        ServerID: 1234,
        Description: 'The subscriber explicitly marked this message as spam.',
        Details: 'Test spam complaint details',
        Email: 'bob@example.com',
        From: 'news@shop.example',
        BouncedAt: '2026-11-28T11:41:00.000Z',
        DumpAvailable: true,
        Inactive: true,
        CanActivate: false,
        Subject: 'Spring sale',
      },
      {
        RecordType: 'Delivery',
        ServerID: 23,
        MessageStream: 'outbound',
        MessageID: '883953f4-6105-42a2-a16a-77a8eac79483',
        Recipient: 'bob@example.com',
        Tag: 'spring',
        DeliveredAt: '2026-11-28T11:42:00.000Z',
        Details: 'Test delivery webhook details',
        Metadata: {},
      },
    ]
    for (const r of records) {
      const body = JSON.stringify(r).replace('"__BIG_ID__"', '4323372036854775807')
      const res = await post(postmarkUrl, body, {
        'content-type': 'application/json',
        authorization: postmarkAuth,
      })
      assert.equal(res.status, 200, JSON.stringify(res.body))
    }
    assert.deepEqual(
      appended.map((e) => [e.event, e.userId, e.messageId, e.timestamp, e.properties]),
      [
        [
          'Email Bounced',
          'ann',
          feedbackEventId(WS, {
            source: 'postmark',
            kind: 'bounced',
            feedbackId: 'bounce:4323372036854775807',
          }),
          '2026-11-28T11:40:00.000Z',
          {
            origin: 'feedback',
            source: 'postmark',
            recipient: 'ann@example.com',
            campaign_id: 'spring',
            email_id: emailId,
            bounce_type: 'hard',
            reason: 'hard_bounce',
            status: '5.1.1',
            diagnostic:
              'The server was unable to deliver your message (ex: unknown user, mailbox not found).: smtp;550 5.1.1 The email account that you tried to reach does not exist.',
          },
        ],
        [
          'Email Complained',
          'bob',
          feedbackEventId(WS, { source: 'postmark', kind: 'complained', feedbackId: 'bounce:42' }),
          '2026-11-28T11:41:00.000Z',
          { origin: 'feedback', source: 'postmark', recipient: 'bob@example.com', complaint_type: 'abuse' },
        ],
        [
          'Email Delivered',
          'bob',
          feedbackEventId(WS, {
            source: 'postmark',
            kind: 'delivered',
            feedbackId: `883953f4-6105-42a2-a16a-77a8eac79483:Delivery:bob@example.com:${Date.parse('2026-11-28T11:42:00.000Z')}`,
          }),
          '2026-11-28T11:42:00.000Z',
          { origin: 'feedback', source: 'postmark', recipient: 'bob@example.com' },
        ],
      ],
    )
  })

  test('Postmark calls with wrong or missing credentials are refused and record nothing', async () => {
    const body = JSON.stringify({ RecordType: 'Bounce', ID: 7, Type: 'HardBounce', Email: 'ann@example.com' })
    for (const authorization of [
      `Basic ${Buffer.from('inkstream:wrong').toString('base64')}`,
      `Basic ${Buffer.from('someone:pm-pass-0123456789').toString('base64')}`,
      'Bearer pm-pass-0123456789',
      undefined,
    ]) {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (authorization !== undefined) headers.authorization = authorization
      const res = await post(postmarkUrl, body, headers)
      assert.equal(res.status, 401)
      assert.equal(res.body.code, 'INK_ERR_WEBHOOK_UNAUTHORIZED')
    }
    assert.equal(appended.length, 0)
  })

  test('feedback is counted by source, kind and result in /metrics', async () => {
    const text = await (await fetch(`${app.url}/metrics`)).text()
    assert.match(text, /^inkstream_feedback_total\{source="ses",kind="bounced",result="recorded"\} 2$/m)
    assert.match(text, /^inkstream_feedback_total\{source="sendgrid",kind="clicked",result="recorded"\} 1$/m)
    assert.ok(!text.includes(SECRET))
  })
})

describe('ESP webhooks not configured', () => {
  test('answer 404 INK_ERR_WEBHOOK_NOT_CONFIGURED, naming the setting', async () => {
    const app = await startTestApp({ espWebhookSecrets: `${WS}:${SECRET}` })
    try {
      for (const [path, setting] of [
        [`/v1/webhooks/sendgrid/${WS}/${SECRET}`, 'INKSTREAM_SENDGRID_WEBHOOK_KEY'],
        [`/v1/webhooks/postmark/${WS}/${SECRET}`, 'INKSTREAM_POSTMARK_WEBHOOK_AUTH'],
      ] as const) {
        const res = await fetch(`${app.url}${path}`, { method: 'POST', body: '[]' })
        const body = (await res.json()) as { code: string; message: string }
        assert.equal(res.status, 404)
        assert.equal(body.code, 'INK_ERR_WEBHOOK_NOT_CONFIGURED')
        assert.match(body.message, new RegExp(setting))
      }
    } finally {
      await app.close()
    }
    const bare = await startTestApp()
    try {
      const res = await fetch(`${bare.url}/v1/webhooks/ses/${WS}/${SECRET}`, { method: 'POST', body: '{}' })
      assert.equal(res.status, 404)
      assert.match(((await res.json()) as { message: string }).message, /INKSTREAM_ESP_WEBHOOK_SECRETS/)
    } finally {
      await bare.close()
    }
  })
})
