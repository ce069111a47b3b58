/** PassScheduler: one pass at a time, a wake-up during a pass is never lost, timers, start and stop. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PassScheduler } from '../../src/core/pass-scheduler.ts'

/** Passes that wait until released, recording when each started. */
function gatedPasses() {
  const started: number[] = []
  const releases: (() => void)[] = []
  let fail = false
  return {
    started,
    failNext() {
      fail = true
    },
    pass: async () => {
      started.push(started.length + 1)
      if (fail) {
        fail = false
        throw new Error('store down')
      }
      await new Promise<void>((resolve) => releases.push(resolve))
    },
    release() {
      releases.shift()?.()
    },
  }
}

const until = async (what: string, check: () => boolean) => {
  const deadline = Date.now() + 5_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 5 s`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

const HOUR = 3_600_000

test('wake-ups during a pass give exactly one more pass, right after it (no poll needed)', async () => {
  const g = gatedPasses()
  const errors: unknown[] = []
  const s = new PassScheduler({ pass: g.pass, onError: (e) => errors.push(e), clock: Date, pollMs: HOUR })
  s.wake()
  assert.deepEqual(g.started, [], 'a wake-up before start runs nothing')
  s.start()
  assert.deepEqual(g.started, [1])
  s.wake()
  s.wake()
  s.wake()
  assert.deepEqual(g.started, [1], 'one pass at a time')
  g.release()
  await until('the second pass', () => g.started.length === 2)
  g.release()
  await s.idle()
  assert.deepEqual(g.started, [1, 2], 'three wake-ups during a pass are one more pass')
  s.stop()
  s.wake()
  assert.deepEqual(g.started, [1, 2], 'nothing after stop')
  assert.deepEqual(errors, [])
})

test('a pass that throws is reported, and the next wake-up runs', async () => {
  const g = gatedPasses()
  const errors: string[] = []
  const s = new PassScheduler({
    pass: g.pass,
    onError: (e) => errors.push((e as Error).message),
    clock: Date,
    pollMs: HOUR,
  })
  g.failNext()
  s.start()
  await s.idle()
  assert.deepEqual(errors, ['store down'])
  s.wake()
  assert.deepEqual(g.started, [1, 2])
  g.release()
  await s.idle()
  s.stop()
})

test('a due time in the future sets a timer; the earliest one wins; stop clears it', async () => {
  let now = 1_000_000
  const clock = { now: () => now }
  const g = gatedPasses()
  const s = new PassScheduler({ pass: g.pass, onError: () => {}, clock, pollMs: HOUR })
  s.start()
  g.release()
  await s.idle()
  assert.deepEqual(g.started, [1])
  s.wake(now + HOUR) // a timer an hour away…
  s.wake(now + 30) // …replaced by one 30 ms away
  assert.deepEqual(g.started, [1], 'not due yet: no pass now')
  now += 30
  await until('the pass at the due time', () => g.started.length === 2)
  g.release()
  await s.idle()
  s.schedule(now + 20)
  s.stop()
  await new Promise((r) => setTimeout(r, 60))
  assert.deepEqual(g.started, [1, 2], 'a stopped scheduler runs no timer')
})
