/**
 * Internationalized addresses (RFC 6531 SMTPUTF8, RFC 6532 UTF-8 headers) against a real SMTP
 * server: the header always names the address the envelope goes to, and a server that does not
 * announce SMTPUTF8 gets nothing (a typed permanent outcome) rather than a mangled header.
 */
import assert from 'node:assert/strict'
import { readFileSync, rmSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { isRecipientBounce } from '../../src/campaigns/send-retries.ts'
import { FileTransport } from '../../src/delivery/file-transport.ts'
import { SmtpTransport } from '../../src/delivery/smtp-transport.ts'
import type { OutgoingMessage } from '../../src/delivery/transport.ts'
import { tempDir } from '../helpers/app.ts'
import { header, startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

let counter = 0
const message = (to: string, from = 'Shop <shop@example.com>'): OutgoingMessage => ({
  messageId: `utf8-${++counter}`,
  from,
  to,
  subject: 'Hello',
  html: '<p>Hello</p>',
  text: 'Hello',
})

const smtpTransport = (server: TestSmtpServer) =>
  new SmtpTransport({
    host: '127.0.0.1',
    port: server.port,
    secure: false,
    maxConnections: 1,
    messageIdDomain: 'mail.example.com',
  })

describe('a server that announces SMTPUTF8', () => {
  let server: TestSmtpServer
  let transport: SmtpTransport
  before(async () => {
    server = await startSmtpServer()
    transport = smtpTransport(server)
  })
  after(async () => {
    await transport.close()
    await server.close()
  })

  test('a non-ASCII local part goes out with SMTPUTF8, and the To header names the envelope address', async () => {
    for (const to of ['山田@example.com', 'zoë@example.com', 'Zoë <zoë@example.com>']) {
      const before = server.received.length
      const outcome = await transport.send(message(to))
      assert.equal(outcome.outcome, 'sent', JSON.stringify(outcome))
      const got = server.received[before]
      assert.ok(got)
      const address = to.includes('<') ? 'zoë@example.com' : to
      assert.deepEqual(got.rcptTo, [address])
      assert.equal(got.smtpUtf8, true)
      // The header is raw UTF-8 (RFC 6532), byte for byte the envelope's address.
      const toHeader = header(got.raw, 'To') ?? ''
      assert.equal(toHeader.replace(/^.*<(.*)>$/, '$1'), address, toHeader)
      assert.doesNotMatch(got.raw, /\uFFFD/)
    }
  })

  test('a non-ASCII sender goes out with SMTPUTF8 and a matching From header', async () => {
    const before = server.received.length
    const outcome = await transport.send(message('ann@example.com', 'Jörg <jörg@shop.example>'))
    assert.equal(outcome.outcome, 'sent', JSON.stringify(outcome))
    const got = server.received[before]
    assert.equal(got?.mailFrom, 'jörg@shop.example')
    assert.equal(got?.smtpUtf8, true)
    assert.match(header(got?.raw ?? '', 'From') ?? '', /<jörg@shop\.example>$/)
  })

  test('a non-ASCII Reply-To goes out with SMTPUTF8, though the envelope is ASCII', async () => {
    const before = server.received.length
    const outcome = await transport.send({ ...message('ann@example.com'), replyTo: 'Zoë <zoë@shop.example>' })
    assert.equal(outcome.outcome, 'sent', JSON.stringify(outcome))
    const got = server.received[before]
    assert.deepEqual(got?.rcptTo, ['ann@example.com'])
    assert.equal(got?.mailFrom, 'shop@example.com')
    // The Reply-To header carries the local part as raw UTF-8 (RFC 6532): only legal under SMTPUTF8.
    assert.match(header(got?.raw ?? '', 'Reply-To') ?? '', /<zoë@shop\.example>$/)
    assert.equal(got?.smtpUtf8, true)
  })

  test('an ASCII message does not ask for SMTPUTF8', async () => {
    const before = server.received.length
    assert.equal((await transport.send(message('ann@example.com'))).outcome, 'sent')
    assert.equal(server.received[before]?.smtpUtf8, false)
  })
})

describe('a server that does not announce SMTPUTF8', () => {
  let server: TestSmtpServer
  let transport: SmtpTransport
  before(async () => {
    server = await startSmtpServer({ hideSMTPUTF8: true })
    transport = smtpTransport(server)
  })
  after(async () => {
    await transport.close()
    await server.close()
  })

  test('a non-ASCII local part fails as permanent 553 5.6.7, and nothing reaches the server', async () => {
    const outcome = await transport.send(message('山田@example.com'))
    assert.equal(outcome.outcome, 'permanent', JSON.stringify(outcome))
    assert.equal(outcome.outcome === 'permanent' && outcome.code, 553)
    assert.match(outcome.outcome === 'permanent' ? outcome.message : '', /5\.6\.7.*SMTPUTF8/)
    assert.equal(server.received.length, 0)
    assert.equal(server.dataCommands, 0)
    // A limit of the server, not a mailbox that does not exist: never suppressed as a bounce.
    assert.equal(isRecipientBounce(outcome), false)
    // The connection is still good for the next (ASCII) message.
    assert.equal((await transport.send(message('ann@example.com'))).outcome, 'sent')
    assert.equal(server.received.length, 1)
  })

  test('a non-ASCII Reply-To fails as permanent 553 5.6.7 instead of reaching the server mangled', async () => {
    const before = server.received.length
    const outcome = await transport.send({ ...message('ann@example.com'), replyTo: 'zoë@shop.example' })
    assert.equal(outcome.outcome, 'permanent', JSON.stringify(outcome))
    assert.match(outcome.outcome === 'permanent' ? outcome.message : '', /5\.6\.7.*SMTPUTF8/)
    assert.equal(server.received.length, before)
  })

  test('an internationalized domain goes in punycode, in the envelope and the header alike', async () => {
    const before = server.received.length
    const outcome = await transport.send(message('ann@bücher.example'))
    assert.equal(outcome.outcome, 'sent', JSON.stringify(outcome))
    const got = server.received[before]
    // An ASCII envelope: no SMTPUTF8 needed, so this server (which lacks it) takes the message.
    assert.equal(got?.smtpUtf8, false)
    // smtp-server shows the envelope's punycode domain decoded; the header holds the punycode.
    assert.deepEqual(got?.rcptTo, ['ann@bücher.example'])
    assert.equal(header(got?.raw ?? '', 'To'), 'ann@xn--bcher-kva.example')
  })
})

test('the .eml file of a non-ASCII recipient has the address in UTF-8 in its To header', async () => {
  const dir = tempDir()
  try {
    const transport = new FileTransport({ dir, messageIdDomain: 'mail.example.com' })
    const msg = message('山田@example.com')
    assert.equal((await transport.send(msg)).outcome, 'sent')
    const raw = readFileSync(transport.pathFor(msg.messageId), 'utf8')
    assert.equal(header(raw, 'To'), '山田@example.com')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
