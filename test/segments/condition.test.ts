import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isInkError } from '../../src/core/errors.ts'
import { compileCondition, matches, SegmentEvaluator } from '../../src/segments/condition.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'
import { loadTraitsConfig } from '../../src/traits/traits-config.ts'

const badRequest = (pattern: RegExp) => (err: unknown) =>
  isInkError(err) && err.code === 'INK_ERR_BAD_REQUEST' && pattern.test(err.message)

describe('segment conditions', () => {
  test('a valid query compiles and tests materialized traits', () => {
    const q = compileCondition({ orders_total: { $gte: 2 }, plan: { $in: ['pro', 'team'] } })
    assert.equal(matches(q, { orders_total: 3, plan: 'pro' }), true)
    assert.equal(matches(q, { orders_total: 1, plan: 'pro' }), false)
    assert.equal(matches(compileCondition({}), {}), true)
  })

  test('invalid conditions are rejected with mingo’s message and a stable code', () => {
    assert.throws(() => compileCondition({ a: { $bogus: 1 } }), badRequest(/unknown query operator \$bogus/))
    assert.throws(() => compileCondition({ $foo: 1 }), badRequest(/unknown top level operator: \$foo/))
    assert.throws(() => compileCondition({ $and: 3 }), badRequest(/\$and expects value to be an Array/))
    assert.throws(() => compileCondition({ a: { $regex: '(' } }), badRequest(/Invalid regular expression/))
    for (const bad of [null, 'x', 3, [{ a: 1 }]])
      assert.throws(() => compileCondition(bad), badRequest(/send a JSON object/))
  })

  test('the evaluator reads computed and identify traits and the email for the member row', () => {
    const { traits } = loadTraitsConfig()
    const evaluator = new SegmentEvaluator(traits)
    const state = { ...emptyState(), traits: { plan: 'pro', email: 'p@x.io' } }
    const profile = {
      workspaceId: 'w',
      profileId: 'p',
      userId: 'u',
      state,
      version: 1,
      createdAt: 0,
      updatedAt: 0,
      lastEventReceivedAt: 0,
    }
    const seg = (condition: Record<string, unknown>, version = 1) => ({
      workspaceId: 'w',
      segmentId: 's',
      name: 's',
      condition,
      version,
      membersVersion: null,
      updatedAt: 0,
    })
    assert.deepEqual(evaluator.evaluate(seg({ plan: 'pro' }), profile, 0), { email: 'p@x.io' })
    assert.equal(evaluator.evaluate(seg({ plan: 'pro', orders_total: { $gte: 1 } }, 2), profile, 0), null)
    assert.deepEqual(evaluator.evaluate(seg({ orders_total: 0 }, 3), profile, 0), { email: 'p@x.io' })
  })
})
