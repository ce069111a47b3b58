/** The processor's warm cache: bounded LRU maps of profiles and identity lookups. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WarmCache } from '../../src/pipeline/warm-cache.ts'
import type { StoredProfile } from '../../src/profiles/profile-store.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'

const profile = (profileId: string, p: Partial<StoredProfile> = {}): StoredProfile => ({
  workspaceId: 'w',
  profileId,
  userId: null,
  state: emptyState(),
  version: 1,
  createdAt: 0,
  updatedAt: 0,
  lastEventReceivedAt: 0,
  ...p,
})

const keys = (lru: { get(k: string): unknown }, all: string[]) => all.filter((k) => lru.get(k) !== undefined)

test('profiles are bounded by maxProfiles: the least recently used goes first, and reading one makes it recent', () => {
  const warm = new WarmCache(2)
  const a = profile('a')
  warm.profiles.set('a', a)
  warm.profiles.set('b', profile('b'))
  assert.equal(warm.profiles.size, 2)
  // Reading a makes b the least recently used: c pushes b out.
  assert.equal(warm.profiles.get('a'), a)
  warm.profiles.set('c', profile('c'))
  assert.equal(warm.profiles.size, 2)
  assert.equal(warm.profiles.get('b'), undefined)
  assert.deepEqual(keys(warm.profiles, ['a', 'c']), ['a', 'c'])
  // Setting an entry again replaces it and makes it recent.
  const a2 = profile('a', { version: 2 })
  warm.profiles.set('a', a2)
  warm.profiles.set('d', profile('d'))
  assert.equal(warm.profiles.get('a'), a2)
  assert.equal(warm.profiles.get('c'), undefined)
  assert.equal(warm.profiles.size, 2)
})

test('a miss neither adds an entry nor changes which entry goes first', () => {
  const warm = new WarmCache(2)
  warm.profiles.set('a', profile('a'))
  assert.equal(warm.profiles.get('x'), undefined)
  assert.equal(warm.profiles.size, 1)
  warm.profiles.set('b', profile('b'))
  assert.equal(warm.profiles.get('x'), undefined)
  warm.profiles.set('c', profile('c'))
  assert.deepEqual(keys(warm.profiles, ['a', 'b', 'c']), ['b', 'c'])
})

test('identity lookups hold twice as many entries as profiles, "known missing" (null) included', () => {
  const warm = new WarmCache(2)
  for (const k of ['i1', 'i2', 'i3']) warm.ids.set(k, `p-${k}`)
  warm.ids.set('i4', null)
  assert.equal(warm.ids.size, 4)
  assert.equal(warm.ids.get('i1'), 'p-i1')
  assert.equal(warm.ids.get('i4'), null)
  warm.ids.set('i5', 'p-i5')
  assert.equal(warm.ids.size, 4)
  // i1 was read after i2 was written: i2 is the one that went.
  assert.deepEqual(keys(warm.ids, ['i1', 'i2', 'i3', 'i4', 'i5']), ['i1', 'i3', 'i4', 'i5'])
})

test('delete() drops one entry, clear() drops both maps', () => {
  const warm = new WarmCache(2)
  warm.profiles.set('a', profile('a'))
  warm.profiles.set('b', profile('b'))
  warm.ids.set('i', 'a')
  warm.profiles.delete('a')
  assert.equal(warm.profiles.size, 1)
  assert.equal(warm.profiles.get('a'), undefined)
  assert.equal(warm.profiles.get('b')?.profileId, 'b')
  warm.clear()
  assert.equal(warm.profiles.size, 0)
  assert.equal(warm.ids.size, 0)
  assert.equal(warm.ids.get('i'), undefined)
})

test('by default 50,000 profiles and 100,000 identity lookups are kept', () => {
  const warm = new WarmCache()
  for (let i = 0; i <= 100_000; i++) warm.ids.set(`i${i}`, null)
  assert.equal(warm.ids.size, 100_000)
  assert.equal(warm.ids.get('i0'), undefined)
  for (let i = 0; i <= 50_000; i++) warm.profiles.set(`p${i}`, profile(`p${i}`))
  assert.equal(warm.profiles.size, 50_000)
  assert.equal(warm.profiles.get('p0'), undefined)
  assert.equal(warm.profiles.get('p1')?.profileId, 'p1')
})

test('peek() reads an entry without making it recent', () => {
  const warm = new WarmCache(2)
  const a = profile('a')
  warm.profiles.set('a', a)
  warm.profiles.set('b', profile('b'))
  assert.equal(warm.profiles.peek('a'), a)
  assert.equal(warm.profiles.peek('x'), undefined)
  // a is still the least recently used: c pushes it out.
  warm.profiles.set('c', profile('c'))
  assert.deepEqual(keys(warm.profiles, ['a', 'b', 'c']), ['b', 'c'])
})
