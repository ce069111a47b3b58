/**
 * The ESP webhooks' pure parts: each provider's documented events mapped onto Feedback, SNS's
 * string to sign, and the settings' parsers (the production SNS host rule, secrets never echoed).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { InkError } from '../../src/core/errors.ts'
import {
  DEFAULT_SNS_CERT_HOSTS,
  espWebhookSettings,
  knownSecret,
  parseHostPatterns,
  parseWebhookSecrets,
} from '../../src/delivery/esp/esp-config.ts'
import { postmarkFeedback } from '../../src/delivery/esp/postmark.ts'
import { sendgridFeedback } from '../../src/delivery/esp/sendgrid.ts'
import { sesFeedback } from '../../src/delivery/esp/ses.ts'
import { parseSnsMessage, type SnsMessage, snsStringToSign } from '../../src/delivery/esp/sns.ts'
import { sendgridKeys, sesMail } from './esp-fixtures.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')
const ID = `ink-c.${'0a1b'.repeat(10)}`
const malformed = (err: unknown) => err instanceof InkError && err.code === 'INK_ERR_WEBHOOK_MALFORMED'

describe('SES notifications', () => {
  const mail = sesMail(`<${ID}@mail.shop.example>`, 'a@example.com')

  test('a bounce gives one feedback per bounced recipient, hard or soft by bounceType', () => {
    const bounce = (bounceType: string, status?: string) =>
      sesFeedback(
        JSON.stringify({
          notificationType: 'Bounce',
          bounce: {
            bounceType,
            bounceSubType: 'General',
            bouncedRecipients: [
              { emailAddress: 'a@example.com', status, diagnosticCode: 'smtp; 550 5.1.1 no' },
              { emailAddress: 'B@example.com' },
            ],
            timestamp: '2026-11-28T11:00:00.000Z',
            feedbackId: 'fb',
          },
          mail,
        }),
        'sns-1',
        NOW,
      )
    const hard = bounce('Permanent', '5.1.1')
    assert.deepEqual(hard[0], {
      source: 'ses',
      kind: 'bounced',
      feedbackId: 'fb/a@example.com',
      emailId: ID,
      recipient: 'a@example.com',
      at: Date.parse('2026-11-28T11:00:00.000Z'),
      bounce: { type: 'hard', status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 no' },
    })
    assert.equal(hard[1]?.feedbackId, 'fb/b@example.com')
    assert.equal(hard[1]?.bounce?.type, 'hard')
    assert.equal(bounce('Transient', '5.1.1')[0]?.bounce?.type, 'soft')
    // Undetermined: the status class decides; none → soft.
    assert.equal(bounce('Undetermined', '5.1.1')[0]?.bounce?.type, 'hard')
    assert.equal(bounce('Undetermined')[0]?.bounce?.type, 'soft')
  })

  test('event publishing: Delivery, Open, Click, DeliveryDelay; other types are ignored', () => {
    const one = (n: object) => sesFeedback(JSON.stringify({ ...n, mail }), 'sns-2', NOW)
    const delivered = one({
      eventType: 'Delivery',
      delivery: { timestamp: '2026-11-28T11:00:01Z', recipients: ['a@example.com'] },
    })
    assert.deepEqual(
      delivered.map((f) => [f.kind, f.recipient, f.feedbackId, f.emailId]),
      [['delivered', 'a@example.com', 'sns-2/a@example.com', ID]],
    )
    const click = one({
      eventType: 'Click',
      click: { link: 'https://shop.example/x', timestamp: '2026-11-28T11:00:02Z' },
    })
    assert.deepEqual(
      [click[0]?.kind, click[0]?.url, click[0]?.at],
      ['clicked', 'https://shop.example/x', Date.parse('2026-11-28T11:00:02Z')],
    )
    assert.equal(one({ eventType: 'Open', open: { timestamp: '2026-11-28T11:00:03Z' } })[0]?.kind, 'opened')
    const delay = one({
      eventType: 'DeliveryDelay',
      deliveryDelay: {
        delayType: 'TransientCommunicationFailure',
        delayedRecipients: [{ emailAddress: 'a@example.com', status: '4.4.7', diagnosticCode: 'timeout' }],
      },
    })
    // SES is still retrying: a delay, not a (soft) bounce.
    assert.equal(delay[0]?.kind, 'delayed')
    assert.equal(delay[0]?.bounce, undefined)
    assert.deepEqual(delay[0]?.delay, {
      type: 'TransientCommunicationFailure',
      status: '4.4.7',
      diagnostic: 'timeout',
    })
    assert.equal(delay[0]?.at, NOW)
    for (const type of ['Send', 'Reject', 'Rendering Failure', 'AmazonSnsSubscriptionSucceeded'])
      assert.deepEqual(one({ eventType: type }), [])
  })

  test('our email id is read from commonHeaders or from the Message-ID header; a complaint keeps its type', () => {
    const headersOnly = { ...mail, commonHeaders: {} }
    const [c] = sesFeedback(
      JSON.stringify({
        notificationType: 'Complaint',
        complaint: {
          complainedRecipients: [{ emailAddress: 'a@example.com' }],
          complaintFeedbackType: 'not-spam',
          feedbackId: 'cf',
        },
        mail: headersOnly,
      }),
      'sns-3',
      NOW,
    )
    assert.deepEqual(
      [c?.kind, c?.emailId, c?.complaint, c?.feedbackId],
      ['complained', ID, { type: 'not-spam' }, 'cf/a@example.com'],
    )
  })

  test('a message that is not an SES notification is malformed', () => {
    for (const m of [
      'nope',
      '[]',
      '{}',
      '{"notificationType":"Bounce","bounce":{}}',
      '{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{}]}}',
    ])
      assert.throws(() => sesFeedback(m, 'x', NOW), malformed, m)
  })
})

describe('SNS messages', () => {
  const base = {
    MessageId: 'm',
    TopicArn: 'arn:aws:sns:us-east-1:1:t',
    Message: 'hello\nworld',
    Timestamp: '2026-11-28T11:00:00.000Z',
    SignatureVersion: '1' as const,
    Signature: 'c2ln',
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem',
  }

  test('the string to sign lists the documented fields in order; Subject only when present', () => {
    const n: SnsMessage = { ...base, Type: 'Notification' }
    assert.equal(
      snsStringToSign(n),
      'Message\nhello\nworld\nMessageId\nm\nTimestamp\n2026-11-28T11:00:00.000Z\nTopicArn\narn:aws:sns:us-east-1:1:t\nType\nNotification\n',
    )
    assert.match(
      snsStringToSign({ ...n, Subject: 'Hi' }),
      /^Message\nhello\nworld\nMessageId\nm\nSubject\nHi\nTimestamp/,
    )
    const c: SnsMessage = {
      ...base,
      Type: 'SubscriptionConfirmation',
      SubscribeURL: 'https://s/',
      Token: 'tok',
    }
    assert.equal(
      snsStringToSign(c),
      'Message\nhello\nworld\nMessageId\nm\nSubscribeURL\nhttps://s/\nTimestamp\n2026-11-28T11:00:00.000Z\nToken\ntok\nTopicArn\narn:aws:sns:us-east-1:1:t\nType\nSubscriptionConfirmation\n',
    )
  })

  test('a body without the fields of its type, or of an unknown type or version, is malformed', () => {
    const ok = JSON.stringify({ ...base, Type: 'Notification', Subject: null })
    assert.equal(parseSnsMessage(ok).Type, 'Notification')
    for (const bad of [
      '{',
      '[]',
      JSON.stringify({ ...base, Type: 'Other' }),
      JSON.stringify({ ...base, Type: 'SubscriptionConfirmation' }),
      JSON.stringify({ ...base, Type: 'Notification', SignatureVersion: '3' }),
      JSON.stringify({ ...base, Type: 'Notification', Signature: 5 }),
    ])
      assert.throws(() => parseSnsMessage(bad), malformed, bad)
  })
})

describe('SendGrid events', () => {
  const event = (e: object) =>
    sendgridFeedback(
      Buffer.from(
        JSON.stringify([{ email: 'a@example.com', timestamp: 1764331200, sg_event_id: 'e1', ...e }]),
      ),
      NOW,
    )

  test('bounce, blocked, dropped, deferred, spamreport, open and click map as documented', () => {
    assert.deepEqual(
      event({
        event: 'bounce',
        type: 'bounce',
        status: '5.1.1',
        reason: 'no such user',
        'smtp-id': `<${ID}@x.example>`,
      })[0],
      {
        source: 'sendgrid',
        feedbackId: 'e1',
        emailId: ID,
        recipient: 'a@example.com',
        at: 1764331200_000,
        kind: 'bounced',
        bounce: { type: 'hard', status: '5.1.1', diagnostic: 'no such user' },
      },
    )
    assert.equal(event({ event: 'bounce', type: 'blocked', status: '5.7.1' })[0]?.bounce?.type, 'soft')
    assert.equal(event({ event: 'bounce', type: 'bounce', status: '4.2.2' })[0]?.bounce?.type, 'soft')
    assert.deepEqual(event({ event: 'dropped', reason: 'Bounced Address' })[0]?.bounce, {
      type: 'hard',
      status: undefined,
      diagnostic: 'Bounced Address',
    })
    assert.equal(event({ event: 'dropped', reason: 'Spam Reporting Address' })[0]?.kind, 'complained')
    // SendGrid retries and posts one `deferred` per attempt: a delay, not a bounce.
    const deferred = event({ event: 'deferred', response: '421 4.4.2 try later', attempt: '3' })[0]
    assert.deepEqual([deferred?.kind, deferred?.bounce], ['delayed', undefined])
    assert.deepEqual(deferred?.delay, { status: '4.4.2', diagnostic: '421 4.4.2 try later', attempt: 3 })
    assert.equal(event({ event: 'deferred', attempt: 'x' })[0]?.delay?.attempt, undefined)
    assert.deepEqual(event({ event: 'spamreport' })[0]?.complaint, { type: 'abuse' })
    assert.equal(event({ event: 'open' })[0]?.kind, 'opened')
    assert.equal(event({ event: 'click', url: 'https://x.example/' })[0]?.url, 'https://x.example/')
    assert.deepEqual(event({ event: 'processed' }), [])
    assert.deepEqual(event({ event: 'group_unsubscribe' }), [])
  })

  test('an event without sg_event_id is named by its content; bodies that are not event arrays are malformed', () => {
    const a = sendgridFeedback(Buffer.from('[{"email":"a@example.com","event":"open","timestamp":1}]'), NOW)
    const b = sendgridFeedback(Buffer.from('[{"email":"a@example.com","event":"open","timestamp":1}]'), NOW)
    assert.equal(a[0]?.feedbackId, b[0]?.feedbackId)
    assert.match(a[0]?.feedbackId ?? '', /^[0-9a-f]{32}$/)
    for (const bad of ['{', '{}', '[1]', '[{"event":"open"}]'])
      assert.throws(() => sendgridFeedback(Buffer.from(bad), NOW), malformed, bad)
  })
})

describe('Postmark records', () => {
  const record = (r: object) =>
    postmarkFeedback(Buffer.from(JSON.stringify({ MessageID: 'pm-1', ...r })), NOW)

  test('bounce types map to hard, soft, complaint or nothing', () => {
    const type = (t: string) => record({ RecordType: 'Bounce', ID: 1, Type: t, Email: 'a@example.com' })[0]
    for (const t of ['HardBounce', 'BadEmailAddress', 'ManuallyDeactivated'])
      assert.equal(type(t)?.bounce?.type, 'hard', t)
    for (const t of ['SoftBounce', 'DnsError', 'Blocked', 'DMARCPolicy', 'Unknown'])
      assert.equal(type(t)?.bounce?.type, 'soft', t)
    assert.equal(type('SpamNotification')?.kind, 'complained')
    // "Message delayed/Undeliverable": Postmark still tries, so a delay, never a bounce.
    const transient = record({
      RecordType: 'Bounce',
      ID: 9,
      Type: 'Transient',
      Email: 'a@example.com',
      Description: 'The server could not temporarily deliver your message',
      Details: '421 4.4.2 connection timed out',
    })
    assert.deepEqual(transient, [
      {
        source: 'postmark',
        feedbackId: 'bounce:9',
        emailId: undefined,
        recipient: 'a@example.com',
        at: NOW,
        kind: 'delayed',
        delay: {
          type: 'Transient',
          status: '4.4.2',
          diagnostic: 'The server could not temporarily deliver your message: 421 4.4.2 connection timed out',
        },
      },
    ])
    for (const t of [
      'AutoResponder',
      'Subscribe',
      'Unsubscribe',
      'AddressChange',
      'ChallengeVerification',
      'VirusNotification',
      'OpenRelayTest',
    ])
      assert.equal(type(t), undefined, t)
  })

  test('our email id from Metadata or the bounce dump; opens and clicks keep apart per link', () => {
    assert.equal(
      record({
        RecordType: 'Bounce',
        ID: 2,
        Type: 'HardBounce',
        Email: 'a@example.com',
        Metadata: { 'ink-email-id': ID },
      })[0]?.emailId,
      ID,
    )
    const dump = `Return-Path: <>\r\nMessage-ID: <${ID}@mail.shop.example>\r\n`
    assert.equal(
      record({ RecordType: 'Bounce', ID: 3, Type: 'HardBounce', Email: 'a@example.com', Content: dump })[0]
        ?.emailId,
      ID,
    )
    const open = record({
      RecordType: 'Open',
      Recipient: 'a@example.com',
      ReceivedAt: '2026-11-28T11:00:00Z',
      FirstOpen: true,
    })[0]
    assert.deepEqual([open?.kind, open?.at], ['opened', Date.parse('2026-11-28T11:00:00Z')])
    const click = (link: string) =>
      record({
        RecordType: 'Click',
        Recipient: 'a@example.com',
        ReceivedAt: '2026-11-28T11:00:00Z',
        OriginalLink: link,
      })[0]
    assert.equal(click('https://a.example/')?.url, 'https://a.example/')
    assert.notEqual(click('https://a.example/')?.feedbackId, click('https://b.example/')?.feedbackId)
    assert.deepEqual(record({ RecordType: 'SubscriptionChange', Recipient: 'a@example.com' }), [])
  })

  test('records without a RecordType or a recipient are malformed', () => {
    for (const bad of ['{', '[]', '{"Email":"a@example.com"}', '{"RecordType":"Bounce","Type":"HardBounce"}'])
      assert.throws(() => postmarkFeedback(Buffer.from(bad), NOW), malformed, bad)
  })
})

describe('ESP webhook settings', () => {
  test("production's SNS host rule takes SNS's regional hosts and nothing that merely contains them", () => {
    const r = parseHostPatterns(DEFAULT_SNS_CERT_HOSTS)
    assert.ok(r.ok)
    const allow = r.value
    for (const h of [
      'sns.us-east-1.amazonaws.com',
      'SNS.eu-west-1.amazonaws.com',
      'sns.cn-north-1.amazonaws.com.cn',
    ])
      assert.equal(allow(h), true, h)
    for (const h of [
      'sns.us-east-1.amazonaws.com.evil.example',
      'evilsns.us-east-1.amazonaws.com',
      'sns.us-east-1.amazonaws.com:8443',
      'sns.a.b.amazonaws.com',
      'sqs.us-east-1.amazonaws.com',
      'localhost',
    ])
      assert.equal(allow(h), false, h)
    const local = parseHostPatterns('localhost:8443')
    assert.ok(
      local.ok &&
        local.value('localhost:8443') &&
        !local.value('localhost:8444') &&
        !local.value('localhost'),
    )
  })

  test('workspace secrets: several per workspace, a bare one for the configured workspace, checked per workspace', () => {
    const settings = espWebhookSettings({
      workspaceId: 'main',
      espWebhookSecrets: 'aaaaaaaaaaaaaaaa1, shop:bbbbbbbbbbbbbbbb2,shop:cccccccccccccccc3',
      snsCertHosts: DEFAULT_SNS_CERT_HOSTS,
    })
    assert.equal(knownSecret(settings, 'main', 'aaaaaaaaaaaaaaaa1'), true)
    assert.equal(knownSecret(settings, 'shop', 'bbbbbbbbbbbbbbbb2'), true)
    assert.equal(knownSecret(settings, 'shop', 'cccccccccccccccc3'), true)
    assert.equal(knownSecret(settings, 'shop', 'aaaaaaaaaaaaaaaa1'), false)
    assert.equal(knownSecret(settings, 'other', 'bbbbbbbbbbbbbbbb2'), false)
    const bad = parseWebhookSecrets('shop:short-secret-value!,Bad Space:aaaaaaaaaaaaaaaa', 'x')
    assert.ok(!bad.ok)
    assert.equal(bad.problems.length, 2)
    assert.ok(!bad.problems.join(' ').includes('short-secret-value'), 'a problem never echoes the secret')
    // Written the wrong way round, the secret is where the workspace goes: not echoed either.
    const reversed = parseWebhookSecrets('Secret0123456789ABCD:shop', 'x')
    assert.ok(!reversed.ok)
    assert.match(reversed.problems[0]!, /entry 1: the part before ":" is not a workspace id/)
    assert.ok(!reversed.problems[0]!.includes('Secret0123456789ABCD'))
  })

  test('bad values are configuration errors, each named by its variable', () => {
    assert.throws(
      () =>
        loadConfig({
          INKSTREAM_ESP_WEBHOOK_SECRETS: 'default:tooshort',
          INKSTREAM_SNS_CERT_HOSTS: 'https://sns.example',
          INKSTREAM_SENDGRID_WEBHOOK_KEY: 'bm90IGEga2V5',
          INKSTREAM_POSTMARK_WEBHOOK_AUTH: 'nopassword',
        }),
      (err: unknown) => {
        assert.ok(err instanceof InkError)
        for (const v of [
          'ESP_WEBHOOK_SECRETS',
          'SNS_CERT_HOSTS',
          'SENDGRID_WEBHOOK_KEY',
          'POSTMARK_WEBHOOK_AUTH',
        ])
          assert.match(err.message, new RegExp(`INKSTREAM_${v}:`))
        assert.ok(!err.message.includes('tooshort'))
        return true
      },
    )
    const c = loadConfig({
      INKSTREAM_SENDGRID_WEBHOOK_KEY: sendgridKeys().verificationKey,
      INKSTREAM_POSTMARK_WEBHOOK_AUTH: 'user:pa:ss',
    })
    const s = espWebhookSettings(c)
    assert.equal(s.sendgridKey?.asymmetricKeyType, 'ec')
    assert.deepEqual(s.postmarkAuth, { user: 'user', password: 'pa:ss' })
    assert.equal(s.secrets.size, 0)
    assert.equal(c.snsCertHosts, DEFAULT_SNS_CERT_HOSTS)
  })
})
