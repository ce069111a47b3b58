/**
 * VERP: with a bounce address, every message leaves with the envelope sender
 * `bounces+<message id>@domain` (checked on a real SMTP server, built inline and in a build
 * worker); the local part never exceeds 64 octets; the reader finds the id in such an address.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTransport } from '../../src/composition.ts'
import { loadConfig } from '../../src/config.ts'
import { isInkError } from '../../src/core/errors.ts'
import { prepareMessage } from '../../src/delivery/mime.ts'
import { SmtpTransport } from '../../src/delivery/smtp-transport.ts'
import { bounceAddressProblem, emailIdOfVerp, verpAddress } from '../../src/delivery/verp.ts'
import { header, startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

const ID = 'ink-c.0123456789abcdef0123456789abcdef01234567'

describe('VERP addresses', () => {
  test('the envelope sender is local+id@domain; over 64 octets it is the bounce address itself', () => {
    assert.equal(verpAddress('bounces@shop.example', ID), `bounces+${ID}@shop.example`)
    assert.equal(`bounces+${ID}`.length, 54)
    const longest = 'b'.repeat(17)
    assert.equal(verpAddress(`${longest}@shop.example`, ID), `${longest}+${ID}@shop.example`)
    assert.equal(`${longest}+${ID}`.length, 64)
    assert.equal(verpAddress(`${longest}@shop.example`, `${ID}x`), `${longest}@shop.example`)
  })

  test('the id is read back from the address, case-insensitively, only for our bounce address and our ids', () => {
    assert.equal(emailIdOfVerp('bounces@shop.example', `<bounces+${ID}@shop.example>`), ID)
    assert.equal(emailIdOfVerp('bounces@shop.example', `BOUNCES+${ID.toUpperCase()}@Shop.Example`), ID)
    assert.equal(emailIdOfVerp('bounces@shop.example', `bounces+${ID}@other.example`), undefined)
    assert.equal(emailIdOfVerp('bounces@shop.example', `returns+${ID}@shop.example`), undefined)
    assert.equal(emailIdOfVerp('bounces@shop.example', 'bounces+hello@shop.example'), undefined)
    assert.equal(emailIdOfVerp('bounces@shop.example', 'bounces@shop.example'), undefined)
  })

  test('a bounce address must be plain ASCII, without "+", with a local part of at most 17 characters', () => {
    assert.equal(bounceAddressProblem('bounces@shop.example'), null)
    assert.match(bounceAddressProblem('Bounces <bounces@shop.example>') ?? '', /plain ASCII address/)
    assert.match(bounceAddressProblem('bounces+x@shop.example') ?? '', /without "\+"/)
    assert.match(bounceAddressProblem('bounces@localhost') ?? '', /plain ASCII/)
    assert.match(bounceAddressProblem(`${'b'.repeat(18)}@shop.example`) ?? '', /longer than 17 characters/)
  })

  test('INKSTREAM_BOUNCE_ADDRESS and INKSTREAM_BOUNCE_IMAP are checked at start; the password is in no message', () => {
    const ok = loadConfig({
      INKSTREAM_BOUNCE_ADDRESS: 'bounces@shop.example',
      INKSTREAM_BOUNCE_IMAP: 'imaps://bounces:s3cret@imap.shop.example/INBOX',
    })
    assert.equal(ok.bounceAddress, 'bounces@shop.example')
    assert.throws(
      () =>
        loadConfig({
          INKSTREAM_BOUNCE_ADDRESS: 'not an address',
          INKSTREAM_BOUNCE_IMAP: 'imaps://bounces:s3cret@imap.shop.example/INBOX?requireTLS=true&poll=1',
        }),
      (err: unknown) => {
        assert.ok(isInkError(err) && err.code === 'INK_ERR_INVALID_CONFIG')
        assert.match(err.message, /INKSTREAM_BOUNCE_ADDRESS: not a plain ASCII address/)
        assert.match(err.message, /INKSTREAM_BOUNCE_IMAP: unknown parameter "poll"/)
        assert.match(err.message, /INKSTREAM_BOUNCE_IMAP: requireTLS and ignoreTLS apply to imap:\/\/ only/)
        assert.ok(!err.message.includes('s3cret'), err.message)
        return true
      },
    )
  })
})

describe('the SMTP transport with a bounce address', () => {
  let server: TestSmtpServer
  const transports: SmtpTransport[] = []
  before(async () => {
    server = await startSmtpServer()
  })
  after(async () => {
    for (const t of transports) await t.close()
    await server.close()
  })
  const transport = (bounceAddress: string | undefined, buildWorkers = 0) => {
    const t = new SmtpTransport({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      messageIdDomain: 'mail.shop.example',
      buildWorkers,
      bounceAddress,
    })
    transports.push(t)
    return t
  }
  const message = (to: string, messageId = ID) => ({
    messageId,
    from: 'Shop <news@shop.example>',
    to,
    subject: 'Hello',
    html: '<p>Hello</p>',
    text: 'Hello',
  })

  test('every message leaves with its VERP envelope sender, built here or prepared elsewhere; the headers are unchanged', async () => {
    for (const prepared of [false, true]) {
      const to = `verp-${prepared}@example.org`
      const m = message(to)
      const p = prepareMessage(m, 'mail.shop.example')
      assert.ok(p.ok)
      const { ok: _, ...bytes } = p
      const outcome = await transport('bounces@shop.example', 0).send(
        prepared ? { ...m, prepared: { ...bytes, domain: 'mail.shop.example' } } : m,
      )
      assert.equal(outcome.outcome, 'sent', JSON.stringify(outcome))
      const got = server.received.find((r) => r.rcptTo.includes(to))
      assert.equal(got?.mailFrom, `bounces+${ID}@shop.example`)
      assert.equal(header(got?.raw ?? '', 'From'), 'Shop <news@shop.example>')
      assert.equal(header(got?.raw ?? '', 'Message-ID'), `<${ID}@mail.shop.example>`)
    }
  })

  test('without a bounce address the envelope sender is the From address; a too long id falls back to the bounce address', async () => {
    await transport(undefined, 0).send(message('plain@example.org'))
    assert.equal(
      server.received.find((m) => m.rcptTo.includes('plain@example.org'))?.mailFrom,
      'news@shop.example',
    )
    const long = `ink-c.${'a'.repeat(60)}`
    await transport('bounces@shop.example', 0).send(message('long@example.org', long))
    assert.equal(
      server.received.find((m) => m.rcptTo.includes('long@example.org'))?.mailFrom,
      'bounces@shop.example',
    )
  })

  test('INKSTREAM_BOUNCE_ADDRESS reaches the transport the app composes (and its description)', async () => {
    const config = loadConfig({
      INKSTREAM_SMTP_URL: `smtp://127.0.0.1:${server.port}?ignoreTLS=true`,
      INKSTREAM_BOUNCE_ADDRESS: 'bounces@shop.example',
    })
    const { transport: t, description } = createTransport(config, 'mail.shop.example')
    try {
      assert.match(description, /envelope sender bounces\+<id>@shop\.example/)
      const outcome = await t.send(message('composed@example.org'))
      assert.equal(outcome.outcome, 'sent', JSON.stringify(outcome))
      assert.equal(
        server.received.find((m) => m.rcptTo.includes('composed@example.org'))?.mailFrom,
        `bounces+${ID}@shop.example`,
      )
    } finally {
      await t.close()
    }
  })

  test('a bad bounce address is refused when the transport is made', () => {
    assert.throws(
      () => transport('bounces+x@shop.example', 0),
      (err: unknown) => isInkError(err) && /bounceAddress: not a plain ASCII address/.test(err.message),
    )
  })
})
