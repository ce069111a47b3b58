/** The Inkstream-Signature scheme (Stripe's): what a receiver accepts and refuses. */
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { signatureHeader, verifySignature } from '../../src/webhooks/signature.ts'

const SECRET = 'whsec_test_0123456789abcdef'
const NOW = 1_800_000_000_000
const BODY = '{"id":"x","type":"email.opened"}'

describe('Inkstream-Signature', () => {
  test('is t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>', () => {
    const expected = createHmac('sha256', SECRET).update(`1800000000.${BODY}`).digest('hex')
    assert.equal(signatureHeader(SECRET, BODY, NOW + 999), `t=1800000000,v1=${expected}`)
  })

  test('verifies with the secret within 300 s either way, and not beyond', () => {
    const header = signatureHeader(SECRET, BODY, NOW)
    assert.deepEqual(verifySignature(header, BODY, SECRET, NOW + 300_000), { ok: true, t: 1_800_000_000 })
    assert.deepEqual(verifySignature(header, BODY, SECRET, NOW - 300_000), { ok: true, t: 1_800_000_000 })
    assert.deepEqual(verifySignature(header, BODY, SECRET, NOW + 300_001), { ok: false, reason: 'too_old' })
    assert.deepEqual(verifySignature(header, BODY, SECRET, NOW + 60_000, 30), {
      ok: false,
      reason: 'too_old',
    })
  })

  test('fails with another secret, another body, or a re-dated timestamp', () => {
    const header = signatureHeader(SECRET, BODY, NOW)
    const mismatch = { ok: false, reason: 'mismatch' }
    assert.deepEqual(verifySignature(header, BODY, 'whsec_another_secret_000', NOW), mismatch)
    assert.deepEqual(verifySignature(header, `${BODY} `, SECRET, NOW), mismatch)
    assert.deepEqual(
      verifySignature(header.replace('t=1800000000', 't=1800000001'), BODY, SECRET, NOW),
      mismatch,
    )
  })

  test('accepts any of several v1 values (a secret being rotated); refuses malformed headers', () => {
    const header = signatureHeader(SECRET, BODY, NOW)
    const old = signatureHeader('whsec_old_secret_00000000', BODY, NOW).split(',')[1]
    assert.deepEqual(verifySignature(`${header},${old}`, BODY, SECRET, NOW), { ok: true, t: 1_800_000_000 })
    const malformed = { ok: false, reason: 'malformed' }
    for (const bad of [undefined, '', 't=1800000000', 'v1=abc', `t=soon,${header.split(',')[1]}`, 'garbage'])
      assert.deepEqual(verifySignature(bad, BODY, SECRET, NOW), malformed, String(bad))
  })

  test('every body and secret round-trip, and any changed body fails', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ minLength: 1, unit: 'binary' }),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        fc.string({ minLength: 1, unit: 'binary' }),
        (body, secret, now, extra) => {
          const header = signatureHeader(secret, body, now)
          assert.equal(verifySignature(header, body, secret, now).ok, true)
          assert.equal(verifySignature(header, body + extra, secret, now).ok, false)
        },
      ),
    )
  })
})
