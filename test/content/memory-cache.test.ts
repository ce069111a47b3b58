import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryCache } from '../../src/content/cache/memory-cache.ts'
import { cacheSuite } from './cache-suite.ts'

cacheSuite('MemoryCache', () => new MemoryCache())

const manualClock = (start = 1_000_000) => {
  let now = start
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

describe('MemoryCache', () => {
  test('beyond maxEntries the least recently used entry is evicted', async () => {
    const cache = new MemoryCache({ maxEntries: 3 })
    await cache.set('a', 1, 60_000, 0)
    await cache.set('b', 2, 60_000, 0)
    await cache.set('c', 3, 60_000, 0)
    await cache.get('a') // a is now more recent than b
    await cache.set('d', 4, 60_000, 0)
    assert.equal(cache.size, 3)
    assert.equal(await cache.get('b'), undefined)
    assert.deepEqual(
      await Promise.all(['a', 'c', 'd'].map(async (k) => (await cache.get(k))?.value)),
      [1, 3, 4],
    )
    await cache.close()
  })

  test('under churn (sets, deletes and reads past the bound) exactly the most recently used entries stay', async () => {
    const cache = new MemoryCache({ maxEntries: 100 })
    for (let i = 0; i < 5000; i++) {
      await cache.set(`k${i}`, i, 60_000, 0)
      if (i % 3 === 0) await cache.delete(`k${i - 1}`)
      if (i % 7 === 0) await cache.get('k0') // k0 is read often, so it is never the least recent
    }
    assert.equal(cache.size, 100)
    assert.equal((await cache.get('k0'))?.value, 0)
    // The rest: the newest keys, minus the ones deleted (i - 1 for each i divisible by 3).
    const expected: number[] = []
    for (let i = 4999; expected.length < 99; i--) if ((i + 1) % 3 !== 0) expected.push(i)
    for (const i of expected) assert.equal((await cache.get(`k${i}`))?.value, i, `k${i}`)
    assert.equal(await cache.get(`k${expected.at(-1)! - 1}`), undefined)
    await cache.close()
  })

  test('freshness and the stale window follow the injected clock', async () => {
    const clock = manualClock()
    const cache = new MemoryCache({ clock })
    await cache.set('k', 'v', 30_000, 300_000)
    assert.deepEqual(await cache.get('k'), { value: 'v', storedAt: 1_000_000, expiresAt: 1_030_000 })
    clock.advance(329_999)
    assert.equal((await cache.get('k'))?.value, 'v')
    clock.advance(1)
    assert.equal(await cache.get('k'), undefined)
    assert.equal(cache.size, 0, 'the dead entry was dropped when read')
    await cache.close()
  })

  test('negative or non-finite durations are rejected', async () => {
    const cache = new MemoryCache()
    await assert.rejects(cache.set('k', 1, -1, 0), RangeError)
    await assert.rejects(cache.set('k', 1, 1, Number.NaN), RangeError)
    assert.throws(() => new MemoryCache({ maxEntries: 0 }), RangeError)
    await cache.close()
  })
})
