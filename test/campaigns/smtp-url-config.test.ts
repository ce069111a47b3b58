import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadConfig, parseSmtpUrl } from '../../src/config.ts'
import { InkError } from '../../src/core/errors.ts'

describe('INKSTREAM_SMTP_URL and INKSTREAM_FROM', () => {
  test('smtp:// is STARTTLS on 587 by default, smtps:// is TLS on 465; credentials are URL-decoded', () => {
    assert.deepEqual(parseSmtpUrl('smtp://mail.example.com'), {
      ok: true,
      options: { host: 'mail.example.com', port: 587, secure: false },
    })
    assert.deepEqual(parseSmtpUrl('smtps://me%40shop.example:p%3Ass@mail.example.com'), {
      ok: true,
      options: {
        host: 'mail.example.com',
        port: 465,
        secure: true,
        auth: { user: 'me@shop.example', pass: 'p:ss' },
      },
    })
    assert.deepEqual(parseSmtpUrl('smtp://u:p@127.0.0.1:2525?requireTLS=true&maxConnections=2'), {
      ok: true,
      options: {
        host: '127.0.0.1',
        port: 2525,
        secure: false,
        auth: { user: 'u', pass: 'p' },
        requireTLS: true,
        maxConnections: 2,
      },
    })
  })

  test('postmarkMetadata: on for the relays of Postmark unless the URL says false, off elsewhere unless it says true', () => {
    const of = (url: string) => {
      const r = parseSmtpUrl(url)
      assert.ok(r.ok, url)
      return r.options.postmarkMetadata
    }
    assert.equal(of('smtp://token:token@smtp.postmarkapp.com:587'), true)
    assert.equal(of('smtp://token:token@SMTP-Broadcasts.PostmarkApp.com'), true)
    assert.equal(of('smtp://token:token@smtp.postmarkapp.com?postmarkMetadata=false'), false)
    assert.equal(of('smtp://mail.example.com'), undefined)
    assert.equal(of('smtp://postmarkapp.com.example.net'), undefined)
    assert.equal(of('smtp://relay.internal:2525?postmarkMetadata=true'), true)
    assert.deepEqual(parseSmtpUrl('smtp://h.example.com?postmarkMetadata=1'), {
      ok: false,
      problems: ['postmarkMetadata must be true or false'],
    })
  })

  test('a bad URL is a config error naming the variable and every problem, never the password', () => {
    const err = (() => {
      try {
        loadConfig({ INKSTREAM_SMTP_URL: 'http://u:secret@mail.example.com/x?pool=1' })
      } catch (e) {
        return e as InkError
      }
      assert.fail('no error')
    })()
    assert.ok(err instanceof InkError)
    assert.equal(err.code, 'INK_ERR_INVALID_CONFIG')
    assert.match(err.message, /INKSTREAM_SMTP_URL: scheme "http" is not smtp or smtps/)
    assert.match(err.message, /INKSTREAM_SMTP_URL: unexpected path "\/x"/)
    assert.match(err.message, /INKSTREAM_SMTP_URL: unknown parameter "pool"/)
    assert.doesNotMatch(err.message, /secret/)
    assert.throws(() => loadConfig({ INKSTREAM_SMTP_URL: 'not a url' }), /INKSTREAM_SMTP_URL: not a URL/)
    assert.throws(
      () => loadConfig({ INKSTREAM_SMTP_URL: 'smtps://h.example.com?ignoreTLS=true' }),
      /apply to smtp:\/\/ only/,
    )
    assert.throws(
      () => loadConfig({ INKSTREAM_SMTP_URL: 'smtp://h.example.com?requireTLS=yes' }),
      /true or false/,
    )
  })

  test('INKSTREAM_FROM takes a mailbox; both are optional', () => {
    const config = loadConfig({
      INKSTREAM_SMTP_URL: 'smtp://mail.example.com:25',
      INKSTREAM_FROM: 'Shop <news@shop.example>',
    })
    assert.equal(config.smtpUrl, 'smtp://mail.example.com:25')
    assert.equal(config.from, 'Shop <news@shop.example>')
    assert.equal(loadConfig({}).smtpUrl, undefined)
    assert.throws(() => loadConfig({ INKSTREAM_FROM: 'Shop <nope>' }), /INKSTREAM_FROM: not a sender address/)
  })
})
