import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createDetector, type Verdict } from '../../src/observe/anomaly/detector.ts'
import { labelledSeries, prng } from './labelled-series.ts'

const MIN = 60_000
const T0 = Date.UTC(2026, 0, 5)

function run(values: readonly (number | null)[], opts = {}): Verdict[] {
  const d = createDetector(opts)
  return values.map((v, i) => d.push(T0 + i * MIN, v))
}

/** A flat series with deterministic small noise (±1 around 100). */
const flat = (n: number) => Array.from({ length: n }, (_, i) => 100 + ((i * 7919) % 11) / 5 - 1)

describe('anomaly detector', () => {
  it('decides each point from earlier points only: the verdicts of a prefix do not change when later points follow', () => {
    const { values } = labelledSeries({ seed: 3, length: 3 * 1440 })
    const full = run(values)
    for (const cut of [45, 600, 1440, 2000, 3 * 1440 - 1]) {
      const prefix = run(values.slice(0, cut))
      assert.deepEqual(prefix, full.slice(0, cut), `prefix of ${cut}`)
    }
    // The forecast and range for a point come from earlier points only: changing the point itself
    // changes neither (only its value, score and flag), nor any verdict before it.
    const known = (v: Verdict) => ({ t: v.t, expected: v.expected, lower: v.lower, upper: v.upper })
    for (const at of [300, 1500, 2500, 3700]) {
      const changed = [...values]
      changed[at] = 1e6
      const other = run(changed)
      assert.deepEqual(other.slice(0, at), full.slice(0, at), `before ${at}`)
      assert.deepEqual(known(other[at]!), known(full[at]!), `at ${at}`)
      assert.equal(other[at]!.anomaly, true)
    }
  })

  it('does not score while warming up, then flags a spike and leaves normal points alone', () => {
    const values: number[] = flat(200)
    values[150] = 130
    const v = run(values)
    assert.equal(Number.isNaN(v[0]!.expected), true)
    assert.equal(
      v.slice(0, 30).every((x) => x.score === 0 && !x.anomaly),
      true,
    )
    assert.deepEqual(
      v.flatMap((x, i) => (x.anomaly ? [i] : [])),
      [150],
    )
    assert.equal(v[150]!.value, 130)
    assert.ok(v[150]!.expected > 99 && v[150]!.expected < 101, `expected ${v[150]!.expected}`)
    assert.ok(v[150]!.upper < 130 && v[150]!.lower < v[150]!.expected)
    assert.ok(v[150]!.score > 5)
  })

  it('a missing minute is neither scored nor anomalous, and the points after it are still scored', () => {
    const values: (number | null)[] = flat(200)
    for (let i = 100; i < 140; i++) values[i] = null
    values[160] = 150
    const v = run(values)
    for (let i = 100; i < 140; i++) {
      assert.equal(v[i]!.value, null)
      assert.equal(v[i]!.score, 0)
      assert.equal(v[i]!.anomaly, false)
      // The forecast holds through the gap.
      assert.ok(Math.abs(v[i]!.expected - 100) < 1, `expected at ${i}: ${v[i]!.expected}`)
    }
    assert.deepEqual(
      v.flatMap((x, i) => (x.anomaly ? [i] : [])),
      [160],
    )
  })

  it('a gap in timestamps counts as missing minutes', () => {
    const d = createDetector()
    const values = flat(100)
    for (let i = 0; i < 60; i++) d.push(T0 + i * MIN, values[i]!)
    // 30 minutes without points, then a normal point and a spike.
    assert.equal(d.push(T0 + 90 * MIN, 100).anomaly, false)
    const spike = d.push(T0 + 91 * MIN, 140)
    assert.equal(spike.anomaly, true)
    assert.ok(Math.abs(spike.expected - 100) < 1)
    assert.throws(() => d.push(T0 + 91 * MIN, 100), /time order/)
  })

  it('detects a level shift at once and adopts it as the new normal', () => {
    const values = [...flat(200), ...flat(200).map((x) => x + 30)]
    const v = run(values)
    const flagged = v.flatMap((x, i) => (x.anomaly ? [i] : []))
    assert.equal(flagged[0], 200)
    // Adopted after about half the level window: no anomaly 20 points after the shift.
    assert.ok(
      flagged.every((i) => i < 215),
      `flagged ${flagged.join(',')}`,
    )
    assert.ok(Math.abs(v[399]!.expected - 130) < 1.5, `expected ${v[399]!.expected}`)
  })

  it('detects a variance change within minutes and adopts it as the new normal', () => {
    const rand = prng(7)
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
    const values = Array.from({ length: 900 }, (_, i) => 100 + (i >= 300 ? 6 : 1) * gauss())
    const flagged = run(values).flatMap((x, i) => (x.anomaly ? [i] : []))
    assert.equal(
      flagged.some((i) => i < 300),
      false,
      `before: ${flagged}`,
    )
    assert.ok(flagged[0]! >= 300 && flagged[0]! < 330, `first ${flagged[0]}`)
    // The MAD window (120 points) has adopted the new noise: nothing in the last 400 points.
    assert.deepEqual(
      flagged.filter((i) => i >= 500),
      [],
    )
  })

  it('keeps alarming while a series is stuck at zero (an outage is not the new normal)', () => {
    const values = [...flat(200), ...Array(300).fill(0), ...flat(50)]
    const v = run(values)
    for (let i = 200; i < 500; i++) assert.equal(v[i]!.anomaly, true, `point ${i}`)
    assert.ok(Math.abs(v[499]!.expected - 100) < 1)
    assert.equal(
      v.slice(505).some((x) => x.anomaly),
      false,
    )
  })

  it('follows daily seasonality once a day of history exists', () => {
    // A sharp daily peak at 12:00 (×3 for an hour) is flagged on day one, expected from day two on.
    const values = Array.from({ length: 3 * 1440 }, (_, i) => {
      const m = i % 1440
      return (m >= 720 && m < 780 ? 300 : 100) + ((i * 7919) % 11) / 5 - 1
    })
    const v = run(values)
    assert.equal(v[720]!.anomaly, true)
    for (const day of [2]) {
      const peak = v.slice(day * 1440 + 720, day * 1440 + 780)
      assert.equal(
        peak.some((x) => x.anomaly),
        false,
        `day ${day}`,
      )
      assert.ok(Math.abs(peak[30]!.expected - 300) < 3, `expected ${peak[30]!.expected}`)
    }
  })

  it('follows weekly seasonality once two weeks of history exist', () => {
    // A Monday-only peak (×2 from 09:00 to 10:00): unexpected in weeks one and two (six daily lags
    // without it outvote last week's), expected in week three (two weekly lags lead).
    const values = Array.from({ length: 3 * 7 * 1440 }, (_, i) => {
      const m = i % 1440
      const monday = Math.floor(i / 1440) % 7 === 0
      return (monday && m >= 540 && m < 600 ? 200 : 100) + ((i * 7919) % 11) / 5 - 1
    })
    const v = run(values)
    const flaggedIn = (day: number) =>
      v.slice(day * 1440 + 540, day * 1440 + 600).filter((x) => x.anomaly).length
    assert.ok(flaggedIn(0) > 0, 'week one')
    assert.ok(flaggedIn(7) > 0, 'week two')
    assert.equal(flaggedIn(14), 0, 'week three')
    assert.ok(Math.abs(v[14 * 1440 + 570]!.expected - 200) < 3, `expected ${v[14 * 1440 + 570]!.expected}`)
    // And no false alarm anywhere else in week three.
    assert.equal(v.slice(14 * 1440).filter((x) => x.anomaly).length, 0)
  })

  it('scores only the chosen direction', () => {
    const values = flat(200)
    values[150] = 130
    values[170] = 70
    const up = run(values, { direction: 'up' })
    const down = run(values, { direction: 'down' })
    assert.deepEqual(
      up.flatMap((x, i) => (x.anomaly ? [i] : [])),
      [150],
    )
    assert.deepEqual(
      down.flatMap((x, i) => (x.anomaly ? [i] : [])),
      [170],
    )
  })

  it('rejects bad options and values', () => {
    assert.throws(() => createDetector({ threshold: -1 }), /threshold/)
    assert.throws(() => createDetector({ levelWindow: 0 }), /levelWindow/)
    assert.throws(() => createDetector().push(T0, Number.NaN), /finite/)
  })
})
