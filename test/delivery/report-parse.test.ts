/**
 * The bounce mailbox's reader of DSNs (RFC 3464) and abuse reports (RFC 5965) on real-world shaped
 * samples (report-samples.ts), the tricky cases, and arbitrary bytes (never throws).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { readReport } from '../../src/delivery/report-parse.ts'
import {
  autoReply,
  BOUNCE,
  crlf,
  diagnosticOnlyDsn,
  eximDsn,
  gmailDsn,
  ID_A,
  ID_B,
  ID_C,
  microsoftArf,
  multiRecipientDsn,
  postfixDsn,
  readReceipt,
  rfc5965Arf,
  verpOnlyDsn,
} from './report-samples.ts'

const RECEIVED = Date.parse('2026-11-30T06:00:00Z')
const read = (raw: Buffer, bounceAddress: string | null = BOUNCE) =>
  readReport(raw, { bounceAddress: bounceAddress ?? undefined, receivedAt: RECEIVED })

describe('delivery status notifications', () => {
  test('a Postfix DSN is one hard bounce with its status, diagnostic, recipient and our email id', () => {
    assert.deepEqual(read(postfixDsn()), {
      report: 'delivery-status',
      feedback: [
        {
          source: 'mailbox',
          kind: 'bounced',
          feedbackId: '<20261130031000.4D2E31C0A3@mx.shop.example> nobody@example.org',
          emailId: ID_A,
          recipient: 'nobody@example.org',
          at: Date.parse('2026-11-30T03:10:00Z'),
          bounce: {
            type: 'hard',
            status: '5.1.1',
            diagnostic:
              '550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table',
          },
        },
      ],
    })
  })

  test("Exim's generic Status 5.0.0 gives way to the Diagnostic-Code's 5.1.1; the id comes from the returned message", () => {
    const r = read(eximDsn(), null)
    assert.equal(r.report, 'delivery-status')
    assert.deepEqual(r.report && r.feedback, [
      {
        source: 'mailbox',
        kind: 'bounced',
        feedbackId: '<E1tGx2C-0004Xy-0b@relay.shop.example> gone@example.net',
        emailId: ID_B,
        recipient: 'gone@example.net',
        at: Date.parse('2026-11-30T03:12:04Z'),
        bounce: {
          type: 'hard',
          status: '5.1.1',
          diagnostic: '550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown',
        },
      },
    ])
  })

  test("a Gmail DSN: the Status decides, the diagnostic is Gmail's words, the time is Last-Attempt-Date", () => {
    const r = read(gmailDsn())
    assert.deepEqual(r.report && r.feedback, [
      {
        source: 'mailbox',
        kind: 'bounced',
        feedbackId: '<674ac1f4.050a0220.3b1b4c.b0e6.GMR@mx.google.com> nosuchuser@gmail.com',
        emailId: ID_C,
        recipient: 'nosuchuser@gmail.com',
        at: Date.parse('2026-11-30T11:15:00Z'),
        bounce: {
          type: 'hard',
          status: '5.1.1',
          diagnostic:
            "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser",
        },
      },
    ])
  })

  test('several recipients in one DSN: each failed one is a feedback of its own; delayed is no bounce', () => {
    const r = read(multiRecipientDsn())
    assert.ok(r.report)
    assert.deepEqual(
      r.feedback.map((f) => [
        f.recipient,
        f.kind,
        f.bounce?.type,
        f.bounce?.status,
        f.emailId,
        f.feedbackId,
        f.at,
      ]),
      [
        [
          'first@example.org',
          'bounced',
          'hard',
          '5.1.1',
          ID_A,
          '<20261130040000.AA11@mx.shop.example> first@example.org',
          Date.parse('2026-11-30T04:00:00Z'),
        ],
        [
          'second@example.org',
          'bounced',
          'soft',
          '4.4.7',
          ID_A,
          '<20261130040000.AA11@mx.shop.example> second@example.org',
          Date.parse('2026-11-29T04:00:00Z'),
        ],
      ],
    )
    assert.equal(
      r.feedback[1]?.bounce?.diagnostic,
      'delivery temporarily suspended: connect to mx.example.org[192.0.2.30]:25: Connection timed out',
    )
  })

  test('without the original headers the VERP address the DSN was delivered to names the message', () => {
    const r = read(verpOnlyDsn())
    assert.deepEqual(r.report && r.feedback.map((f) => [f.emailId, f.recipient, f.bounce]), [
      [ID_B, 'absent@example.org', { type: 'hard', status: '5.1.1' }],
    ])
    // Without a configured bounce address the VERP form means nothing: no email id.
    const plain = read(verpOnlyDsn(), null)
    assert.deepEqual(plain.report && plain.feedback.map((f) => f.emailId), [undefined])
    // Another bounce address does not match.
    const other = read(verpOnlyDsn(), 'returns@shop.example')
    assert.deepEqual(other.report && other.feedback.map((f) => f.emailId), [undefined])
  })

  test('a status code only in the Diagnostic-Code (base64 delivery-status part) is the status', () => {
    const r = read(diagnosticOnlyDsn())
    assert.deepEqual(
      r.report && r.feedback.map((f) => [f.recipient, f.emailId, f.bounce, f.feedbackId, f.at]),
      [
        [
          'full@example.org',
          ID_C,
          { type: 'hard', status: '5.2.2', diagnostic: '552 5.2.2 <full@example.org>: Mailbox full' },
          '<dsn-9912@mx.example.org> full@example.org',
          RECEIVED,
        ],
      ],
    )
  })

  test('a failure without any code is soft (a guess never suppresses); a 4xx diagnostic alone is soft, 5xx hard', () => {
    const dsn = (fields: string) =>
      crlf(`Message-Id: <x@y>
Content-Type: multipart/report; report-type=delivery-status; boundary=b

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; x

Final-Recipient: rfc822; a@example.org
Action: failed
${fields}
--b--
`)
    const type = (fields: string) => {
      const r = read(dsn(fields))
      return r.report ? r.feedback.map((f) => [f.bounce?.type, f.bounce?.status]) : r.reason
    }
    assert.deepEqual(type('Status: nonsense'), [['soft', undefined]])
    assert.deepEqual(type('Diagnostic-Code: smtp; 550 no such user'), [['hard', undefined]])
    assert.deepEqual(type('Diagnostic-Code: smtp; 421 try later'), [['soft', undefined]])
    assert.deepEqual(type('Status: 5.0.0\nDiagnostic-Code: smtp; 450 4.2.1 greylisted'), [['hard', '5.0.0']])
  })

  test('Action delivered is a delivered feedback; relayed and expanded are nothing', () => {
    const dsn = (action: string) =>
      crlf(`Message-Id: <d@y>
Content-Type: multipart/report; report-type=delivery-status; boundary=b

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; x

Final-Recipient: rfc822; a@example.org
Action: ${action}
Status: 2.0.0

--b--
`)
    const d = read(dsn('delivered'))
    assert.deepEqual(d.report && d.feedback.map((f) => [f.kind, f.bounce]), [['delivered', undefined]])
    for (const action of ['relayed', 'expanded', 'delayed']) {
      const r = read(dsn(action))
      assert.deepEqual(r.report && r.feedback, [], action)
    }
  })

  test('Original-Recipient wins over Final-Recipient, xtext decoded; a DSN without Message-ID is named by a hash', () => {
    const raw = crlf(`Content-Type: multipart/report; report-type=delivery-status; boundary=b

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; x

Original-Recipient: rfc822; list+2Bsales@example.org
Final-Recipient: rfc822; forwarded@elsewhere.example
Action: failed
Status: 5.1.1

--b--
`)
    const r = read(raw)
    assert.ok(r.report)
    assert.equal(r.feedback[0]?.recipient, 'list+sales@example.org')
    assert.match(r.feedback[0]?.feedbackId ?? '', /^sha256:[0-9a-f]{64} list\+sales@example\.org$/)
    // The same bytes are the same id; other bytes another.
    const again = read(raw)
    assert.equal(again.report && again.feedback[0]?.feedbackId, r.feedback[0]?.feedbackId)
  })

  test('a Message-ID that is not ours gives no email id', () => {
    const foreign = postfixDsn()
      .toString('latin1')
      .replace(`<${ID_A}@mail.shop.example>`, '<CAF=abc@mail.gmail.com>')
      .replace(/bounces\+[^@]+@/g, 'bounces@')
    const r = read(Buffer.from(foreign, 'latin1'))
    assert.deepEqual(r.report && r.feedback.map((f) => [f.recipient, f.emailId]), [
      ['nobody@example.org', undefined],
    ])
  })
})

describe('abuse reports', () => {
  test("RFC 5965's example is a complaint of type abuse for Original-Rcpt-To, our id from the reported message", () => {
    assert.deepEqual(read(rfc5965Arf()), {
      report: 'feedback-report',
      feedback: [
        {
          source: 'mailbox',
          kind: 'complained',
          feedbackId: '<arf-5965@example.com> user@example.com',
          emailId: ID_C,
          recipient: 'user@example.com',
          at: Date.parse('2005-03-08T18:00:00Z'),
          complaint: { type: 'abuse' },
        },
      ],
    })
  })

  test("a Microsoft-style report: no Original-Rcpt-To, so the reported message's To; Received-Date as the time", () => {
    assert.deepEqual(read(microsoftArf()), {
      report: 'feedback-report',
      feedback: [
        {
          source: 'mailbox',
          kind: 'complained',
          feedbackId:
            '<f1e2d3c4-0000-4a1b-9c8d-7e6f5a4b3c2d@SN1PR01MB0001.prod.outlook.com> reader@outlook.com',
          emailId: ID_A,
          recipient: 'Reader@outlook.com',
          at: Date.parse('2026-11-30T13:01:02Z'),
          complaint: { type: 'abuse' },
        },
      ],
    })
  })

  test('the VERP Original-Mail-From names the message when the reported message is redacted', () => {
    const redacted = rfc5965Arf()
      .toString('latin1')
      .replace(/Message-ID: <ink-c[^>]+>/, 'Message-ID: <redacted@x>')
    const r = read(Buffer.from(redacted, 'latin1'))
    assert.deepEqual(r.report && r.feedback.map((f) => [f.emailId, f.recipient]), [
      [ID_C, 'user@example.com'],
    ])
  })

  test('not-spam and auth-failure reports are no complaints', () => {
    for (const type of ['not-spam', 'auth-failure']) {
      const raw = Buffer.from(
        rfc5965Arf().toString('latin1').replace('Feedback-Type: abuse', `Feedback-Type: ${type}`),
        'latin1',
      )
      const r = read(raw)
      assert.deepEqual(r.report && r.feedback, [], type)
    }
    const fraud = read(
      Buffer.from(
        rfc5965Arf().toString('latin1').replace('Feedback-Type: abuse', 'Feedback-Type: Fraud'),
        'latin1',
      ),
    )
    assert.deepEqual(fraud.report && fraud.feedback.map((f) => f.complaint), [{ type: 'fraud' }])
  })
})

describe('what is not a report', () => {
  test('an out-of-office auto-reply that quotes a bounce is ignored with a reason', () => {
    assert.deepEqual(read(autoReply()), {
      report: null,
      reason: 'an automatic message (Auto-Submitted: auto-replied), not a report',
    })
  })

  test('a read receipt (multipart/report of another type) is ignored', () => {
    assert.deepEqual(read(readReceipt()), {
      report: null,
      reason: 'a report of type "disposition-notification" (not a DSN or abuse report)',
    })
  })

  test('a plain message is ignored', () => {
    const r = read(crlf('From: a@b\nSubject: hi\n\nhello\n'))
    assert.deepEqual(r, { report: null, reason: 'not a report (text/plain)' })
  })

  test('malformed reports yield nothing and never throw', () => {
    const cases = [
      'Content-Type: multipart/report; report-type=delivery-status\n\nno boundary',
      'Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n',
      'Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n--b--',
      '',
      '\r\n\r\n',
    ]
    for (const c of cases) {
      const r = read(crlf(c))
      assert.ok(r.report === null || r.feedback.length === 0, c)
    }
  })

  test('arbitrary bytes and damaged samples never throw', () => {
    const samples = [postfixDsn(), eximDsn(), gmailDsn(), rfc5965Arf(), microsoftArf()]
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        read(Buffer.from(bytes))
      }),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.nat(),
        fc.nat(),
        fc.string(),
        (i, a, b, insert) => {
          const s = (samples[i] ?? Buffer.alloc(0)).toString('latin1')
          const from = a % (s.length + 1)
          const to = Math.min(s.length, from + (b % 200))
          const damaged = Buffer.from(s.slice(0, from) + insert + s.slice(to), 'latin1')
          const r = read(damaged)
          if (r.report) for (const f of r.feedback) assert.equal(typeof f.recipient, 'string')
        },
      ),
      { numRuns: 500 },
    )
  })
})
