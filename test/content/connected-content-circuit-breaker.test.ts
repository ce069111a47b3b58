/** The circuit breaker and the coalescer as plain objects, driven by a manual clock. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { CircuitBreakerOptions } from '../../src/content/connected-content/circuit-breaker.ts'
import { CircuitBreaker } from '../../src/content/connected-content/circuit-breaker.ts'
import { Coalescer } from '../../src/content/connected-content/coalescer.ts'

const manualClock = () => {
  let now = 0
  return { now: () => now, advance: (ms: number) => (now += ms) }
}
const options: CircuitBreakerOptions = {
  failureThreshold: 3,
  failureRate: 0.5,
  rateWindow: 10,
  coolDownMs: 1_000,
}

describe('CircuitBreaker', () => {
  test('opens after the configured number of consecutive failures', () => {
    const breaker = new CircuitBreaker(options, manualClock())
    breaker.admit()?.fail()
    breaker.admit()?.fail()
    assert.equal(breaker.state(), 'closed')
    breaker.admit()?.fail()
    assert.equal(breaker.state(), 'open')
    assert.equal(breaker.admit(), undefined)
  })

  test('a success resets the consecutive count', () => {
    const breaker = new CircuitBreaker(options, manualClock())
    for (const ok of [false, false, true, false, false]) {
      const permit = breaker.admit()
      if (ok) permit?.succeed()
      else permit?.fail()
    }
    assert.equal(breaker.state(), 'closed')
  })

  test('opens when the failure rate over a full window reaches the threshold', () => {
    const breaker = new CircuitBreaker(options, manualClock())
    for (let i = 0; i < 9; i++) {
      const permit = breaker.admit()
      if (i % 2 === 0) permit?.fail()
      else permit?.succeed()
    }
    assert.equal(breaker.state(), 'closed', '5 failures in 9 calls: the window is not full yet')
    breaker.admit()?.succeed()
    assert.equal(breaker.state(), 'open', '5 failures in the last 10 calls')
  })

  test('after the cool-down one trial is admitted; its success closes the circuit', () => {
    const clock = manualClock()
    const breaker = new CircuitBreaker(options, clock)
    for (let i = 0; i < 3; i++) breaker.admit()?.fail()
    clock.advance(999)
    assert.equal(breaker.admit(), undefined)
    assert.equal(breaker.retryInMs(), 1)
    clock.advance(1)
    assert.equal(breaker.state(), 'half-open')
    const trial = breaker.admit()
    assert.ok(trial)
    assert.equal(breaker.admit(), undefined, 'only one trial at a time')
    trial.succeed()
    assert.equal(breaker.state(), 'closed')
    assert.ok(breaker.admit())
  })

  test('a failed trial opens the circuit for another cool-down', () => {
    const clock = manualClock()
    const breaker = new CircuitBreaker(options, clock)
    for (let i = 0; i < 3; i++) breaker.admit()?.fail()
    clock.advance(1_000)
    breaker.admit()?.fail()
    assert.equal(breaker.state(), 'open')
    clock.advance(999)
    assert.equal(breaker.admit(), undefined)
    clock.advance(1)
    assert.ok(breaker.admit())
  })

  test('a released trial lets the next call be the trial', () => {
    const clock = manualClock()
    const breaker = new CircuitBreaker(options, clock)
    for (let i = 0; i < 3; i++) breaker.admit()?.fail()
    clock.advance(1_000)
    breaker.admit()?.release()
    assert.equal(breaker.state(), 'half-open')
    assert.ok(breaker.admit())
  })
})

describe('Coalescer', () => {
  test('concurrent callers with one key share one task', async () => {
    const coalescer = new Coalescer<number>()
    let runs = 0
    const task = async () => {
      runs++
      await new Promise((r) => setTimeout(r, 10))
      return 42
    }
    const signal = new AbortController().signal
    const results = await Promise.all(Array.from({ length: 20 }, () => coalescer.run('k', task, signal)))
    assert.equal(runs, 1)
    assert.deepEqual(new Set(results), new Set([42]))
    assert.equal(coalescer.inFlight, 0)
  })

  test('the task is aborted only when the last waiting caller gives up', async () => {
    const coalescer = new Coalescer<string>()
    let taskSignal: AbortSignal | undefined
    const task = (signal: AbortSignal) => {
      taskSignal = signal
      return new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('aborted')))
    }
    const first = new AbortController()
    const second = new AbortController()
    const a = coalescer.run('k', task, first.signal)
    const b = coalescer.run('k', task, second.signal)
    first.abort(new Error('first gave up'))
    await assert.rejects(a, /first gave up/)
    assert.equal(taskSignal?.aborted, false)
    second.abort(new Error('second gave up'))
    await assert.rejects(b, /second gave up/)
    assert.equal(taskSignal?.aborted, true)
    assert.match(String(taskSignal?.reason), /second gave up/)
  })
})
