import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  detectEpisodes,
  evaluate,
  evaluationCorpus,
  evaluationTable,
  labelledSeries,
} from './labelled-series.ts'

describe('anomaly detection on labelled series', () => {
  const corpus = evaluationCorpus()
  const ev = evaluate(corpus.map((series) => ({ series, episodes: detectEpisodes(series) })))

  it('meets the goals: precision and recall ≥ 0.9 overall, level shifts detected within 5 points', (t) => {
    for (const line of evaluationTable(ev).split('\n')) t.diagnostic(line)
    assert.ok(ev.labelled >= 150, `labelled ${ev.labelled}`)
    assert.ok(ev.precision >= 0.9, `precision ${ev.precision}`)
    assert.ok(ev.recall >= 0.9, `recall ${ev.recall}`)
    const shift = ev.byType.find((r) => r.type === 'level-shift')!
    assert.ok(shift.labelled >= 20, `level shifts ${shift.labelled}`)
    assert.equal(shift.recall, 1)
    assert.ok(shift.maxDelay <= 5, `level-shift max delay ${shift.maxDelay}`)
    for (const r of ev.byType)
      assert.ok(r.labelled >= 10 && r.recall >= 0.9, `${r.type}: ${r.detected}/${r.labelled}`)
  })

  it('ends a level-shift episode once the new level is adopted', () => {
    for (const series of corpus) {
      const episodes = detectEpisodes(series)
      for (const l of series.labels.filter((x) => x.type === 'level-shift')) {
        const e = episodes.find((x) => x.start >= l.start && x.start <= l.start + 5)!
        assert.ok(
          e.end - l.start <= 25,
          `seed ${series.seed} shift at ${l.start}: episode ${e.start}–${e.end}`,
        )
      }
    }
  })

  it('is useful after an hour: anomalies in the second and third hour are found without false alarms', () => {
    const runs = [11, 12, 13, 14, 15, 16].map((seed) => {
      const series = labelledSeries({ seed, length: 180, anomalies: 1, quietStart: 60 })
      return { series, episodes: detectEpisodes(series) }
    })
    const early = evaluate(runs)
    assert.equal(early.labelled, 6)
    assert.equal(early.recall, 1)
    assert.equal(early.falsePositives, 0)
  })

  it('the generator is deterministic and labels every anomaly window', () => {
    const a = labelledSeries({ seed: 42, length: 5000 })
    const b = labelledSeries({ seed: 42, length: 5000 })
    assert.deepEqual(a, b)
    assert.notDeepEqual(labelledSeries({ seed: 43, length: 5000 }).values, a.values)
    assert.equal(a.labels.length, 3)
    for (const l of a.labels.filter((x) => x.type === 'drop-to-zero')) {
      assert.deepEqual(new Set(a.values.slice(l.start, l.end)), new Set([0]))
    }
  })
})
