/**
 * The Cache seam suite (DESIGN.md §3). Every implementation runs it: MemoryCache and RedisCache.
 * It uses real time with short TTLs, because a Redis server expires keys on its own clock.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Cache } from '../../src/content/cache/cache.ts'

export function cacheSuite(name: string, factory: () => Cache | Promise<Cache>): void {
  describe(`Cache seam: ${name}`, () => {
    let cache: Cache
    let closed = false
    beforeEach(async () => {
      cache = await factory()
      closed = false
    })
    afterEach(async () => {
      if (!closed) await cache.close()
    })

    test('a stored value comes back with when it was stored and when it expires', async () => {
      const before = Date.now()
      await cache.set('k', { a: 1 }, 5_000, 1_000)
      const entry = await cache.get('k')
      assert.ok(entry)
      assert.deepEqual(entry.value, { a: 1 })
      assert.ok(entry.storedAt >= before && entry.storedAt <= Date.now(), `storedAt ${entry.storedAt}`)
      assert.equal(entry.expiresAt, entry.storedAt + 5_000)
    })

    test('a key that was never stored is a miss', async () => {
      assert.equal(await cache.get('never'), undefined)
    })

    test('JSON values of every shape survive the round trip', async () => {
      const values = ['text', 42, 0, true, false, null, [1, 'two', { three: 3 }], { nested: { list: [] } }]
      for (const [i, value] of values.entries()) await cache.set(`v${i}`, value, 5_000, 0)
      for (const [i, value] of values.entries()) assert.deepEqual((await cache.get(`v${i}`))?.value, value)
    })

    test('setting a key again replaces its value and its times', async () => {
      await cache.set('k', 'first', 5_000, 0)
      await sleep(5)
      await cache.set('k', 'second', 10_000, 0)
      const entry = await cache.get('k')
      assert.equal(entry?.value, 'second')
      assert.equal(entry?.expiresAt, (entry?.storedAt ?? 0) + 10_000)
    })

    test('an expired entry is still returned during its stale window, then it is gone', async () => {
      // Margins of hundreds of milliseconds: a loaded CI host stalls a timer or a Redis round trip
      // for tens (a 120 ms stale window read 60 ms after the set could already be gone).
      await cache.set('k', 'old', 30, 600)
      await sleep(60)
      const stale = await cache.get('k')
      assert.equal(stale?.value, 'old')
      assert.ok((stale?.expiresAt ?? Number.POSITIVE_INFINITY) <= Date.now(), 'the entry reads as expired')
      await sleep(700)
      assert.equal(await cache.get('k'), undefined)
    })

    test('an entry with no stale window is gone once its TTL passes', async () => {
      await cache.set('k', 'short', 30, 0)
      await sleep(60)
      assert.equal(await cache.get('k'), undefined)
    })

    test('a zero TTL stores a value that is only usable as stale data', async () => {
      await cache.set('k', 'fallback', 0, 5_000)
      const entry = await cache.get('k')
      assert.equal(entry?.value, 'fallback')
      assert.equal(entry?.expiresAt, entry?.storedAt)
    })

    test('a value stored with neither TTL nor stale window is never returned and replaces the old one', async () => {
      await cache.set('k', 'old', 5_000, 5_000)
      await cache.set('k', 'nothing to keep', 0, 0)
      assert.equal(await cache.get('k'), undefined)
    })

    test('keys are opaque strings: separators, spaces and unicode do not collide', async () => {
      const keys = ['profile:w1:u1', 'profile:w1:u1 ', 'profile:w1', 'profile:w1:ü', 'profile:w1:*', '']
      for (const [i, key] of keys.entries()) await cache.set(key, i, 5_000, 0)
      for (const [i, key] of keys.entries())
        assert.equal((await cache.get(key))?.value, i, `key ${JSON.stringify(key)}`)
    })

    test('invalid durations are rejected and store nothing', async () => {
      await assert.rejects(cache.set('k', 1, -1, 0), RangeError)
      await assert.rejects(cache.set('k', 1, 1_000, Number.POSITIVE_INFINITY), RangeError)
      assert.equal(await cache.get('k'), undefined)
    })

    test('delete removes one key and leaves the others', async () => {
      await cache.set('a', 1, 5_000, 0)
      await cache.set('b', 2, 5_000, 0)
      await cache.delete('a')
      await cache.delete('missing')
      assert.equal(await cache.get('a'), undefined)
      assert.equal((await cache.get('b'))?.value, 2)
    })

    test('expire ends freshness now but keeps the entry, its value and storedAt for the stale window', async () => {
      await cache.set(
        'k',
        { traits: { plan: 'pro', ratio: 0.30000000000000004, note: ',"e":1}' } },
        60_000,
        1_500,
      )
      await cache.set('other', 'left alone', 60_000, 0)
      const before = await cache.get('k')
      await cache.expire('k')
      await cache.expire('missing')
      const after = await cache.get('k')
      assert.ok(before && after)
      assert.deepEqual(after.value, before.value)
      assert.equal(after.storedAt, before.storedAt)
      assert.ok(
        after.expiresAt <= Date.now() && after.expiresAt >= before.storedAt,
        `expiresAt ${after.expiresAt}`,
      )
      assert.equal(
        (await cache.get('other'))?.expiresAt,
        ((await cache.get('other'))?.storedAt ?? 0) + 60_000,
      )
      assert.equal(await cache.get('missing'), undefined)
      await cache.expire('k') // again: already expired, nothing moves
      assert.equal((await cache.get('k'))?.expiresAt, after.expiresAt)
    })

    test('expire does not extend an entry: it is gone when it would have been', async () => {
      await cache.set('k', 'v', 60, 600)
      await cache.expire('k')
      assert.equal((await cache.get('k'))?.value, 'v')
      await sleep(760)
      assert.equal(await cache.get('k'), undefined)
    })

    test('a closed cache rejects further use', async () => {
      await cache.close()
      closed = true
      await assert.rejects(cache.get('k'))
    })
  })
}
