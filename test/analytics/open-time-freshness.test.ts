/** The freshness buckets and the quantile estimated from them: pure, no I/O. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  AGE_BUCKET_FIELDS,
  AGE_EDGES_MS,
  ageBucketOf,
  ageQuantile,
} from '../../src/analytics/open-time-freshness.ts'

/** Counts per bucket of `ages`, in AGE_BUCKET_FIELDS order. */
const countsOf = (ages: readonly number[]) =>
  AGE_BUCKET_FIELDS.map((f) => ages.filter((a) => ageBucketOf(a) === f).length)

/** The nearest-rank q-quantile of `ages`, exactly. */
const nearestRank = (ages: readonly number[], q: number) => {
  const sorted = [...ages].sort((a, b) => a - b)
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number
}

describe('open-time freshness buckets', () => {
  test('an age falls in the first bucket whose edge is at least it; past the last edge, the open one', () => {
    assert.equal(AGE_BUCKET_FIELDS.length, AGE_EDGES_MS.length + 1)
    assert.deepEqual(
      [0, 100, 101, 1_000, 5_000, 20_000, 30_000, 30_001, 600_000, 600_001, 86_400_000].map(ageBucketOf),
      [
        'liveAgeLe100ms',
        'liveAgeLe100ms',
        'liveAgeLe1s',
        'liveAgeLe1s',
        'liveAgeLe5s',
        'liveAgeLe30s',
        'liveAgeLe30s',
        'liveAgeLe1m',
        'liveAgeLe10m',
        'liveAgeOver10m',
        'liveAgeOver10m',
      ],
    )
  })

  test('the quantile is the upper edge of the bucket holding the rank, capped by the maximum', () => {
    const counts = countsOf([0, 20_000, 60_000])
    assert.equal(ageQuantile(counts, 0.5, 60_000), 30_000) // rank 2: 20 s, in (15 s, 30 s]
    assert.equal(ageQuantile(counts, 0.95, 60_000), 60_000) // rank 3: 60 s, its edge
    assert.equal(ageQuantile(countsOf([0, 20_000, 45_000]), 0.95, 45_000), 45_000) // capped by the max
    assert.equal(ageQuantile(countsOf([0, 0, 3]), 0.5, 3), 3)
    assert.equal(ageQuantile(countsOf([900_000]), 0.5, 900_000), 900_000) // the open bucket: the max
    assert.equal(ageQuantile(countsOf([]), 0.5, 0), null)
    // Rank 1 at least: a tiny q still names the youngest bucket.
    assert.equal(ageQuantile(countsOf([7_000, 90_000]), 0.0001, 90_000), 15_000)
  })

  test('the estimate is never below the true quantile, and both lie in the same bucket', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2_000_000 }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (ages, q) => {
          const max = Math.max(...ages)
          const estimate = ageQuantile(countsOf(ages), q, max) as number
          const exact = nearestRank(ages, q)
          assert.ok(estimate >= exact, `${estimate} < ${exact}`)
          assert.ok(estimate <= max)
          assert.equal(ageBucketOf(estimate), ageBucketOf(exact))
        },
      ),
    )
  })
})
