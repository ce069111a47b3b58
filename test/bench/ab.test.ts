import assert from 'node:assert/strict'
import { test } from 'node:test'
import { interleaved, ratioPerRound, spread } from '../../bench/lib/ab.ts'

test('interleaved rounds rotate the order, so no side always goes first', async () => {
  const order: string[] = []
  const res = await interleaved(
    {
      a: async (r) => (order.push(`a${r}`), { value: 10 + r }),
      b: async (r) => (order.push(`b${r}`), { value: 20 + r }),
      c: async (r) => (order.push(`c${r}`), { value: 5 }),
    },
    3,
  )
  assert.deepEqual(order, ['a0', 'b0', 'c0', 'b1', 'c1', 'a1', 'c2', 'a2', 'b2'])
  assert.deepEqual(res.sides.a.spread, { min: 10, median: 11, max: 12, values: [10, 11, 12] })
  assert.equal(res.loadAverages.length, 3)
  assert.deepEqual(
    res.sides.b.samples.map((s) => s.position),
    [2, 1, 3],
  )
})

test('the ratio is taken within each round, then summarised', async () => {
  const res = await interleaved(
    { x: async (r) => ({ value: [1, 4, 9][r]! }), y: async (r) => ({ value: [2, 4, 3][r]! }) },
    3,
  )
  assert.deepEqual(ratioPerRound(res.sides.x, res.sides.y), {
    min: 0.5,
    median: 1,
    max: 3,
    values: [0.5, 1, 3],
  })
  assert.equal(spread([4, 1, 3, 2]).median, 2.5)
})
