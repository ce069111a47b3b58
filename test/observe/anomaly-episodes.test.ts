import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Verdict } from '../../src/observe/anomaly/detector.ts'
import { EpisodeTracker } from '../../src/observe/anomaly/episodes.ts'

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
})
