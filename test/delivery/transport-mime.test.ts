import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { parseMailbox } from '../../src/delivery/mailbox.ts'
import { foldSubject, messageIdHeader, prepareMessage, validateMessage } from '../../src/delivery/mime.ts'
import type { OutgoingMessage } from '../../src/delivery/transport.ts'
import { headerValues } from './smtp-test-server.ts'

const valid: OutgoingMessage = {
  messageId: '01JD7Q3ZK8.cart-7',
  from: 'Inkstream Shop <shop@example.com>',
  to: 'ann@example.org',
  replyTo: 'help@example.com',
  subject: 'Your cart',
  html: '<p>Hi</p>',
  text: 'Hi',
  headers: {
    'List-Unsubscribe': '<https://example.com/u/x>',
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  },
}

const refusal = (msg: Partial<OutgoingMessage>) => {
  const result = validateMessage({ ...valid, ...msg })
  return result.ok ? null : result.field
}

describe('validateMessage', () => {
  test('a well-formed message is valid', () => {
    assert.deepEqual(validateMessage(valid), { ok: true })
  })

  test('CR, LF and NUL in an address are refused in from, to and replyTo', () => {
    for (const field of ['from', 'to', 'replyTo'] as const) {
      for (const bad of [
        'ann@example.org\r\nBcc: evil@example.net',
        'ann@exa\nmple.org',
        'ann\u0000@example.org',
      ]) {
        assert.equal(refusal({ [field]: bad }), field, `${field} = ${JSON.stringify(bad)}`)
      }
    }
  })

  test('CR, LF and NUL in a display name are refused in from, to and replyTo', () => {
    for (const field of ['from', 'to', 'replyTo'] as const) {
      for (const bad of [
        'Ann\r\nBcc: evil@example.net <ann@example.org>',
        '"Ann\rLee" <ann@example.org>',
        'A\u0000 <a@example.org>',
      ]) {
        assert.equal(refusal({ [field]: bad }), field, `${field} = ${JSON.stringify(bad)}`)
      }
    }
  })

  test('a recipient list in to is refused with a message that says one recipient per message', () => {
    const result = validateMessage({ ...valid, to: 'ann@example.org, bob@example.org' })
    assert.deepEqual(result, {
      ok: false,
      field: 'to',
      message: 'to lists 2 addresses; a message has exactly one recipient',
    })
  })

  test('forms nodemailer would read leniently as one mailbox are refused', () => {
    for (const to of [
      'ann@example.org bob@example.org',
      'Ann <ann@example.org> <bob@example.org>',
      'Ann <ann@example.org> bob@example.org',
      'friends: ann@example.org;',
      'ann@example.org (Ann)',
      'Lee, Ann <ann@example.org>',
      'ann',
      'ann@',
      '@example.org',
      'ann@localhost',
      '"ann"@example.org',
      'ann@[127.0.0.1]',
      '',
    ]) {
      assert.equal(refusal({ to }), 'to', JSON.stringify(to))
    }
  })

  test('ordinary mailbox forms are accepted and parsed', () => {
    assert.deepEqual(
      [
        'ann@example.org',
        '<ann@example.org>',
        'Ann B. Lee <ann@example.org>',
        '"Lee, Ann" <ann@example.org>',
        '"Say \\"hi\\"" <ann@example.org>',
        'Jöhn 🛒 <jöhn@exämple.org>',
      ].map((value) => {
        const parsed = parseMailbox(value)
        return parsed.ok ? parsed.mailbox : parsed.message
      }),
      [
        { name: '', address: 'ann@example.org' },
        { name: '', address: 'ann@example.org' },
        { name: 'Ann B. Lee', address: 'ann@example.org' },
        { name: 'Lee, Ann', address: 'ann@example.org' },
        { name: 'Say "hi"', address: 'ann@example.org' },
        { name: 'Jöhn 🛒', address: 'jöhn@exämple.org' },
      ],
    )
  })

  test('CR, LF and NUL in a header value are refused, a tab is not', () => {
    for (const bad of ['<https://x.example>\r\nBcc: evil@example.net', 'a\nb', 'a\rb', 'a\u0000b']) {
      assert.equal(refusal({ headers: { 'X-Campaign': bad } }), 'headers.X-Campaign', JSON.stringify(bad))
    }
    assert.equal(refusal({ headers: { 'X-Campaign': 'a\tb' } }), null)
  })

  test('a header name with CR, LF, NUL, a colon or a space is refused', () => {
    for (const name of ['X-Evil\r\nBcc', 'X-Evil\n', 'X\u0000', 'Bcc: evil@example.net\r\nX', 'X Evil', '']) {
      assert.equal(refusal({ headers: { [name]: 'v' } }), `headers.${name}`, JSON.stringify(name))
    }
  })

  test('headers the transport sets itself cannot be given as extra headers', () => {
    for (const name of ['Bcc', 'cc', 'TO', 'From', 'Subject', 'Message-ID', 'Content-Type', 'Reply-To']) {
      assert.equal(refusal({ headers: { [name]: 'evil@example.net' } }), `headers.${name}`, name)
    }
  })

  test('CR, LF, NUL or anything outside dot-atom text in messageId is refused', () => {
    for (const messageId of [
      'abc\r\nBcc: x',
      'abc\n',
      'abc\u0000',
      'a@b',
      '<abc>',
      'a b',
      '.abc',
      'a..b',
      '',
      'x'.repeat(201),
    ]) {
      assert.equal(refusal({ messageId }), 'messageId', JSON.stringify(messageId))
    }
  })

  test('NUL in the subject is refused', () => {
    assert.equal(refusal({ subject: 'Hello\u0000' }), 'subject')
  })

  test('CR and LF in the subject are valid and folded to spaces when the message is prepared', () => {
    assert.deepEqual(validateMessage({ ...valid, subject: 'Hello\r\nBcc: evil@example.net' }), { ok: true })
    const prepared = prepareMessage({ ...valid, subject: 'a\r\nb\nc\rd\r\n\r\ne' }, 'mail.example.com')
    assert.ok(prepared.ok)
    assert.deepEqual(headerValues(prepared.raw.toString('utf8'), 'Subject'), ['a b c d  e'])
    assert.equal(foldSubject('x\r\n\ty'), 'x \ty')
  })

  test('any string with CR, LF or NUL put into an address or header value is refused', () => {
    const breaker = fc.constantFrom('\r', '\n', '\r\n', '\u0000')
    const text = fc.string({ maxLength: 20 })
    fc.assert(
      fc.property(
        text,
        breaker,
        text,
        fc.constantFrom('from', 'to', 'replyTo', 'header'),
        (a, br, b, where) => {
          const injected = `${a}${br}${b}`
          const msg =
            where === 'header'
              ? { ...valid, headers: { 'X-Data': injected } }
              : { ...valid, [where]: `${injected} <ann@example.org>` }
          return !validateMessage(msg).ok
        },
      ),
    )
  })

  test('every mailbox that parses holds no control character and no angle bracket in its address', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (value) => {
        const parsed = parseMailbox(value)
        if (!parsed.ok) return true
        const { name, address } = parsed.mailbox
        return !/[\p{Cc}]/u.test(name + address) && !/[<>,;\s"]/.test(address)
      }),
    )
  })
})

describe('messageIdHeader', () => {
  test('wraps the id and the domain in angle brackets', () => {
    assert.equal(
      messageIdHeader('01JD7Q3ZK8.cart-7', 'mail.example.com'),
      '<01JD7Q3ZK8.cart-7@mail.example.com>',
    )
  })

  test('the prepared message carries it as its Message-ID and sets the envelope to the one recipient', () => {
    const prepared = prepareMessage({ ...valid, to: '"Lee, Ann" <ann@example.org>' }, 'mail.example.com')
    assert.ok(prepared.ok)
    assert.equal(prepared.messageIdHeader, '<01JD7Q3ZK8.cart-7@mail.example.com>')
    assert.deepEqual(headerValues(prepared.raw.toString('utf8'), 'Message-ID'), [
      '<01JD7Q3ZK8.cart-7@mail.example.com>',
    ])
    assert.deepEqual(prepared.envelope, { from: 'shop@example.com', to: ['ann@example.org'] })
  })
})
