import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { type AddressObject, simpleParser } from 'mailparser'
import { prepareMessage } from '../../src/delivery/mime.ts'
import { encodeQuotedPrintable } from '../../src/delivery/mime-compose.ts'
import type { OutgoingMessage } from '../../src/delivery/transport.ts'
import { headerValues } from './smtp-test-server.ts'

const base: OutgoingMessage = {
  messageId: 'm-1',
  from: 'Shop <shop@example.com>',
  to: 'ann@example.org',
  subject: 'Hello',
  html: '<p>Hi</p>',
  text: 'Hi',
}

/** Builds the message and reads it back with mailparser (an independent MIME parser). */
async function roundTrip(msg: OutgoingMessage) {
  const prepared = prepareMessage(msg, 'mail.example.com', new Date('2026-11-28T10:00:00Z'))
  assert.ok(prepared.ok, prepared.ok ? '' : prepared.message)
  return { raw: prepared.raw.toString('utf8'), parsed: await simpleParser(prepared.raw) }
}

const only = (a: AddressObject | AddressObject[] | undefined) => {
  assert.ok(a && !Array.isArray(a) && a.value.length === 1, 'exactly one mailbox')
  return a.value[0]!
}

const asciiTrim = (s: string) => s.replace(/^[ \t]+|[ \t]+$/g, '')

/** Text whose line breaks are all LF, as a parser hands the decoded body back. */
const lf = (s: string) => s.replace(/\r\n|\r/g, '\n')

const textArb = fc.string({ unit: 'grapheme', maxLength: 300 })
const linesArb = fc
  .array(fc.oneof(textArb, fc.constantFrom(' ', '\t', '=', '.', '\r\n', '\n', '\r', '  \n', '=\n', 'ü')), {
    maxLength: 30,
  })
  .map((parts) => parts.join(''))

describe('encodeQuotedPrintable', () => {
  test('encodes =, non-ASCII and whitespace before a line break; keeps printable ASCII', () => {
    assert.equal(encodeQuotedPrintable('a=b ü \t\nx'), 'a=3Db =C3=BC =09\r\nx')
  })

  test('every output line is at most 76 characters, holds only printable ASCII and never ends in whitespace', () => {
    fc.assert(
      fc.property(linesArb, (text) => {
        const out = encodeQuotedPrintable(text)
        for (const line of out.split('\r\n')) {
          if (line.length > 76) return false
          if (/[ \t]$/.test(line)) return false
          if (/[^\x20-\x7e\t]/.test(line)) return false
        }
        return !/\r(?!\n)|(?<!\r)\n/.test(out)
      }),
      { numRuns: 500 },
    )
  })

  test('decoded, the output is the UTF-8 of the text with CRLF line breaks (lone surrogates as U+FFFD)', () => {
    // A decoder written here: soft breaks removed, each =XX one byte, every other character itself.
    const decode = (qp: string): Buffer => {
      const body = qp.replace(/=\r\n/g, '')
      const bytes: number[] = []
      for (let i = 0; i < body.length; i++) {
        if (body[i] === '=') {
          assert.match(body.slice(i + 1, i + 3), /^[0-9A-F]{2}$/)
          bytes.push(Number.parseInt(body.slice(i + 1, i + 3), 16))
          i += 2
        } else bytes.push(body.charCodeAt(i))
      }
      return Buffer.from(bytes)
    }
    const anyText = fc
      .array(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 120 }),
          linesArb,
          fc.constantFrom('\ud800', '\udfffx', '😀', '=', ' '.repeat(80), 'é'.repeat(40), '\x00\x7f'),
        ),
        { maxLength: 12 },
      )
      .map((parts) => parts.join(''))
    fc.assert(
      fc.property(anyText, (text) =>
        decode(encodeQuotedPrintable(text)).equals(Buffer.from(text.replace(/\r\n|\r|\n/g, '\r\n'), 'utf8')),
      ),
      { numRuns: 1000 },
    )
  })

  test('a long line is soft-broken without splitting an =XX escape', () => {
    const out = encodeQuotedPrintable('é'.repeat(100))
    for (const line of out.split('\r\n')) assert.match(line, /^(=C3|=A9)*=?$/)
  })
})

describe('composeMessage, read back by mailparser', () => {
  test('subject, addresses, both parts and the extra headers survive for any text', async () => {
    await fc.assert(
      fc.asyncProperty(textArb, linesArb, linesArb, async (subject, text, html) => {
        const { parsed } = await roundTrip({
          ...base,
          subject: subject.replace(/[\r\n\0]/g, ' '),
          text,
          html,
        })
        // A parser trims the ASCII whitespace around a header value; other spaces (U+00A0, U+3000) stay.
        assert.equal(parsed.subject ?? '', asciiTrim(subject.replace(/[\r\n\0]/g, ' ')))
        assert.equal(lf(parsed.text ?? '').replace(/\n$/, ''), lf(text).replace(/\n$/, ''))
        assert.equal(lf(typeof parsed.html === 'string' ? parsed.html : ''), lf(html))
      }),
      { numRuns: 300 },
    )
  })

  test('display names with quotes, commas and non-ASCII come back as they were', async () => {
    for (const [from, name, address] of [
      ['"Lee, Ann" <ann@example.org>', 'Lee, Ann', 'ann@example.org'],
      ['"Say \\"hi\\"" <ann@example.org>', 'Say "hi"', 'ann@example.org'],
      ['Jöhn 🛒 Größe <john@example.org>', 'Jöhn 🛒 Größe', 'john@example.org'],
      ['Ann B. Lee <ann@example.org>', 'Ann B. Lee', 'ann@example.org'],
      ['shop@example.com', '', 'shop@example.com'],
    ] as const) {
      const { parsed } = await roundTrip({ ...base, from, replyTo: from, to: from })
      for (const field of [parsed.from, parsed.to, parsed.replyTo]) {
        assert.deepEqual({ ...only(field) }, { address, name }, from)
      }
    }
  })

  test('an internationalized domain goes out in punycode', async () => {
    const { raw, parsed } = await roundTrip({ ...base, to: 'Ann <ann@exämple.org>' })
    assert.match(raw, /^To: Ann <ann@xn--exmple-cua\.org>\r$/m)
    // mailparser shows the domain decoded again.
    assert.equal(only(parsed.to).address, 'ann@exämple.org')
  })

  test('a long non-ASCII subject is folded into encoded words no line of which exceeds 78 characters', async () => {
    const subject = `Ihre Bestellung über ${'Größenangaben '.repeat(12)}ist unterwegs 🚚`
    const { raw, parsed } = await roundTrip({ ...base, subject })
    assert.equal(parsed.subject, subject.trim())
    const head = raw.slice(0, raw.indexOf('\r\n\r\n'))
    for (const line of head.split('\r\n')) assert.ok(line.length <= 78, line)
  })

  test('headers: Message-ID, Date, MIME-Version, extra headers; parts are text then HTML', async () => {
    const { raw, parsed } = await roundTrip({
      ...base,
      headers: {
        'List-Unsubscribe': `<https://t.example.com/u/${'x'.repeat(300)}>, <mailto:u@example.com>`,
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        'X-Campaign': 'Frühling',
      },
    })
    assert.equal(parsed.messageId, '<m-1@mail.example.com>')
    assert.equal(parsed.date?.toISOString(), '2026-11-28T10:00:00.000Z')
    assert.equal(parsed.headers.get('mime-version'), '1.0')
    assert.deepEqual(headerValues(raw, 'X-Campaign'), ['Frühling'])
    const list = parsed.headers.get('list') as { unsubscribe: { url?: string; mail?: string } }
    assert.equal(list.unsubscribe.url, `https://t.example.com/u/${'x'.repeat(300)}`)
    assert.equal(list.unsubscribe.mail, 'u@example.com')
    // Unfolded, the one-click header is exactly what RFC 8058 asks for.
    assert.deepEqual(headerValues(raw, 'List-Unsubscribe-Post'), ['List-Unsubscribe=One-Click'])
    assert.ok(raw.indexOf('Content-Type: text/plain') < raw.indexOf('Content-Type: text/html'))
    for (const line of raw.split('\r\n')) assert.ok(line.length <= 998, 'RFC 5322 line limit')
  })

  test('the boundary never occurs in a body, whatever the body holds', async () => {
    const prepared = prepareMessage(
      { ...base, html: '--=_ink_ =_ink_ =_', text: '--=_ink_' },
      'mail.example.com',
    )
    assert.ok(prepared.ok)
    const raw = prepared.raw.toString('latin1')
    const boundary = /boundary="([^"]+)"/.exec(raw)?.[1]
    assert.ok(boundary)
    assert.equal(raw.split(`--${boundary}`).length, 4, 'two part starts and the closing delimiter only')
  })
})

describe('composeMessage with an AMP part', () => {
  const partTypes = (raw: string) => [...raw.matchAll(/^Content-Type: ([^;\r\n]+)/gm)].map((m) => m[1])

  test('text/plain, text/x-amp-html, text/html in that order, the AMP body read back exactly', async () => {
    const amp = '<!doctype html>\n<html ⚡4email>\n<body><p>Hi = there</p></body></html>\n'
    const { raw, parsed } = await roundTrip({ ...base, amp })
    assert.deepEqual(partTypes(raw), ['multipart/alternative', 'text/plain', 'text/x-amp-html', 'text/html'])
    assert.equal(parsed.html, '<p>Hi</p>', 'clients without AMP still get the HTML part')
    assert.equal(parsed.text, 'Hi')
    const boundary = /boundary="([^"]+)"/.exec(raw)?.[1] ?? ''
    const ampChunk = raw.split(`--${boundary}`)[2] ?? ''
    const body = ampChunk.slice(ampChunk.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, '')
    const decoded = Buffer.from(
      body
        .replace(/=\r\n/g, '')
        .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    ).toString('utf8')
    assert.equal(lf(decoded), amp)
  })

  test('without an AMP part the message keeps its two parts', async () => {
    const { raw } = await roundTrip(base)
    assert.deepEqual(partTypes(raw), ['multipart/alternative', 'text/plain', 'text/html'])
  })
})
