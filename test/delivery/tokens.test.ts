import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
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

/** A token whose MAC is genuine (made with key(1) under kid k1) over whatever body text is given. */
const macOver = (kid: string, body: string, k = key(1)) =>
  `${kid}.${body}.${createHmac('sha256', k).update(`${kid}.${body}`).digest('base64url')}`
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url')
const signedFields = (fields: unknown) => macOver('k1', b64(JSON.stringify(fields)))
const EXP = T0 + 60_000
const base = ['ws-a', 'camp', 'user-1', 'msg-1'] as const
const openFields = [1, 'o', ...base, EXP]
const ids = { workspaceId: 'ws-a', campaignId: 'camp', recipient: 'user-1', messageId: 'msg-1' }
const MALFORMED = { ok: false, reason: 'malformed' }

describe('token codec: bodies that carry a genuine MAC', () => {
  const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })

  test('a hand-built body in the token format verifies, so the helper signs like the codec', () => {
    assert.deepEqual(codec.verify(signedFields(openFields)), {
      ok: true,
      payload: { kind: 'open', ...ids },
      expiresAt: EXP,
    })
    assert.deepEqual(codec.verify(signedFields([1, 'c', ...base, EXP, 'https://x.example/'])), {
      ok: true,
      payload: { kind: 'click', ...ids, url: 'https://x.example/' },
      expiresAt: EXP,
    })
    assert.deepEqual(codec.verify(signedFields([1, 'u', ...base, EXP])), {
      ok: true,
      payload: { kind: 'unsubscribe', ...ids },
      expiresAt: EXP,
    })
    assert.deepEqual(codec.verify(signedFields([1, 'u', ...base, EXP, 'a@b.example'])), {
      ok: true,
      payload: { kind: 'unsubscribe', ...ids, email: 'a@b.example' },
      expiresAt: EXP,
    })
  })

  test('a genuinely signed body that is not JSON, not an array or of the wrong length fails as malformed', () => {
    for (const text of ['not json', '', 'null', '{}', '{"length":7}', '"abcdefg"', '7'])
      assert.deepEqual(codec.verify(macOver('k1', b64(text))), MALFORMED, text)
    assert.deepEqual(codec.verify(signedFields(openFields.slice(0, 6))), MALFORMED, '6 fields')
    assert.deepEqual(
      codec.verify(signedFields([1, 'c', ...base, EXP, 'https://x.example/', 'extra'])),
      MALFORMED,
      '9 fields',
    )
  })

  test('a genuinely signed body with another version or an unknown kind code fails as malformed', () => {
    for (const [version, code] of [
      [2, 'o'],
      [0, 'o'],
      ['1', 'o'],
      [1, 'x'],
      [1, 'open'],
      [1, null],
    ])
      assert.deepEqual(
        codec.verify(signedFields([version, code, ...base, EXP])),
        MALFORMED,
        `${version} ${code}`,
      )
  })

  test('a genuinely signed body whose expiry is not a safe integer fails as malformed', () => {
    for (const expiresAt of [String(EXP), EXP + 0.5, 2 ** 53, null, 'soon'])
      assert.deepEqual(codec.verify(signedFields([1, 'o', ...base, expiresAt])), MALFORMED, String(expiresAt))
  })

  test('a genuinely signed body with an empty or non-string id fails as malformed, id by id', () => {
    for (let i = 2; i <= 5; i++)
      for (const bad of ['', ['x'], 7, null]) {
        const fields: unknown[] = [...openFields]
        fields[i] = bad
        assert.deepEqual(codec.verify(signedFields(fields)), MALFORMED, `field ${i} = ${JSON.stringify(bad)}`)
      }
  })

  test('a genuinely signed body whose extra field does not fit its kind fails as malformed', () => {
    const cases: [string, unknown[]][] = [
      ['click without url', [1, 'c', ...base, EXP]],
      ['click with empty url', [1, 'c', ...base, EXP, '']],
      ['click with array url', [1, 'c', ...base, EXP, ['https://x.example/']]],
      ['open with an extra field', [1, 'o', ...base, EXP, 'a@b.example']],
      ['unsubscribe with empty email', [1, 'u', ...base, EXP, '']],
      ['unsubscribe with numeric email', [1, 'u', ...base, EXP, 7]],
    ]
    for (const [name, fields] of cases) assert.deepEqual(codec.verify(signedFields(fields)), MALFORMED, name)
  })

  test('a non-canonical body fails as malformed even when its text carries a genuine MAC', () => {
    const body = b64(JSON.stringify(openFields))
    for (const text of [`${body}=`, `${body.slice(0, -1)}+`, `/${body.slice(1)}`])
      assert.deepEqual(codec.verify(macOver('k1', text)), MALFORMED, text)
  })

  test('an empty body fails as malformed before any MAC is checked', () => {
    // 43 'A's are the canonical base64url of 32 zero bytes: a tag of the right length, but not the MAC.
    assert.deepEqual(codec.verify(`k1..${'A'.repeat(43)}`), MALFORMED)
    assert.deepEqual(codec.verify(macOver('k1', '')), MALFORMED)
  })

  test('a value that is not a string fails as malformed instead of throwing', () => {
    for (const v of [undefined, null, 42, {}, ['k1', 'a', 'b']])
      assert.deepEqual(codec.verify(v as unknown as string), MALFORMED, String(v))
  })
})

describe('token codec: the size limit', () => {
  /** A click token of exactly `chars` characters (the kid length is varied because base64url skips 4m+1). */
  function tokenOfLength(chars: number): { token: string; codec: ReturnType<typeof createTokenCodec> } {
    for (const kid of ['k1', 'k12', 'k123', 'k1234']) {
      const codec = createTokenCodec({ keys: { [kid]: key(1) }, currentKid: kid, clock: fakeClock() })
      for (let n = 12_000; n < 12_400; n++) {
        const token = codec.sign({ ...click, url: `https://x.example/${'a'.repeat(n)}` }, 60_000)
        if (token.length === chars) return { token, codec }
      }
    }
    throw new Error(`no token of ${chars} characters`)
  }

  test('a genuine token of 16384 characters verifies, one of 16385 fails as malformed', () => {
    const atLimit = tokenOfLength(16_384)
    assert.equal(atLimit.codec.verify(atLimit.token).ok, true)
    const over = tokenOfLength(16_385)
    assert.deepEqual(over.codec.verify(over.token), MALFORMED)
  })
})

describe('token codec: refusals say what is wrong', () => {
  const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })
  const open: TokenPayload = { kind: 'open', ...ids }
  const refuses = (p: unknown, message: string, ttl = 1000) =>
    assert.throws(() => codec.sign(p as TokenPayload, ttl), { name: 'TypeError', message })

  test('signing names the unknown kind, the empty id, and the misplaced url or email', () => {
    refuses({ ...open, kind: 'bogus' }, 'unknown token kind "bogus"')
    for (const field of ['workspaceId', 'campaignId', 'recipient', 'messageId']) {
      refuses({ ...open, [field]: '' }, `a token needs a non-empty ${field}`)
      refuses({ ...open, [field]: ['x'] }, `a token needs a non-empty ${field}`)
    }
    refuses({ ...open, kind: 'click' }, 'url belongs in click tokens only')
    refuses({ ...open, url: 'https://x.example/' }, 'url belongs in click tokens only')
    refuses({ ...open, kind: 'click', url: '' }, 'a click token needs a url')
    refuses({ ...open, kind: 'click', url: 7 }, 'a click token needs a url')
    refuses({ ...open, email: 'a@b.example' }, 'email belongs in unsubscribe tokens only')
    refuses({ ...open, kind: 'unsubscribe', email: '' }, 'email belongs in unsubscribe tokens only')
    assert.throws(() => codec.sign(click, 0), {
      name: 'RangeError',
      message: 'ttlMs must be a positive integer, not 0',
    })
    // "Never expires" written as the largest integer: refused at sign, not a token that never verifies.
    assert.throws(() => codec.sign(click, Number.MAX_SAFE_INTEGER), {
      name: 'RangeError',
      message: `ttlMs ${Number.MAX_SAFE_INTEGER} puts the expiry past the largest safe integer`,
    })
  })

  test('signing refuses kinds that are only Object.prototype members', () => {
    for (const kind of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      refuses({ ...open, kind }, `unknown token kind "${kind}"`)
  })

  test('an unusable key configuration lists every problem, even when the current key is fine', () => {
    const clock = fakeClock()
    const cases: [TokenCodecOptionsInput, string[]][] = [
      [
        { keys: { k1: key(1), k2: Buffer.alloc(31) }, currentKid: 'k1' },
        ['token key "k2" must be at least 32 bytes'],
      ],
      [
        { keys: { k1: key(1), k2: 'x'.repeat(64) as unknown as Buffer }, currentKid: 'k1' },
        ['token key "k2" must be at least 32 bytes'],
      ],
      [
        { keys: { k1: key(1), 'bad kid': key(2) }, currentKid: 'k1' },
        ['token key id "bad kid" must be 1-32 characters of A-Z a-z 0-9 _ -'],
      ],
      [{ keys: { k1: key(1) }, currentKid: 'k2' }, ['the current token key id "k2" has no usable key']],
      [
        { keys: { k1: Buffer.alloc(16) }, currentKid: 'k1' },
        ['token key "k1" must be at least 32 bytes', 'the current token key id "k1" has no usable key'],
      ],
    ]
    for (const [c, problems] of cases)
      assert.throws(
        () => createTokenCodec({ ...c, clock }),
        (err) => {
          assert.ok(err instanceof InkError)
          assert.equal(err.code, 'INK_ERR_INVALID_CONFIG')
          assert.equal(err.message, `invalid token keys:\n  - ${problems.join('\n  - ')}`)
          assert.deepEqual(err.details, { problems })
          return true
        },
      )
  })
})

type TokenCodecOptionsInput = { keys: Record<string, Buffer>; currentKid: string }

describe('open-time tokens (kind t)', () => {
  const openTime: TokenPayload = { kind: 'open-time', ...ids, templateId: 'welcome', version: 3 }

  test('an open-time token verifies to its payload with the template id and version, and its body is [.., "t", .., id, version]', () => {
    const clock = fakeClock()
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock })
    const token = codec.sign(openTime, 180 * 86_400_000)
    assert.deepEqual(codec.verify(token), { ok: true, payload: openTime, expiresAt: T0 + 180 * 86_400_000 })
    const body = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
    assert.deepEqual(body, [1, 't', ...base, T0 + 180 * 86_400_000, 'welcome', 3])
    assert.deepEqual(codec.verify(signedFields([1, 't', ...base, EXP, 'welcome', 3])), {
      ok: true,
      payload: openTime,
      expiresAt: EXP,
    })
  })

  test('any generated open-time payload round-trips, and any one-character change fails', () => {
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })
    fc.assert(
      fc.property(
        fc.record({ workspaceId: id, campaignId: id, recipient: id, messageId: id, templateId: id }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        alteration,
        (ids, v, a) => {
          const payload: TokenPayload = { kind: 'open-time', ...ids, version: v }
          const token = codec.sign(payload, 60_000)
          const verified = codec.verify(token)
          assert.ok(verified.ok)
          assert.deepEqual(verified.payload, { ...payload })
          const altered = alter(token, a)
          if (altered !== token) assert.equal(codec.verify(altered).ok, false)
        },
      ),
    )
  })

  test('an open-time token expires like the others, and another workspace re-encoded fails as bad-signature', () => {
    const clock = fakeClock()
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock })
    const token = codec.sign(openTime, 1000)
    clock.t = T0 + 999
    assert.equal(codec.verify(token).ok, true)
    clock.t = T0 + 1000
    assert.deepEqual(codec.verify(token), { ok: false, reason: 'expired' })
    const [kid, , mac] = token.split('.')
    const other = b64(JSON.stringify([1, 't', 'ws-b', 'camp', 'user-1', 'msg-1', T0 + 1000, 'welcome', 3]))
    clock.t = T0
    assert.deepEqual(codec.verify(`${kid}.${other}.${mac}`), { ok: false, reason: 'bad-signature' })
  })

  test('a genuinely signed open-time body without a template id or a positive integer version fails as malformed', () => {
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })
    for (const fields of [
      [1, 't', ...base, EXP],
      [1, 't', ...base, EXP, 'welcome'],
      [1, 't', ...base, EXP, '', 3],
      [1, 't', ...base, EXP, 'welcome', 0],
      [1, 't', ...base, EXP, 'welcome', 1.5],
      [1, 't', ...base, EXP, 'welcome', '3'],
      [1, 't', ...base, EXP, 7, 3],
      [1, 'o', ...base, EXP, 'welcome', 3],
      [1, 'c', ...base, EXP, 'https://x.example/', 3],
    ])
      assert.deepEqual(codec.verify(signedFields(fields)), MALFORMED, JSON.stringify(fields))
  })

  test('signing refuses an open-time payload without template and version, and template fields on other kinds', () => {
    const codec = createTokenCodec({ keys: { k1: key(1) }, currentKid: 'k1', clock: fakeClock() })
    const need = /an open-time token needs a templateId and a positive integer version/
    assert.throws(() => codec.sign({ kind: 'open-time', ...ids }, 1000), need)
    assert.throws(() => codec.sign({ kind: 'open-time', ...ids, templateId: 'w', version: 0 }, 1000), need)
    assert.throws(() => codec.sign({ kind: 'open-time', ...ids, version: 2 }, 1000), need)
    assert.throws(
      () => codec.sign({ kind: 'open', ...ids, templateId: 'w', version: 1 }, 1000),
      /templateId and version belong in open-time tokens only/,
    )
  })
})
