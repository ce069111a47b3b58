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
  try {
    for (let i = 0; i < 1000; i++) thread.wake()
    await sleep(WAKE_INTERVAL_MS * 10)
    assert.deepEqual(seen, [1, 2], 'a thousand appends in one turn woke the thread twice')
    await sleep(WAKE_INTERVAL_MS * 2)
    thread.wake()
    await sleep(WAKE_INTERVAL_MS * 10)
    assert.deepEqual(seen, [1, 2, 3])
    assert.deepEqual(errors, [])
  } finally {
    await thread.close()
  }
  assert.equal(thread.running, false)
})
