import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { ConsumerThread, WAKE_INTERVAL_MS } from '../../src/core/consumer-thread.ts'

const WORKER = new URL('./wake-counter-fixture.ts', import.meta.url)

test('a burst of wake-ups reaches the thread as two (one at once, one at the interval end); a later one on its own', async () => {
  const seen: number[] = []
  const errors: unknown[] = []
  const thread = new ConsumerThread<{ type: 'woken'; wakes: number }>(
    WORKER,
    undefined,
    'wake-counter',
    (msg) => seen.push(msg.wakes),
    (err) => errors.push(err),
  )
  await thread.start()
  /** Waits until `n` wake-ups arrived (or 5 s), then a little longer for any that should not. */
  const settled = async (n: number) => {
    for (const deadline = Date.now() + 5_000; seen.length < n && Date.now() < deadline; ) await sleep(5)
    await sleep(WAKE_INTERVAL_MS * 20)
  }
  try {
    for (let i = 0; i < 1000; i++) thread.wake()
    await settled(2)
    // One at once and one at the interval's end; a loaded machine that spends longer than one
    // interval in the loop itself may post once more. Never one per call.
    const burst = seen.length
    assert.ok(burst >= 2 && burst <= 3, `a thousand appends in one turn woke the thread ${burst} times`)
    assert.deepEqual(
      seen,
      Array.from({ length: burst }, (_, i) => i + 1),
    )
    await sleep(WAKE_INTERVAL_MS * 2)
    thread.wake()
    await settled(burst + 1)
    assert.equal(seen.length, burst + 1, 'a wake-up after a quiet interval is posted, once')
    assert.deepEqual(errors, [])
  } finally {
    await thread.close()
  }
  assert.equal(thread.running, false)
})
