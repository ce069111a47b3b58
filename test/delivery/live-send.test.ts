import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type DeliveryDeps, type DeliveryRequest, deliver, messageIdFor } from '../../src/delivery/deliver.ts'
import { SmtpTransport } from '../../src/delivery/smtp-transport.ts'
import { createTokenCodec, type TokenCodec, type TokenPayload } from '../../src/delivery/tokens.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { ampEmailProblems } from '../render/amp-email-rules.ts'
import { startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

const PUBLIC_URL = 'https://t.example.com'
const NOW = Date.parse('2026-03-01T10:00:00Z')
const DAY = 86_400_000

const LIVE_HTML = `<p>Hello {{ first_name | default: "there" }}</p>
{% live "hero" width: 600, height: 240 %}<div style="display:flex">{{ last_viewed_product.name }}</div>{% fallback %}Our new arrivals are in.{% endlive %}
<p><a href="https://shop.example/sale">Sale</a></p>`

/** Decodes quoted-printable (RFC 2045 §6.7) bytes to UTF-8 text. */
const fromQuotedPrintable = (qp: string): string =>
  Buffer.from(
    qp
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  ).toString('utf8')

/** The parts of a multipart/alternative message, in order: content type and decoded body. */
function alternativeParts(raw: string): { type: string; body: string }[] {
  const boundary = /Content-Type: multipart\/alternative; boundary="([^"]+)"/.exec(raw)?.[1]
  assert.ok(boundary, 'a multipart/alternative message')
  const chunks = raw.split(`--${boundary}`)
  assert.equal(chunks.at(-1)?.trim(), '--', 'the closing boundary ends the message')
  return chunks.slice(1, -1).map((chunk) => {
    const [head = '', ...rest] = chunk.replace(/^\r\n/, '').split('\r\n\r\n')
    assert.match(head, /Content-Transfer-Encoding: quoted-printable/)
    return {
      type: /Content-Type: ([^;\r\n]+)/.exec(head)?.[1] ?? '',
      body: fromQuotedPrintable(rest.join('\r\n\r\n').replace(/\r\n$/, '')),
    }
  })
}

describe('a message with a live block, sent through a real SMTP server', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  let transport: SmtpTransport
  let codec: TokenCodec
  let signed: TokenPayload[]
  let n = 0

  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ publicUrl: PUBLIC_URL })
    for (const [id, html] of [
      ['live', LIVE_HTML],
      ['plain', '<p>Hello {{ first_name | default: "there" }}</p>'],
    ]) {
      const res = await app.server.inject({
        method: 'PUT',
        url: `/v1/templates/${id}`,
        headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ subject: 'News', html }),
      })
      assert.equal(res.statusCode, 201, res.body)
    }
    transport = new SmtpTransport({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      maxConnections: 1,
      messageIdDomain: 'mail.example.com',
    })
    const real = createTokenCodec({
      keys: { k1: Buffer.alloc(32, 7) },
      currentKid: 'k1',
      clock: { now: () => NOW },
    })
    codec = {
      sign: (payload, ttl) => {
        signed.push(payload)
        return real.sign(payload, ttl)
      },
      verify: real.verify,
    }
  })
  after(async () => {
    await transport.close()
    await app.close()
    await smtp.close()
  })

  const deps = (over: Partial<DeliveryDeps> = {}): DeliveryDeps => ({
    renderer: app.renderer,
    transport,
    suppressions: app.suppressions,
    codec,
    publicUrl: () => PUBLIC_URL,
    clock: { now: () => NOW },
    logger: { warn: () => {} },
    retryDelayMs: 5,
    ...over,
  })

  const request = (templateId: string, email: string): DeliveryRequest => {
    const userId = `live-u${++n}`
    return {
      workspaceId: app.workspace.id,
      origin: 'trigger',
      campaignId: 'trigger:live',
      source: 'trigger:live',
      messageId: messageIdFor(app.workspace.id, 'trigger:live', `job-${n}`),
      recipient: { userId, email },
      from: 'news@shop.example',
      render: { templateId, userId, profile: { first_name: 'Ann' } },
      claim: async () => true,
    }
  }

  test('text/plain, text/x-amp-html, text/html in that order; the img URL carries a token for this message and version', async () => {
    signed = []
    const req = request('live', 'ann@example.com')
    const got = await deliver(deps(), req)
    assert.equal(got.outcome.kind, 'sent', JSON.stringify(got.outcome))
    const raw = smtp.received.find((m) => m.rcptTo.includes('ann@example.com'))?.raw ?? ''
    const parts = alternativeParts(raw)
    assert.deepEqual(
      parts.map((p) => p.type),
      ['text/plain', 'text/x-amp-html', 'text/html'],
    )
    const [text, amp, html] = parts as [(typeof parts)[0], (typeof parts)[0], (typeof parts)[0]]

    // One open-time token for the message, for the version the message was rendered from.
    const openTime = signed.filter((p) => p.kind === 'open-time')
    assert.equal(openTime.length, 1)
    const img =
      /<img src="https:\/\/t\.example\.com\/o\/([^/"]+)\/hero\.png" width="600" height="240" alt="([^"]*)" style="display:block;border:0">/.exec(
        html.body,
      )
    assert.ok(img, html.body)
    const [, token = '', alt] = img
    assert.equal(alt, 'Our new arrivals are in.')
    assert.deepEqual(codec.verify(token), {
      ok: true,
      payload: {
        kind: 'open-time',
        workspaceId: app.workspace.id,
        campaignId: 'trigger:live',
        recipient: req.recipient.userId,
        messageId: req.messageId,
        templateId: 'live',
        version: 1,
      },
      expiresAt: NOW + 180 * DAY,
    })
    // Links are wrapped for clicks; the live image is not (tracking wraps <a href> only).
    assert.match(html.body, /<a href="https:\/\/t\.example\.com\/c\/[^"]+">Sale<\/a>/)
    assert.equal(html.body.split('/o/').length - 1, 1, 'one open-time URL in the HTML part')

    assert.equal(
      text.body,
      'Hello Ann\r\n\r\nOur new arrivals are in.\r\n\r\nSale [https://shop.example/sale]',
    )

    assert.deepEqual(ampEmailProblems(amp.body), [])
    assert.ok(
      amp.body.includes(
        `<amp-list src="https://t.example.com/o/${token}/hero.json" layout="fixed" width="600" height="240"`,
      ),
    )
    assert.ok(
      amp.body.includes(
        `<a href="https://t.example.com/o/${token}/view">View this email in your browser</a>`,
      ),
    )
    assert.ok(amp.body.includes('<div fallback>Our new arrivals are in.</div>'))
  })

  test('the open-time TTL is an option of the delivery', async () => {
    signed = []
    const req = request('live', 'ttl@example.com')
    await deliver(deps({ openTimeTtlMs: 3 * DAY }), req)
    const raw = smtp.received.find((m) => m.rcptTo.includes('ttl@example.com'))?.raw ?? ''
    const html = alternativeParts(raw).find((p) => p.type === 'text/html')?.body ?? ''
    const token = /\/o\/([^/"]+)\/hero\.png/.exec(html)?.[1] ?? ''
    const verified = codec.verify(token)
    assert.ok(verified.ok)
    assert.equal(verified.expiresAt, NOW + 3 * DAY)
  })

  test('a template without live blocks signs no open-time token and has no AMP part', async () => {
    signed = []
    await deliver(deps(), request('plain', 'bob@example.com'))
    const raw = smtp.received.find((m) => m.rcptTo.includes('bob@example.com'))?.raw ?? ''
    assert.deepEqual(
      alternativeParts(raw).map((p) => p.type),
      ['text/plain', 'text/html'],
    )
    assert.deepEqual(
      signed.map((p) => p.kind),
      ['open', 'unsubscribe'],
      'the pixel and the unsubscribe link only',
    )
  })
})
