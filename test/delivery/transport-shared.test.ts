/**
 * The Transport suite every implementation passes: what arrives, and what never leaves. The SMTP
 * transport is checked at a real SMTP server, the file transport in the files it writes.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, test } from 'node:test'
import addressparser from 'nodemailer/lib/addressparser'
import { FileTransport } from '../../src/delivery/file-transport.ts'
import { SmtpTransport } from '../../src/delivery/smtp-transport.ts'
import type { OutgoingMessage, Transport } from '../../src/delivery/transport.ts'
import { header, headerLines, mimeParts, startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

interface Delivered {
  raw: string
  /** SMTP envelope recipients, where the implementation has an envelope. */
  rcptTo?: string[]
}

interface Harness {
  transport: Transport
  delivered(): Promise<Delivered[]>
  reset(): Promise<void>
  close(): Promise<void>
}

const implementations: Record<string, () => Promise<Harness>> = {
  async smtp() {
    const server: TestSmtpServer = await startSmtpServer()
    const transport = new SmtpTransport({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      messageIdDomain: 'mail.example.com',
      maxConnections: 2,
    })
    return {
      transport,
      delivered: async () => server.received.map(({ raw, rcptTo }) => ({ raw, rcptTo })),
      reset: async () => {
        server.received.length = 0
      },
      close: async () => {
        await transport.close()
        await server.close()
      },
    }
  },
  async file() {
    const dir = await mkdtemp(join(tmpdir(), 'inkstream-eml-'))
    const transport = new FileTransport({ dir, messageIdDomain: 'mail.example.com' })
    const files = async () => (await readdir(dir)).filter((f) => f.endsWith('.eml'))
    return {
      transport,
      delivered: async () =>
        Promise.all((await files()).map(async (f) => ({ raw: await readFile(join(dir, f), 'utf8') }))),
      reset: async () => {
        await Promise.all((await files()).map((f) => rm(join(dir, f))))
      },
      close: async () => {
        await transport.close()
        await rm(dir, { recursive: true, force: true })
      },
    }
  },
}

const message = (overrides: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  messageId: '01JD7Q3ZK8.cart-7',
  from: 'Inkstream Shop <shop@example.com>',
  to: '"Lee, Ann" <ann@example.org>',
  replyTo: 'help@example.com',
  subject: 'Still thinking about the blue lamp?',
  html: '<p>Hi Ann, the <b>blue lamp</b> is still in your cart.</p>',
  text: 'Hi Ann, the blue lamp is still in your cart.',
  headers: {
    'List-Unsubscribe':
      '<https://ink.example.com/u/tok_abc123>, <mailto:unsub@example.com?subject=tok_abc123>',
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    'X-Campaign': 'cart-abandon',
  },
  ...overrides,
})

/** Messages that must be refused, one per field, each trying to add a Bcc header or recipient. */
const refused: Array<[string, Partial<OutgoingMessage>, string]> = [
  ['a CR LF in the From display name', { from: 'Shop\r\nBcc: evil@example.net <shop@example.com>' }, 'from'],
  ['a LF in the From address', { from: 'shop@example.com\nBcc: evil@example.net' }, 'from'],
  ['a CR LF in the To address', { to: 'ann@example.org\r\nBcc: evil@example.net' }, 'to'],
  ['a NUL in the To display name', { to: 'Ann\u0000 <ann@example.org>' }, 'to'],
  ['a second recipient in To', { to: 'ann@example.org, evil@example.net' }, 'to'],
  ['a CR in the Reply-To address', { replyTo: 'help@example.com\rBcc: evil@example.net' }, 'replyTo'],
  [
    'a CR LF in a header value',
    { headers: { 'X-Campaign': 'cart\r\nBcc: evil@example.net' } },
    'headers.X-Campaign',
  ],
  ['a NUL in a header value', { headers: { 'X-Campaign': 'cart\u0000' } }, 'headers.X-Campaign'],
  [
    'a CR LF in a header name',
    { headers: { 'X-Campaign\r\nBcc': 'evil@example.net' } },
    'headers.X-Campaign\r\nBcc',
  ],
  ['a Bcc given as an extra header', { headers: { Bcc: 'evil@example.net' } }, 'headers.Bcc'],
  ['a CR LF in the messageId', { messageId: 'abc\r\nBcc: evil@example.net' }, 'messageId'],
  ['a NUL in the messageId', { messageId: 'abc\u0000' }, 'messageId'],
  ['a NUL in the subject', { subject: 'Hello\u0000Bcc: evil@example.net' }, 'subject'],
]

for (const [name, start] of Object.entries(implementations)) {
  describe(`${name} transport`, () => {
    let h: Harness
    before(async () => {
      h = await start()
    })
    after(() => h.close())
    beforeEach(() => h.reset())

    test('a message arrives with its text and HTML parts, Subject, From, To, Message-ID and extra headers', async () => {
      const outcome = await h.transport.send(message())
      assert.equal(outcome.outcome, 'sent')
      assert.equal(
        outcome.outcome === 'sent' && outcome.smtpMessageId,
        '<01JD7Q3ZK8.cart-7@mail.example.com>',
      )
      const [got, ...more] = await h.delivered()
      assert.ok(got)
      assert.equal(more.length, 0)
      if (got.rcptTo) assert.deepEqual(got.rcptTo, ['ann@example.org'])
      const { raw } = got
      assert.equal(header(raw, 'Subject'), 'Still thinking about the blue lamp?')
      assert.equal(header(raw, 'From'), 'Inkstream Shop <shop@example.com>')
      assert.deepEqual(addressparser(header(raw, 'To')), [{ name: 'Lee, Ann', address: 'ann@example.org' }])
      assert.equal(header(raw, 'Reply-To'), 'help@example.com')
      assert.equal(header(raw, 'Message-ID'), '<01JD7Q3ZK8.cart-7@mail.example.com>')
      assert.equal(
        header(raw, 'List-Unsubscribe'),
        '<https://ink.example.com/u/tok_abc123>, <mailto:unsub@example.com?subject=tok_abc123>',
      )
      assert.equal(header(raw, 'List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click')
      assert.equal(header(raw, 'X-Campaign'), 'cart-abandon')
      assert.match(header(raw, 'Content-Type') ?? '', /^multipart\/alternative;/)
      const parts = mimeParts(raw)
      assert.deepEqual(
        parts.map((p) => [p.contentType.split(';')[0], p.body]),
        [
          ['text/plain', 'Hi Ann, the blue lamp is still in your cart.'],
          ['text/html', '<p>Hi Ann, the <b>blue lamp</b> is still in your cart.</p>'],
        ],
      )
    })

    test('a non-ASCII subject and display name arrive intact', async () => {
      const outcome = await h.transport.send(
        message({ subject: 'Ihr Warenkorb 🛒 wartet', to: 'Jöhn <john@example.org>' }),
      )
      assert.equal(outcome.outcome, 'sent')
      const [got] = await h.delivered()
      assert.equal(header(got?.raw ?? '', 'Subject'), 'Ihr Warenkorb 🛒 wartet')
      assert.equal(header(got?.raw ?? '', 'To'), 'Jöhn <john@example.org>')
    })

    const folded: Array<[string, string]> = [
      ['CR LF', 'Hello\r\nBcc: evil@example.net'],
      ['a lone LF', 'Hello\nBcc: evil@example.net'],
      ['a lone CR', 'Hello\rBcc: evil@example.net'],
    ]
    for (const [label, subject] of folded) {
      test(`${label} in the subject is folded to a space, so no Bcc header is injected`, async () => {
        const outcome = await h.transport.send(message({ subject }))
        assert.equal(outcome.outcome, 'sent')
        const [got] = await h.delivered()
        assert.ok(got)
        assert.equal(header(got.raw, 'Subject'), 'Hello Bcc: evil@example.net')
        assert.deepEqual(
          headerLines(got.raw).filter((line) => /^bcc:/i.test(line)),
          [],
        )
        if (got.rcptTo) assert.deepEqual(got.rcptTo, ['ann@example.org'])
      })
    }

    for (const [label, overrides, field] of refused) {
      test(`${label} is refused as invalid and nothing is delivered`, async () => {
        const outcome = await h.transport.send(message(overrides))
        assert.equal(outcome.outcome, 'invalid')
        assert.equal(outcome.outcome === 'invalid' && outcome.field, field)
        assert.deepEqual(await h.delivered(), [])
      })
    }

    test('after close, a send is a temporary failure that was not accepted', async () => {
      const fresh = await start()
      await fresh.close()
      const outcome = await fresh.transport.send(message())
      assert.deepEqual(
        [outcome.outcome, outcome.outcome === 'temporary' && outcome.accepted],
        ['temporary', 'no'],
      )
    })
  })
}
