import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { TokenBucket } from '../../src/campaigns/token-bucket.ts'

/** A clock that moves only when the bucket sleeps; every sleep is recorded. */
function manual() {
  let now = 0
  const sleeps: number[] = []
  return {
    clock: { now: () => now },
    sleeps,
    sleep: async (ms: number) => {
      sleeps.push(ms)
      // Let other callers queue up between sleeps, as real timers would.
      await new Promise((resolve) => setImmediate(resolve))
      now += ms
    },
  }
}

/**
 * Timers as the event loop runs them: a sleep wakes at its due time, earliest first, and reading
 * the clock costs time (each read is 0.3 ms later than the one before), so waiters that wake
 * together see different amounts of accrued token and would pick different sleeps.
 */
function timers() {
  let now = 0
  const due: Array<{ at: number; seq: number; wake: () => void }> = []
  let seq = 0
  let idle = false
  const drive = async () => {
    while (!idle) {
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
      due.sort((a, b) => a.at - b.at || a.seq - b.seq)
      const next = due.shift()
      if (next === undefined) continue
      now = Math.max(now, next.at)
      next.wake()
    }
  }
  return {
    clock: {
      now: () => {
        now += 0.3
        return now
      },
    },
    sleep: (ms: number) => new Promise<void>((wake) => void due.push({ at: now + ms, seq: seq++, wake })),
    run: async <T>(work: Promise<T>) => {
      const driving = drive()
      try {
        return await work
      } finally {
        idle = true
        await driving
      }
    },
  }
}

describe('TokenBucket', () => {
  test('with real-timer jitter, twenty waiters still get their tokens in the order they asked', async () => {
    const t = timers()
    const bucket = new TokenBucket(20, t.clock, t.sleep)
    const order: number[] = []
    await t.run(
      Promise.all(Array.from({ length: 20 }, (_, i) => bucket.take().then(() => void order.push(i)))),
    )
    assert.deepEqual(
      order,
      Array.from({ length: 20 }, (_, i) => i),
    )
  })

  test('serves waiters in the order they asked, however their wake-ups interleave', async () => {
    const m = manual()
    const bucket = new TokenBucket(20, m.clock, m.sleep)
    const order: number[] = []
    await Promise.all(Array.from({ length: 8 }, (_, i) => bucket.take().then(() => void order.push(i))))
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7])
    // One token at once, 20 a second: seven waits of 50 ms on the clock.
    assert.equal(m.clock.now(), 350)
  })

  test('a caller arriving while others wait queues behind them even if a token has accrued', async () => {
    const m = manual()
    const bucket = new TokenBucket(10, m.clock, m.sleep)
    const order: string[] = []
    await bucket.take()
    const first = bucket.take().then(() => void order.push('first'))
    const second = bucket.take().then(() => void order.push('second'))
    const late = bucket.take().then(() => void order.push('late'))
    await Promise.all([first, second, late])
    assert.deepEqual(order, ['first', 'second', 'late'])
    assert.equal(m.clock.now(), 300)
  })

  test('saves up at most `burst` tokens', async () => {
    const m = manual()
    const bucket = new TokenBucket(10, m.clock, m.sleep, 3)
    for (let i = 0; i < 3; i++) await bucket.take()
    assert.deepEqual(m.sleeps, [])
    await bucket.take()
    assert.deepEqual(m.sleeps, [100])
  })

  test('refuses a rate that is not a positive number', () => {
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      assert.throws(() => new TokenBucket(rate, { now: () => 0 }), RangeError)
  })
})
