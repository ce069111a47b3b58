/**
 * DKIM through the real SmtpTransport to a real SMTP server: the received message is checked by
 * mailauth's verifier and by an RFC 6376 verifier written on node:crypto (dkim-check.ts), for RSA
 * and Ed25519, two signatures at once, bytes built in a worker and on the main thread, and tampered
 * copies that must fail.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { dkimRecord, loadDkimKeys } from '../../src/delivery/dkim-keys.ts'
import { DkimSigner } from '../../src/delivery/dkim-sign.ts'
import { FileTransport } from '../../src/delivery/file-transport.ts'
import { SmtpTransport } from '../../src/delivery/smtp-transport.ts'
import { createTokenCodec } from '../../src/delivery/tokens.ts'
import type { OutgoingMessage } from '../../src/delivery/transport.ts'
import { mailauthVerdicts, type TestKey, testKey, txtRecord, verifyByHand } from './dkim-check.ts'
import { header, startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

let server: TestSmtpServer
let dir: string
let rsa: TestKey
let ed: TestKey
let rsaFile: string

before(async () => {
  server = await startSmtpServer()
  dir = mkdtempSync(join(tmpdir(), 'inkstream-dkim-'))
  rsa = testKey('shop.example', 'rsa2026', 'rsa')
  ed = testKey('shop.example', 'ed2026', 'ed25519')
  rsaFile = join(dir, 'rsa.pem')
  writeFileSync(rsaFile, rsa.privatePem, { mode: 0o600 })
})
after(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

let counter = 0
const message = (overrides: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  messageId: `dkim-${++counter}`,
  from: 'Shop <news@shop.example>',
  to: `ann${counter}@example.org`,
  subject: 'Spring sale — 20 % off',
  // A line that starts with a dot: SMTP dot-stuffs it on the wire, the signature covers it unstuffed.
  text: 'Hello Ann,\n.dotted line\n..two dots\nBye',
  html: '<p>Hello <b>Ann</b></p>\n.<a href="https://shop.example/sale">Sale</a>',
  headers: {
    'List-Unsubscribe': '<https://inkstream.example/u/abc>',
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  },
  ...overrides,
})

/** Sends through a transport signing with `setting` and returns the raw message the server kept. */
async function sendSigned(
  setting: string,
  env: NodeJS.ProcessEnv,
  buildWorkers: number,
  msg: OutgoingMessage = message(),
): Promise<string> {
  const transport = new SmtpTransport({
    host: '127.0.0.1',
    port: server.port,
    secure: false,
    messageIdDomain: 'shop.example',
    buildWorkers,
    dkim: new DkimSigner(loadDkimKeys(setting, env)),
  })
  try {
    let ready = msg
    if (buildWorkers > 0) {
      // Bytes built (and signed) in a build worker, as a campaign's are: wait for one to be ready.
      const codec = createTokenCodec({
        keys: { k1: Buffer.alloc(32, 7) },
        currentKid: 'k1',
        clock: { now: Date.now },
      })
      // Until a worker is ready, build() builds inline (unsigned: send() signs those).
      for (let i = 0; i < 250 && ready.prepared?.dkimSigned !== true; i++) {
        ready = await transport.build({ message: msg }, codec, Date.now())
        if (ready.prepared?.dkimSigned !== true) await new Promise((r) => setTimeout(r, 20))
      }
      assert.equal(ready.prepared?.dkimSigned, true, 'the worker built and signed the bytes')
    }
    const outcome = await transport.send(ready)
    assert.equal(outcome.outcome, 'sent', JSON.stringify(outcome))
    const got = server.received.find((m) => m.rcptTo.includes(msg.to))
    assert.ok(got, `the server received ${msg.to}`)
    return got.raw
  } finally {
    await transport.close()
  }
}

const REQUIRED_SIGNED = [
  'from',
  'to',
  'subject',
  'date',
  'message-id',
  'mime-version',
  'content-type',
  'list-unsubscribe',
  'list-unsubscribe-post',
]

describe('DKIM signatures on messages sent over SMTP', () => {
  test('an RSA-SHA256 signature (key from a file) verifies with mailauth and by hand, and covers the headers that matter', async () => {
    const raw = await sendSigned(`shop.example:rsa2026:${rsaFile}`, {}, 0)
    assert.match(raw, /\r\n\.\.dotted line\r\n|\r\n\.dotted line\r\n/, 'the dotted line arrived')
    assert.ok(raw.includes('\r\n.dotted line\r\n'), 'dot-stuffing was undone by the server')
    assert.deepEqual(await mailauthVerdicts(raw, [rsa]), { rsa2026: 'pass' })
    const byHand = verifyByHand(raw, [rsa])
    assert.equal(byHand.rsa2026?.result, 'pass', byHand.rsa2026?.why)
    for (const name of REQUIRED_SIGNED) assert.ok(byHand.rsa2026?.signed.includes(name), `h= lacks ${name}`)
  })

  test('an Ed25519-SHA256 signature (RFC 8463, key from an environment variable) verifies both ways', async () => {
    const raw = await sendSigned(
      'shop.example:ed2026:env:DKIM_ED:ed25519-sha256',
      { DKIM_ED: ed.privatePem },
      0,
    )
    assert.match(header(raw, 'DKIM-Signature') ?? '', /a=ed25519-sha256/)
    assert.deepEqual(await mailauthVerdicts(raw, [ed]), { ed2026: 'pass' })
    assert.equal(verifyByHand(raw, [ed]).ed2026?.result, 'pass')
  })

  test('two signatures (RSA and Ed25519) on one message, built and signed in a worker thread, both verify', async () => {
    const raw = await sendSigned(
      `shop.example:rsa2026:${rsaFile},shop.example:ed2026:env:DKIM_ED`,
      { DKIM_ED: ed.privatePem },
      1,
    )
    const signatures = raw.match(/^DKIM-Signature:/gm) ?? []
    assert.equal(signatures.length, 2)
    assert.deepEqual(await mailauthVerdicts(raw, [rsa, ed]), { rsa2026: 'pass', ed2026: 'pass' })
    const byHand = verifyByHand(raw, [rsa, ed])
    assert.equal(byHand.rsa2026?.result, 'pass', byHand.rsa2026?.why)
    assert.equal(byHand.ed2026?.result, 'pass', byHand.ed2026?.why)
  })

  test('a tampered body, subject or unsubscribe header fails verification', async () => {
    const raw = await sendSigned(
      `shop.example:rsa2026:${rsaFile},shop.example:ed2026:env:DKIM_ED`,
      { DKIM_ED: ed.privatePem },
      0,
    )
    const tampered = {
      body: raw.replace('Hello Ann', 'Hello Bob'),
      subject: raw.replace(/^Subject: .*$/m, 'Subject: You won a prize'),
      unsubscribe: raw.replace('https://inkstream.example/u/abc', 'https://evil.example/u/abc'),
      'added From': raw.replace(/^From: /m, 'From: Bank <ceo@bank.example>\r\nX-Orig-From: '),
    }
    for (const [what, copy] of Object.entries(tampered)) {
      assert.notEqual(copy, raw, `${what} was changed`)
      // mailauth says `neutral` for a body hash mismatch and `fail` for a header signature mismatch.
      const verdicts = await mailauthVerdicts(copy, [rsa, ed])
      assert.deepEqual(Object.keys(verdicts).sort(), ['ed2026', 'rsa2026'], `mailauth: ${what}`)
      for (const verdict of Object.values(verdicts))
        assert.ok(verdict === 'fail' || verdict === 'neutral', `mailauth: ${what} is ${verdict}`)
      const byHand = verifyByHand(copy, [rsa, ed])
      assert.equal(byHand.rsa2026?.result, 'fail', `by hand: ${what}`)
      assert.equal(byHand.ed2026?.result, 'fail', `by hand: ${what}`)
    }
  })

  test('the .eml outbox (no SMTP configured) holds the message signed as SMTP would send it', async () => {
    const outbox = new FileTransport({
      dir: join(dir, 'outbox'),
      messageIdDomain: 'shop.example',
      dkim: new DkimSigner(loadDkimKeys(`shop.example:rsa2026:${rsaFile}`, {})),
    })
    const msg = message()
    assert.equal((await outbox.send(msg)).outcome, 'sent')
    const raw = readFileSync(outbox.pathFor(msg.messageId), 'utf8')
    assert.deepEqual(await mailauthVerdicts(raw, [rsa]), { rsa2026: 'pass' })
    assert.equal(verifyByHand(raw, [rsa]).rsa2026?.result, 'pass')
  })

  test('the DNS record each key needs is the one a receiver derives from the public key', () => {
    const keys = loadDkimKeys(`shop.example:rsa2026:${rsaFile},shop.example:ed2026:env:K`, {
      K: ed.privatePem,
    })
    assert.deepEqual(
      keys.map((k) => dkimRecord(k)),
      [txtRecord(rsa), txtRecord(ed)],
    )
  })
})
