/**
 * The ProfileReader's outcomes over a real MemoryCache, with a store whose answers the test sets
 * (the fault injection: a store that fails or stalls on demand).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryCache } from '../../src/content/cache/memory-cache.ts'
import { ProfileReader } from '../../src/profiles/profile-reader.ts'
import type { StoredProfile } from '../../src/profiles/profile-store.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'

function setup() {
  const clock = { offset: 0, now: () => 1_800_000_000_000 + clock.offset }
  const cache = new MemoryCache({ clock })
  let plan = 'free'
  let mode: 'ok' | 'fail' | 'stall' = 'ok'
  let reads = 0
  const store = {
    findProfileId: async (_ws: string, kind: string, value: string) => {
      reads++
      if (mode === 'fail') throw new Error('profile store down')
      if (mode === 'stall') await new Promise(() => {})
      return kind === 'userId' && value === 'ada' ? 'p1' : undefined
    },
    getProfile: async (): Promise<StoredProfile> => ({
      workspaceId: 'w',
      profileId: 'p1',
      userId: 'ada',
      state: { ...emptyState(), traits: { plan } },
      version: 1,
      createdAt: 0,
      updatedAt: 0,
      lastEventReceivedAt: 0,
    }),
    identities: async () => [],
    close: async () => {},
  }
  const reader = new ProfileReader({ store, traits: [], cache, clock, ttlMs: 5_000, staleMs: 60_000 })
  return {
    clock,
    reader,
    read: (timeoutMs = 1_000) => reader.read('w', 'ada', { timeoutMs }),
    setPlan: (p: string) => {
      plan = p
    },
    setMode: (m: typeof mode) => {
      mode = m
    },
    reads: () => reads,
  }
}

test('a fresh copy is used without asking the store; past its TTL the store is asked again', async () => {
  const s = setup()
  assert.equal((await s.read()).outcome, 'live')
  const readsAfterFirst = s.reads()
  s.clock.offset += 4_000
  const cached = await s.read()
  assert.deepEqual([cached.outcome, cached.ageMs, cached.traits?.plan], ['cached', 4_000, 'free'])
  assert.equal(s.reads(), readsAfterFirst)
  s.clock.offset += 2_000
  assert.equal((await s.read()).outcome, 'live')
  assert.ok(s.reads() > readsAfterFirst)
})

test('a committed change makes the next read ask the store and see it', async () => {
  const s = setup()
  await s.read()
  s.setPlan('pro')
  await s.reader.invalidate('w', 'ada')
  const after = await s.read()
  assert.deepEqual([after.outcome, after.traits?.plan], ['live', 'pro'])
})

test('after a change, a store that fails or stalls gets the copy from before it, stale and with its true age', async () => {
  const s = setup()
  await s.read()
  s.clock.offset += 1_000
  await s.reader.invalidate('w', 'ada')
  s.setMode('fail')
  const failed = await s.read()
  assert.deepEqual([failed.outcome, failed.traits?.plan, failed.ageMs], ['stale', 'free', 1_000])
  s.setMode('stall')
  const stalled = await s.read(20)
  assert.deepEqual([stalled.outcome, stalled.traits?.plan, stalled.ageMs], ['stale', 'free', 1_000])
})

test('with no copy at all, a failing store is an error and a stalled one a timeout', async () => {
  const s = setup()
  s.setMode('fail')
  assert.equal((await s.read()).outcome, 'error')
  s.setMode('stall')
  assert.equal((await s.read(20)).outcome, 'timeout')
})

test('a copy past its stale window is not served', async () => {
  const s = setup()
  await s.read()
  s.setMode('fail')
  s.clock.offset += 65_001
  assert.equal((await s.read()).outcome, 'error')
})
