/**
 * SmtpTransport against a real SMTP server over a socket: how each failure is classified, and how
 * the pool behaves. The nodemailer errors behind each case are listed in transport-outcome.test.ts.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, afterEach, before, describe, test } from 'node:test'
import { isInkError } from '../../src/core/errors.ts'
import { loadDkimKeys } from '../../src/delivery/dkim-keys.ts'
import { DkimSigner } from '../../src/delivery/dkim-sign.ts'
import {
  POSTMARK_METADATA_HEADER,
  SmtpTransport,
  type SmtpTransportOptions,
} from '../../src/delivery/smtp-transport.ts'
import { createTokenCodec } from '../../src/delivery/tokens.ts'
import type { OutgoingMessage, SendOutcome } from '../../src/delivery/transport.ts'
import { testKey } from './dkim-check.ts'
import { header, startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

let server: TestSmtpServer
const transports: SmtpTransport[] = []

const transport = (options: Partial<SmtpTransportOptions> = {}) => {
  const t = new SmtpTransport({
    host: '127.0.0.1',
    port: server.port,
    secure: false,
    messageIdDomain: 'mail.example.com',
    ...options,
  })
  transports.push(t)
  return t
}

let counter = 0
const message = (to: string, overrides: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  messageId: `msg-${++counter}`,
  from: 'Shop <shop@example.com>',
  to,
  subject: 'Hello',
  html: '<p>Hello</p>',
  text: 'Hello',
  ...overrides,
})

/** outcome, code and accepted: the parts of a SendOutcome a caller branches on. */
const shape = (o: SendOutcome) => {
  if (o.outcome === 'temporary') return { outcome: o.outcome, code: o.code, accepted: o.accepted }
  if (o.outcome === 'permanent') return { outcome: o.outcome, code: o.code }
  return { outcome: o.outcome }
}

const closedPort = async (): Promise<number> => {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const address = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

before(async () => {
  server = await startSmtpServer()
  server.answer('later@example.org', 'rcpt-421')
  server.answer('gone@example.org', 'rcpt-554')
  server.answer('cut-at-rcpt@example.org', 'rcpt-drop')
  server.answer('busy@example.org', 'data-451')
  server.answer('spam@example.org', 'data-554')
  server.answer('cut-mid-data@example.org', 'data-drop-mid')
  server.answer('cut-after-data@example.org', 'data-drop-after')
  server.answer('stall@example.org', 'data-stall')
})
afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()))
})
after(() => server.close())

describe('SMTP failures as outcomes', () => {
  test('a 421 reply to RCPT TO is temporary and the message was not accepted', async () => {
    assert.deepEqual(shape(await transport().send(message('later@example.org'))), {
      outcome: 'temporary',
      code: 421,
      accepted: 'no',
    })
  })

  test('a 554 for one recipient is permanent and the next message goes through on the same connection', async () => {
    const t = transport({ maxConnections: 1 })
    const before = server.connections
    const gone = await t.send(message('gone@example.org'))
    const next = await t.send(message('ann@example.org', { messageId: 'after-554' }))
    assert.deepEqual(shape(gone), { outcome: 'permanent', code: 554 })
    assert.equal(gone.outcome === 'permanent' && /5\.1\.1 No such user/.test(gone.message), true)
    assert.equal(next.outcome, 'sent')
    assert.equal(server.connections - before, 1)
    assert.equal(header(server.received.at(-1)?.raw ?? '', 'Message-ID'), '<after-554@mail.example.com>')
  })

  test('a 451 reply to the end of the data is temporary and, being a refusal, not accepted', async () => {
    assert.deepEqual(shape(await transport().send(message('busy@example.org'))), {
      outcome: 'temporary',
      code: 451,
      accepted: 'no',
    })
  })

  test('a 554 reply to the end of the data is permanent', async () => {
    assert.deepEqual(shape(await transport().send(message('spam@example.org'))), {
      outcome: 'permanent',
      code: 554,
    })
  })

  test('the connection dropped instead of answering RCPT TO is temporary and not accepted', async () => {
    assert.deepEqual(shape(await transport().send(message('cut-at-rcpt@example.org'))), {
      outcome: 'temporary',
      code: null,
      accepted: 'no',
    })
  })

  test('the connection dropped mid-DATA is temporary with acceptance unknown', async () => {
    assert.deepEqual(shape(await transport().send(message('cut-mid-data@example.org'))), {
      outcome: 'temporary',
      code: null,
      accepted: 'unknown',
    })
  })

  test('the connection dropped after the whole body, though the server kept it, is acceptance unknown', async () => {
    const received = server.received.length
    const outcome = await transport().send(
      message('cut-after-data@example.org', { messageId: 'kept-then-cut' }),
    )
    assert.deepEqual(shape(outcome), { outcome: 'temporary', code: null, accepted: 'unknown' })
    // Why 'unknown' and not 'no': the server has the message; a blind retry would duplicate it.
    assert.equal(server.received.length, received + 1)
    assert.equal(header(server.received.at(-1)?.raw ?? '', 'Message-ID'), '<kept-then-cut@mail.example.com>')
  })

  test('no reply after the body within socketTimeout is temporary with acceptance unknown', async () => {
    const outcome = await transport({ socketTimeout: 600 }).send(message('stall@example.org'))
    assert.deepEqual(shape(outcome), { outcome: 'temporary', code: null, accepted: 'unknown' })
    assert.match(outcome.outcome === 'temporary' ? outcome.message : '', /ETIMEDOUT/)
  })

  test('a refused connection (closed port) is temporary and not accepted', async () => {
    const outcome = await transport({ port: await closedPort() }).send(message('ann@example.org'))
    assert.deepEqual(shape(outcome), { outcome: 'temporary', code: null, accepted: 'no' })
    assert.match(outcome.outcome === 'temporary' ? outcome.message : '', /ECONNREFUSED/)
  })

  test('a server that never greets is temporary and not accepted once greetingTimeout passes', async () => {
    const silent = net.createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const address = silent.address()
    assert.ok(address !== null && typeof address !== 'string')
    try {
      const outcome = await transport({ port: address.port, greetingTimeout: 200 }).send(
        message('ann@example.org'),
      )
      assert.deepEqual(shape(outcome), { outcome: 'temporary', code: null, accepted: 'no' })
      assert.match(outcome.outcome === 'temporary' ? outcome.message : '', /Greeting never received/)
    } finally {
      silent.close()
    }
  })
})

describe('SMTP pool', () => {
  test('50 messages sent at once through the pool arrive once each', async () => {
    const t = transport({ maxConnections: 3, maxMessages: 20 })
    const start = server.received.length
    const connections = server.connections
    const ids = Array.from({ length: 50 }, (_, i) => `pool-${i}`)
    const outcomes = await Promise.all(
      ids.map((id, i) => t.send(message(`r${i}@example.org`, { messageId: id }))),
    )
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      ids.map(() => 'sent'),
    )
    const counts = new Map<string, number>()
    for (const { raw } of server.received.slice(start)) {
      const id = header(raw, 'Message-ID') ?? ''
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
    assert.deepEqual(
      [...counts].sort(([a], [b]) => a.localeCompare(b)),
      ids.map((id) => [`<${id}@mail.example.com>`, 1]).sort(([a], [b]) => String(a).localeCompare(String(b))),
    )
    const opened = server.connections - connections
    assert.ok(opened >= 3 && opened <= 5, `opened ${opened} connections for 50 messages at 3 × 20`)
  })

  test('rateLimit holds the pool to that many messages per rateDelta', async () => {
    const t = transport({ maxConnections: 1, rateLimit: 2, rateDelta: 300 })
    const started = Date.now()
    const outcomes = await Promise.all([1, 2, 3, 4].map((i) => t.send(message(`rate${i}@example.org`))))
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      ['sent', 'sent', 'sent', 'sent'],
    )
    assert.ok(Date.now() - started >= 290, `4 messages at 2 per 300 ms took ${Date.now() - started} ms`)
  })

  test('close waits for the messages in flight before closing the pool', async () => {
    const t = transport()
    const sending = t.send(message('ann@example.org', { messageId: 'in-flight' }))
    await t.close()
    assert.equal((await sending).outcome, 'sent')
    assert.equal(header(server.received.at(-1)?.raw ?? '', 'Message-ID'), '<in-flight@mail.example.com>')
  })

  test('invalid options are refused at construction, all problems at once', () => {
    assert.throws(
      () =>
        transport({
          port: 0,
          maxConnections: 0,
          requireTLS: true,
          ignoreTLS: true,
          messageIdDomain: 'localhost',
        }),
      (err: unknown) => {
        assert.ok(isInkError(err))
        assert.equal(err.code, 'INK_ERR_INVALID_CONFIG')
        assert.deepEqual(err.details, [
          'smtp: port 0 is not 1–65535',
          'smtp: requireTLS and ignoreTLS contradict each other',
          'smtp: maxConnections must be a positive integer',
          'smtp: messageIdDomain "localhost" is not a domain name',
        ])
        return true
      },
    )
  })
})

describe('Postmark metadata', () => {
  const codec = createTokenCodec({
    keys: { k1: Buffer.alloc(32, 7) },
    currentKid: 'k1',
    clock: { now: Date.now },
  })
  const received = (to: string) => server.received.find((m) => m.rcptTo.includes(to))?.raw ?? ''

  test('with postmarkMetadata every message this transport builds names its id, built by send() or build(), inline or in a worker', async () => {
    // Signed with DKIM, so that bytes a build worker made are told apart (only a worker marks them signed).
    const key = testKey('example.com', 'pm', 'ed25519')
    const dkim = new DkimSigner(loadDkimKeys('example.com:pm:env:K:ed25519-sha256', { K: key.privatePem }))
    for (const buildWorkers of [0, 1]) {
      const t = transport({ postmarkMetadata: true, buildWorkers, dkim })
      const direct = message(`pm-send-${buildWorkers}@example.org`)
      assert.equal((await t.send(direct)).outcome, 'sent')
      assert.equal(header(received(direct.to), POSTMARK_METADATA_HEADER), direct.messageId)
      const campaign = message(`pm-build-${buildWorkers}@example.org`)
      let built = await t.build({ message: campaign }, codec, Date.now())
      // With a worker: until it has started, build() builds inline; wait for bytes it made.
      for (let i = 0; buildWorkers > 0 && built.prepared?.dkimSigned !== true && i < 250; i++) {
        await new Promise((r) => setTimeout(r, 20))
        built = await t.build({ message: campaign }, codec, Date.now())
      }
      assert.equal(built.prepared?.dkimSigned === true, buildWorkers > 0, 'built where the case says')
      assert.equal((await t.send(built)).outcome, 'sent')
      assert.equal(header(received(campaign.to), POSTMARK_METADATA_HEADER), campaign.messageId)
      // The message handed in is not changed (a retry builds from it again).
      assert.equal(campaign.headers, undefined)
    }
  })

  test('without it, no such header; other headers are kept either way', async () => {
    const plain = message('pm-off@example.org', { headers: { 'X-Campaign': 'spring' } })
    assert.equal((await transport().send(plain)).outcome, 'sent')
    assert.equal(header(received(plain.to), POSTMARK_METADATA_HEADER), undefined)
    assert.equal(header(received(plain.to), 'X-Campaign'), 'spring')
    const tagged = message('pm-on-kept@example.org', { headers: { 'X-Campaign': 'spring' } })
    assert.equal((await transport({ postmarkMetadata: true }).send(tagged)).outcome, 'sent')
    assert.equal(header(received(tagged.to), 'X-Campaign'), 'spring')
    assert.equal(header(received(tagged.to), POSTMARK_METADATA_HEADER), tagged.messageId)
  })
})
