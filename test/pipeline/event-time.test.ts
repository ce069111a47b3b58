import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CLOCK_TOLERANCE_MS, effectiveEventTime, triggerEventTime } from '../../src/traits/event-time.ts'

const RECEIVED = Date.parse('2026-11-28T12:00:00Z')
const YEAR = 365 * 86_400_000

/** The two times of an event: the client's `timestamp` and the collector's `receivedAt`. */
const times = (at: number | string, received: number | string = RECEIVED) => ({
  timestamp: typeof at === 'number' ? new Date(at).toISOString() : at,
  receivedAt: typeof received === 'number' ? new Date(received).toISOString() : received,
})

describe('event time (clock policy)', () => {
  test('the tolerance is one minute', () => {
    assert.equal(CLOCK_TOLERANCE_MS, 60_000)
  })

  test('traits: a client time up to 60 s ahead is kept, 1 ms more becomes receivedAt; past times are kept', () => {
    assert.equal(effectiveEventTime(times(RECEIVED + 30_000)), RECEIVED + 30_000)
    assert.equal(
      effectiveEventTime(times(RECEIVED + 60_000)),
      RECEIVED + 60_000,
      'exactly the tolerance: kept',
    )
    assert.equal(effectiveEventTime(times(RECEIVED + 60_001)), RECEIVED)
    assert.equal(effectiveEventTime(times(RECEIVED + 10 * YEAR)), RECEIVED)
    assert.equal(
      effectiveEventTime(times(RECEIVED - 10 * YEAR)),
      RECEIVED - 10 * YEAR,
      'an import of history',
    )
  })

  test('triggers: a client time within 60 s either way is kept, anything further becomes receivedAt', () => {
    assert.equal(triggerEventTime(times(RECEIVED + 30_000)), RECEIVED + 30_000)
    assert.equal(triggerEventTime(times(RECEIVED - 30_000)), RECEIVED - 30_000)
    assert.equal(
      triggerEventTime(times(RECEIVED + 60_000)),
      RECEIVED + 60_000,
      'exactly the tolerance ahead: kept',
    )
    assert.equal(
      triggerEventTime(times(RECEIVED - 60_000)),
      RECEIVED - 60_000,
      'exactly the tolerance behind: kept',
    )
    assert.equal(triggerEventTime(times(RECEIVED + 60_001)), RECEIVED)
    assert.equal(triggerEventTime(times(RECEIVED - 60_001)), RECEIVED)
    assert.equal(triggerEventTime(times(RECEIVED + 10 * YEAR)), RECEIVED, 'ten years ahead')
    assert.equal(triggerEventTime(times(RECEIVED - 10 * YEAR)), RECEIVED, 'ten years back')
    assert.equal(triggerEventTime(times(RECEIVED)), RECEIVED)
  })

  test('an unreadable timestamp falls back to receivedAt for both', () => {
    assert.equal(effectiveEventTime(times('not a date')), RECEIVED)
    assert.equal(triggerEventTime(times('not a date')), RECEIVED)
  })

  test('an unreadable receivedAt leaves the client time as it is, however far off', () => {
    const far = RECEIVED + 10 * YEAR
    assert.equal(effectiveEventTime(times(far, 'not a date')), far)
    assert.equal(triggerEventTime(times(far, 'not a date')), far)
    assert.equal(triggerEventTime(times(RECEIVED - 10 * YEAR, 'not a date')), RECEIVED - 10 * YEAR)
  })
})
