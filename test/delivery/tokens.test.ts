import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { InkError } from '../../src/core/errors.ts'
import { createTokenCodec, type TokenPayload } from '../../src/delivery/tokens.ts'

const T0 = 1_800_000_000_000
const key = (byte: number) => Buffer.alloc(32, byte)
const fakeClock = (t = T0) => ({
  t,
  now() {
    return this.t
  },
})

const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 })
const payloadArb: fc.Arbitrary<TokenPayload> = fc
  .oneof(
    fc.record({
      kind: fc.constant('click' as const),
      workspaceId: id,
      campaignId: id,
      recipient: id,
      messageId: id,
      url: fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), id),
    }),
    fc.record({
      kind: fc.constant('open' as const),
      workspaceId: id,
      campaignId: id,
      recipient: id,
      messageId: id,
    }),
    fc.record(
      {
        kind: fc.constant('unsubscribe' as const),
        workspaceId: id,
        campaignId: id,
        recipient: id,
        messageId: id,
        email: fc.emailAddress(),
      },
      { requiredKeys: ['kind', 'workspaceId', 'campaignId', 'recipient', 'messageId'] },
    ),
    // fc.record builds null-prototype objects; deepStrictEqual would count that as a difference.
  )
  .map((p) => ({ ...p }))

const click: TokenPayload = {
  kind: 'click',
  workspaceId: 'ws-a',
  campaignId: 'spring-sale',
  recipient: 'user-1',
  messageId: 'msg-1',
  url: 'https://shop.example/p?id=1&utm=x#top',
}

/** Every way to change one character: replace it, delete it, or insert one before it. */
const alteration = fc.record({
  op: fc.constantFrom('replace', 'delete', 'insert'),
  at: fc.nat(),
  char: fc.constantFrom(...'ABCabc019-_.=+/% \u00e9'.split('')),
})

function alter(token: string, a: { op: string; at: number; char: string }): string {
  const i = a.at % token.length
  if (a.op === 'delete') return token.slice(0, i) + token.slice(i + 1)
  if (a.op === 'insert') return token.slice(0, i) + a.char + token.slice(i)
  return token.slice(0, i) + a.char + token.slice(i + 1)
}

describe('token codec', () => {
  test('a signed token verifies to exactly the payload it was signed with', () => {
    const clock = fakeClock()
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock })
    fc.assert(
      fc.property(payloadArb, fc.integer({ min: 1, max: 10 * 365 * 86_400_000 }), (payload, ttl) => {
        const token = codec.sign(payload, ttl)
        assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'tokens are URL-safe')
        assert.deepEqual(codec.verify(token), { ok: true, payload, expiresAt: T0 + ttl })
      }),
    )
  })

  test('changing, removing or adding any one character makes a token fail', () => {
    const codec = createTokenCodec({ keys: { k1: key(1), k2: key(2) }, currentKid: 'k1', clock: fakeClock() })
    fc.assert(
      fc.property(payloadArb, alteration, (payload, a) => {
        const token = codec.sign(payload, 60_000)
        const altered = alter(token, a)
        fc.pre(altered !== token)
        const result = codec.verify(altered)
        assert.equal(result.ok, false, `altered token ${altered} verified`)
      }),
      { numRuns: 2000 },
    )
  })

  test('every single-character change of one token fails, position by position', () => {
    const codec = createTokenCodec({ keys: { k1: key(1), k2: key(2) }, currentKid: 'k1', clock: fakeClock() })
    const token = codec.sign(click, 60_000)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'
    for (let i = 0; i < token.length; i++) {
      for (const c of alphabet) {
        if (c === token[i]) continue
        const altered = token.slice(0, i) + c + token.slice(i + 1)
        assert.equal(codec.verify(altered).ok, false, `position ${i} changed to ${c} verified`)
      }
    }
  })

  test('a payload re-encoded for another workspace keeps its old MAC and fails as a bad signature', () => {
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })
    const [kid, body, mac] = codec.sign(click, 60_000).split('.') as [string, string, string]
    const fields = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
    fields[2] = 'ws-b'
    const forged = `${kid}.${Buffer.from(JSON.stringify(fields)).toString('base64url')}.${mac}`
    assert.deepEqual(codec.verify(forged), { ok: false, reason: 'bad-signature' })
  })

  test('a token verifies until its expiry and fails as expired from then on', () => {
    const clock = fakeClock()
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock })
    fc.assert(
      fc.property(
        payloadArb,
        fc.integer({ min: 1, max: 1e9 }),
        fc.integer({ min: 0, max: 1e9 }),
        (p, ttl, d) => {
          clock.t = T0
          const token = codec.sign(p, ttl)
          clock.t = T0 + d
          const result = codec.verify(token)
          if (d < ttl) assert.equal(result.ok, true)
          else assert.deepEqual(result, { ok: false, reason: 'expired' })
        },
      ),
    )
  })

  test('an expired but authentic token verifies only when expiry is explicitly ignored', () => {
    const clock = fakeClock()
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock })
    const token = codec.sign(
      { kind: 'unsubscribe', workspaceId: 'ws-a', campaignId: 'c', recipient: 'user-1', messageId: 'm' },
      1000,
    )
    clock.t += 1000
    assert.deepEqual(codec.verify(token), { ok: false, reason: 'expired' })
    const result = codec.verify(token, { ignoreExpiry: true })
    assert.equal(result.ok && result.payload.recipient, 'user-1')
  })

  test('a token whose key id the verifier does not know fails as unknown-key', () => {
    const signer = createTokenCodec({ keys: { other: key(9) }, currentKid: 'other', clock: fakeClock() })
    const verifier = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })
    fc.assert(
      fc.property(payloadArb, (p) => {
        assert.deepEqual(verifier.verify(signer.sign(p, 60_000)), { ok: false, reason: 'unknown-key' })
      }),
    )
  })

  test('a key id that names an Object.prototype member is unknown, not a key', () => {
    const verifier = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })
    const [, body, mac] = verifier.sign(click, 60_000).split('.')
    for (const kid of ['constructor', '__proto__', 'toString'])
      assert.deepEqual(verifier.verify(`${kid}.${body}.${mac}`), { ok: false, reason: 'unknown-key' })
  })

  test('a key with the same id but other bytes fails as a bad signature', () => {
    const a = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })
    const b = createTokenCodec({ keys: { k1: key(2) }, currentKid: 'k1', clock: fakeClock() })
    assert.deepEqual(b.verify(a.sign(click, 60_000)), { ok: false, reason: 'bad-signature' })
  })

  test('after rotation new tokens use the current key, old-but-kept keys verify and removed keys fail', () => {
    const clock = fakeClock()
    const before = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock })
    const during = createTokenCodec({ keys: { k1: key(1), k2: key(2) }, currentKid: 'k2', clock })
    const after = createTokenCodec({ keys: { k2: key(2) }, currentKid: 'k2', clock })
    fc.assert(
      fc.property(payloadArb, (p) => {
        const old = before.sign(p, 60_000)
        const fresh = during.sign(p, 60_000)
        assert.ok(old.startsWith('k1.') && fresh.startsWith('k2.'))
        assert.deepEqual(during.verify(old), { ok: true, payload: p, expiresAt: T0 + 60_000 })
        assert.deepEqual(after.verify(fresh), { ok: true, payload: p, expiresAt: T0 + 60_000 })
        assert.deepEqual(after.verify(old), { ok: false, reason: 'unknown-key' })
      }),
    )
  })

  test('strings that are not tokens fail as malformed', () => {
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })
    const token = codec.sign(click, 60_000)
    for (const bad of [
      '',
      'abc',
      'k1..',
      `${token}.x`,
      `${token}=`,
      `k 1.${token.slice(3)}`,
      'x'.repeat(20_000),
    ])
      assert.deepEqual(codec.verify(bad), { ok: false, reason: 'malformed' }, bad.slice(0, 40))
  })

  test('unusable key configuration is refused with INK_ERR_INVALID_CONFIG', () => {
    const clock = fakeClock()
    const cases = [
      { keys: { k1: Buffer.alloc(16) }, currentKid: 'k1' },
      { keys: { 'bad kid': key(1) }, currentKid: 'bad kid' },
      { keys: { k1: key(1) }, currentKid: 'k2' },
    ]
    for (const c of cases)
      assert.throws(
        () => createTokenCodec({ ...c, clock }),
        (err) => err instanceof InkError && err.code === 'INK_ERR_INVALID_CONFIG',
      )
  })

  test('signing refuses payloads that do not fit their kind and non-positive lifetimes', () => {
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })
    const { url: _url, ...open } = { ...click, kind: 'open' as const }
    assert.throws(() => codec.sign({ ...open, kind: 'click' }, 1000), TypeError)
    assert.throws(() => codec.sign({ ...open, url: 'https://x.example/' }, 1000), TypeError)
    assert.throws(() => codec.sign({ ...open, email: 'a@b.example' }, 1000), TypeError)
    assert.throws(() => codec.sign({ ...open, workspaceId: '' }, 1000), TypeError)
    assert.throws(() => codec.sign(click, 0), RangeError)
    assert.throws(() => codec.sign(click, 1.5), RangeError)
  })
})
