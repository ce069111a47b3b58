import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Verdict } from '../../src/observe/anomaly/detector.ts'
import { DEFAULT_MAX_MISSING_POINTS, EpisodeTracker } from '../../src/observe/anomaly/episodes.ts'

const MIN = 60_000
const T0 = Date.UTC(2026, 0, 5)

/** A verdict at minute i: anomalous with the given score, normal (score 1), or missing. */
function verdict(i: number, kind: number | 'normal' | 'missing'): Verdict {
  const anomaly = typeof kind === 'number'
  return {
    t: T0 + i * MIN,
    value: kind === 'missing' ? null : anomaly ? 100 + kind : 100 + i / 100,
    expected: 100,
    lower: 90 - i,
    upper: 110 + i,
    score: anomaly ? kind : kind === 'missing' ? 0 : 1,
    anomaly,
  }
}

describe('episode tracker', () => {
  it('starts one episode at the first anomaly, keeps it through short lulls, ends it after quiet points', () => {
    const tracker = new EpisodeTracker('ingest_rate', { quietPoints: 3 })
    const kinds: (number | 'normal' | 'missing')[] = [
      'normal',
      7,
      9,
      'normal',
      'normal',
      12,
      'normal',
      'missing',
      'normal',
      'normal',
      8,
    ]
    const events = kinds.map((k, i) => tracker.update(verdict(i, k)))
    assert.deepEqual(events[1], {
      started: {
        series: 'ingest_rate',
        startedAt: T0 + MIN,
        endedAt: null,
        expectedLower: 89,
        expectedUpper: 111,
        observed: 107,
        peakScore: 7,
      },
    })
    // One start, one end: the anomaly at 5 continues the episode; the missing point at 7 does not count as quiet.
    assert.deepEqual(
      events.map((e, i) => [i, Object.keys(e).join()]).filter(([, k]) => k !== ''),
      [
        [1, 'started'],
        [9, 'ended'],
        [10, 'started'],
      ],
    )
    assert.deepEqual(events[9]!.ended, {
      series: 'ingest_rate',
      startedAt: T0 + MIN,
      endedAt: T0 + 6 * MIN,
      expectedLower: 85,
      expectedUpper: 115,
      observed: 112,
      peakScore: 12,
    })
    assert.equal(tracker.open?.startedAt, T0 + 10 * MIN)
  })

  it('uses ten quiet points by default and rejects a quietPoints below 1', () => {
    const tracker = new EpisodeTracker('x')
    tracker.update(verdict(0, 6))
    const ends = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(
      (i) => tracker.update(verdict(i, 'normal')).ended !== undefined,
    )
    assert.deepEqual(ends, [false, false, false, false, false, false, false, false, false, true])
    assert.equal(tracker.open, null)
    assert.throws(() => new EpisodeTracker('x', { quietPoints: 0 }), /quietPoints/)
  })

  it('ends an open episode when its series stops reporting: after maxMissingPoints missing points in a row, at the first', () => {
    const tracker = new EpisodeTracker('send_failure_rate', { quietPoints: 3, maxMissingPoints: 4 })
    const kinds: (number | 'normal' | 'missing')[] = [
      9,
      'missing',
      'missing',
      'missing',
      // A point with data breaks the run (and is the first quiet one).
      'normal',
      'missing',
      'missing',
      'missing',
      'missing',
    ]
    const events = kinds.map((k, i) => tracker.update(verdict(i, k)))
    assert.deepEqual(
      events.map((e, i) => [i, Object.keys(e).join()]).filter(([, k]) => k !== ''),
      [
        [0, 'started'],
        [8, 'ended'],
      ],
    )
    assert.equal(events[8]!.ended?.startedAt, T0)
    assert.equal(events[8]!.ended?.endedAt, T0 + 5 * MIN, 'the first minute without data')
    assert.equal(tracker.open, null)
    // Missing points with no episode open change nothing; a new anomaly starts a new one.
    assert.deepEqual(tracker.update(verdict(9, 'missing')), {})
    assert.equal(tracker.update(verdict(10, 7)).started?.startedAt, T0 + 10 * MIN)
  })

  it('waits an hour of missing minutes by default; rejects a maxMissingPoints below 1', () => {
    assert.equal(DEFAULT_MAX_MISSING_POINTS, 60)
    const tracker = new EpisodeTracker('x')
    tracker.update(verdict(0, 6))
    const ends = Array.from({ length: 60 }, (_, i) => tracker.update(verdict(i + 1, 'missing')).ended)
    assert.deepEqual(
      ends.map((e, i) => [i + 1, e?.endedAt]).filter(([, e]) => e !== undefined),
      [[60, T0 + MIN]],
    )
    assert.throws(() => new EpisodeTracker('x', { maxMissingPoints: 0 }), /maxMissingPoints/)
  })
})
