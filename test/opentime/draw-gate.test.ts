import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DrawGate } from '../../src/opentime/draw-gate.ts'

describe('the drawing gate', () => {
  test('one drawing at a time: a second waits for the slot, a third gives up after its wait', async () => {
    const gate = new DrawGate({ max: 1 })
    const first = await gate.acquire(0)
    assert.ok(first)
    assert.equal(await gate.acquire(0), undefined, 'no wait allowed, no slot')
    const second = gate.acquire(1_000)
    const third = gate.acquire(5)
    assert.equal(await third, undefined, 'gave up after 5 ms')
    first()
    first() // twice is once
    const granted = await second
    assert.ok(granted, 'the slot passed to the waiter')
    assert.equal(gate.running, 1)
    granted()
    assert.equal(gate.running, 0)
  })

  test('drawing time is paid from a bucket: spent, nothing is admitted until it refills at the share', async () => {
    let now = 0
    const gate = new DrawGate({ max: 4, share: 0.5, burstMs: 100, now: () => now })
    const a = await gate.acquire(0)
    assert.ok(a)
    now += 150 // a 150 ms drawing: the full bucket (100, capped) pays it: -50
    a()
    assert.equal(await gate.acquire(0), undefined, 'over budget: refused at once')
    now += 100 // refilled at half the time: 0, still nothing to spend
    assert.equal(await gate.acquire(0), undefined)
    now += 2
    const c = await gate.acquire(0)
    assert.ok(c, 'refilled')
    c()
  })
})
