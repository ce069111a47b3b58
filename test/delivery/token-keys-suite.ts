/**
 * The token-key store suite: link-signing keys persist, every process signs with the same one,
 * and rotation keeps old links working. SQLite (loadTokenKeys) and PostgreSQL (loadPgTokenKeys).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { TokenKeys } from '../../src/delivery/token-keys.ts'
import { createTokenCodec, type TokenPayload } from '../../src/delivery/tokens.ts'

export interface TokenKeysFactory {
  name: string
  /** Loads the keys at a location (creating the first), as a process starting there would. */
  load(location: string, now: number): Promise<TokenKeys>
  /** Adds a key directly, as an operator rotating keys does. */
  addKey(location: string, kid: string, secret: Buffer, createdAt: number): Promise<void>
  location(): Promise<string>
  cleanup(location: string): Promise<void>
}

const T0 = 1_800_000_000_000
const payload: TokenPayload = {
  kind: 'open',
  workspaceId: 'w',
  campaignId: 'c',
  recipient: 'u1',
  messageId: 'm1',
}

export function tokenKeysSuite(impl: TokenKeysFactory, opts: { skip?: string | false } = {}) {
  describe(`token keys: ${impl.name}`, { skip: opts.skip ?? false }, () => {
    const at = async (fn: (location: string) => Promise<void>) => {
      const location = await impl.location()
      try {
        await fn(location)
      } finally {
        await impl.cleanup(location)
      }
    }

    test('the first start creates one 32-byte key; later starts sign with the same key', () =>
      at(async (location) => {
        const first = await impl.load(location, T0)
        assert.deepEqual(Object.keys(first.keys), [first.currentKid])
        assert.equal(first.keys[first.currentKid]?.length, 32)
        const later = await impl.load(location, T0 + 86_400_000)
        assert.equal(later.currentKid, first.currentKid)
        assert.deepEqual(later.keys, first.keys)
        const clock = { now: () => T0 }
        const token = createTokenCodec({ ...first, clock }).sign(payload, 60_000)
        assert.equal(createTokenCodec({ ...later, clock }).verify(token).ok, true)
      }))

    test('processes starting together for the first time create a single key', () =>
      at(async (location) => {
        const loaded = await Promise.all([impl.load(location, T0), impl.load(location, T0 + 1)])
        assert.equal(loaded[0].currentKid, loaded[1].currentKid)
        assert.deepEqual(Object.keys(loaded[1].keys), [loaded[1].currentKid])
      }))

    test('a newer key signs, and links signed with the older one keep verifying', () =>
      at(async (location) => {
        const before = await impl.load(location, T0)
        const clock = { now: () => T0 }
        const old = createTokenCodec({ ...before, clock }).sign(payload, 60_000)
        await impl.addKey(location, 'k2', Buffer.alloc(32, 7), T0 + 1000)
        const after = await impl.load(location, T0 + 2000)
        assert.equal(after.currentKid, 'k2')
        assert.deepEqual(Object.keys(after.keys).sort(), [before.currentKid, 'k2'].sort())
        const codec = createTokenCodec({ ...after, clock })
        assert.equal(codec.verify(old).ok, true)
        assert.equal(codec.verify(codec.sign(payload, 60_000)).ok, true)
      }))
  })
}
