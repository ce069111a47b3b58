/**
 * Segment conditions run on data the public controls. Conditions that could stall the pipeline
 * (catastrophic regexes, code, loops sized by the data) are refused when saved with 422
 * INK_ERR_CONDITION_REFUSED; regexes run on V8's linear-time engine where they can, and under a
 * time budget where they cannot. A regex blocks the thread, so no test timeout could stop one: the
 * hostile inputs below are sized to take a second or more unguarded (2^26 backtracking steps behind
 * a lookahead), well past the budgets used, so a broken guard fails an assertion instead of hanging
 * the run.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isInkError } from '../../src/core/errors.ts'
import { compileCondition, matches, SegmentEvaluator, testCondition } from '../../src/segments/condition.ts'
import { MAX_CONDITION_DEPTH, MAX_REGEX_LENGTH } from '../../src/segments/condition-guard.ts'
import type { SegmentDef } from '../../src/segments/segment-store.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'
import { loadTraitsConfig } from '../../src/traits/traits-config.ts'

const refused = (path: string, pattern: RegExp) => (err: unknown) => {
  assert.ok(isInkError(err), String(err))
  assert.equal(err.code, 'INK_ERR_CONDITION_REFUSED', err.message)
  assert.equal(err.statusCode, 422)
  assert.deepEqual(err.details, { path })
  assert.match(err.message, pattern)
  return true
}

/** 'aaaa…a!' — the input that makes an ambiguous regex backtrack exponentially. */
const HOSTILE = 26
const hostile = (n: number) => `${'a'.repeat(n)}!`

const seg = (version: number): SegmentDef => ({
  workspaceId: 'w',
  segmentId: 'aaa',
  name: 'aaa',
  condition: { email: { $regex: '^(?=a)(a|a)*@x$' } },
  version,
  membersVersion: null,
  updatedAt: 0,
})
const profile = (email: string) => ({
  workspaceId: 'w',
  profileId: email,
  userId: email,
  state: { ...emptyState(), traits: { email } },
  version: 1,
  createdAt: 0,
  updatedAt: 0,
  lastEventReceivedAt: 0,
})

describe('segment conditions that could stall the pipeline are refused when saved', () => {
  test('a nested quantifier is refused wherever the $regex sits', () => {
    const catastrophic = { $regex: '^(a+)+$' }
    const cases: [unknown, string][] = [
      [{ email: catastrophic }, '$.email.$regex'],
      [{ email: { $not: catastrophic } }, '$.email.$not.$regex'],
      [{ tags: { $elemMatch: catastrophic } }, '$.tags.$elemMatch.$regex'],
      [{ tags: { $all: [{ $elemMatch: catastrophic }] } }, '$.tags.$all[0].$elemMatch.$regex'],
      [{ $or: [{ plan: 'pro' }, { email: { ...catastrophic, $options: 'i' } }] }, '$.$or[1].email.$regex'],
      [{ 'odd key': { $regex: '(x+x+)+y' } }, '$["odd key"].$regex'],
    ]
    for (const [condition, path] of cases)
      assert.throws(() => compileCondition(condition), refused(path, /can backtrack catastrophically/))
  })

  test('regex length, flags and type are bounded', () => {
    assert.throws(
      () => compileCondition({ email: { $regex: 'a'.repeat(MAX_REGEX_LENGTH + 1) } }),
      refused('$.email.$regex', new RegExp(`the limit is ${MAX_REGEX_LENGTH}`)),
    )
    assert.doesNotThrow(() => compileCondition({ email: { $regex: 'a'.repeat(MAX_REGEX_LENGTH) } }))
    for (const flags of ['g', 'y', 'ig', 1])
      assert.throws(
        () => compileCondition({ email: { $regex: 'a', $options: flags } }),
        refused('$.email.$regex', /flags i, m, s and u/),
      )
    assert.throws(
      () => compileCondition({ email: { $regex: { a: 1 } } }),
      refused('$.email.$regex', /takes a string/),
    )
    assert.throws(
      () => compileCondition({ email: { $options: 'i' } }),
      refused('$.email.$options', /goes with \$regex/),
    )
  })

  test('code and operators that cannot work here are refused, not silently matching nobody', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ $where: 'this.plan == "pro"' }, '$.$where', /runs code/],
      [{ plan: { $where: 'true' } }, '$.plan.$where', /runs code/],
      [
        { $expr: { $function: { body: 'function(){return true}', args: [], lang: 'js' } } },
        '$.$expr.$function',
        /runs code/,
      ],
      [{ $expr: { $accumulator: {} } }, '$.$expr.$accumulator', /runs code/],
      [{ $jsonSchema: { type: 'object' } }, '$.$jsonSchema', /not supported/],
      [{ $text: { $search: 'mug' } }, '$.$text', /not supported/],
      [
        { $expr: { $regexMatch: { input: '$email', regex: '^(a|a)*$' } } },
        '$.$expr.$regexMatch',
        /\$regex query operator/,
      ],
      [
        { $expr: { $gt: [{ $size: { $range: [0, 1e9] } }, 1] } },
        '$.$expr.$gt[0].$size.$range',
        /not supported/,
      ],
      [
        { $expr: { $reduce: { input: '$recent_products', initialValue: 0, in: 1 } } },
        '$.$expr.$reduce',
        /not supported/,
      ],
    ]
    for (const [condition, path, reason] of cases)
      assert.throws(() => compileCondition(condition), refused(path, reason))
  })

  test('nesting deeper than the limit is refused', () => {
    let deep: unknown = { plan: 'pro' }
    for (let i = 0; i < MAX_CONDITION_DEPTH; i++) deep = { $and: [deep] }
    assert.throws(
      () => compileCondition(deep),
      (err: unknown) => {
        assert.ok(isInkError(err))
        assert.equal(err.code, 'INK_ERR_CONDITION_REFUSED')
        assert.match(err.message, new RegExp(`${MAX_CONDITION_DEPTH} levels`))
        return true
      },
    )
  })

  test('ordinary conditions still compile and match, regex flags included', () => {
    const c = compileCondition({
      $and: [
        { email: { $regex: '@Example\\.com$', $options: 'i' } },
        { plan: { $in: ['pro', 'team'] } },
        { $expr: { $gt: [{ $add: ['$orders_30d', 1] }, 2] } },
        { tags: { $not: { $regex: '^test' } } },
      ],
    })
    assert.equal(matches(c, { email: 'ann@example.COM', plan: 'pro', orders_30d: 2, tags: ['vip'] }), true)
    assert.equal(matches(c, { email: 'ann@example.com', plan: 'pro', orders_30d: 1, tags: ['vip'] }), false)
    assert.equal(
      matches(c, { email: 'ann@example.com', plan: 'pro', orders_30d: 2, tags: ['test-1'] }),
      false,
    )
    assert.equal(matches(c, { email: 'ann@other.com', plan: 'pro', orders_30d: 2, tags: [] }), false)
  })

  test('strings in $in are compared literally, never compiled as patterns', () => {
    const c = compileCondition({ email: { $in: ['^(a+)+$'] } })
    assert.equal(c.budgeted, false)
    assert.equal(matches(c, { email: '^(a+)+$' }), true)
    assert.equal(matches(c, { email: hostile(40) }), false)
  })
})

describe('regexes safe-regex2 lets through run in bounded time', () => {
  test('an ambiguous alternation runs on the linear-time engine: no budget needed', () => {
    const c = compileCondition({ email: { $regex: '^(a|a)*$' } })
    assert.equal(c.budgeted, false)
    assert.equal(matches(c, { email: hostile(50_000) }), false)
    assert.equal(matches(c, { email: 'aaaa' }), true)
  })

  test('case-insensitive too: an ASCII pattern is rewritten for the linear engine', () => {
    const c = compileCondition({ email: { $regex: '^(a|a)*@X\\.io$', $options: 'i' } })
    assert.equal(c.budgeted, false)
    assert.equal(matches(c, { email: `${'A'.repeat(50_000)}!` }), false)
    assert.equal(matches(c, { email: 'aAa@x.IO' }), true)
    assert.equal(matches(c, { email: 'aAa@y.io' }), false)
  })

  test('one the linear engine cannot run (a lookahead) runs under a time budget', () => {
    const c = compileCondition({ email: { $regex: '^(?=a)(a|a)*$' } })
    assert.equal(c.budgeted, true)
    assert.equal(testCondition(c, { email: hostile(HOSTILE) }, 20), 'over-budget')
    // Generous budgets for the inputs that must finish: a loaded machine may pause the thread.
    assert.equal(testCondition(c, { email: 'aaaa' }, 5000), true)
    assert.equal(testCondition(c, { email: 'b' }, 5000), false)
  })

  test('a segment that runs out of its budget twice on one input is suspended once, until saved again', () => {
    const suspended: string[] = []
    const runs: string[] = []
    const evaluator = new SegmentEvaluator(loadTraitsConfig().traits, {
      budgetMs: 200,
      // The harmless input gets its own large budget: a stalled machine cannot suspend the segment here.
      test: (c, traits, budgetMs) => {
        runs.push(String(traits.email))
        return testCondition(c, traits, traits.email === 'aa@x' ? 60_000 : budgetMs)
      },
      onSuspended: (s, why) => suspended.push(`${s.segmentId}@${s.version}:${why.reason}`),
    })
    assert.deepEqual(evaluator.evaluate(seg(1), profile('aa@x'), 0), { email: 'aa@x' })
    assert.equal(evaluator.evaluate(seg(1), profile(hostile(HOSTILE)), 0), null)
    assert.deepEqual(suspended, ['aaa@1:timeout'])
    assert.deepEqual(runs, ['aa@x', hostile(HOSTILE), hostile(HOSTILE)], 'a timeout is re-tested once')
    for (let i = 0; i < 3; i++) assert.equal(evaluator.evaluate(seg(1), profile(hostile(HOSTILE)), 0), null)
    assert.equal(evaluator.evaluate(seg(1), profile('aa@x'), 0), null, 'suspended: matches nobody')
    assert.deepEqual(suspended, ['aaa@1:timeout'], 'reported once')
    assert.equal(runs.length, 3, 'and no input is tested again')
    assert.deepEqual(evaluator.evaluate(seg(2), profile('aa@x'), 0), { email: 'aa@x' }, 'a new version runs')
  })

  test('one timeout on a harmless input (a stalled machine) does not suspend the segment', () => {
    const suspended: string[] = []
    let stalls = 1
    const evaluator = new SegmentEvaluator(loadTraitsConfig().traits, {
      // Deterministic stall: the first test reports a timeout, as a GC pause or starved CPU would.
      test: (c, traits) => (stalls-- > 0 ? 'over-budget' : testCondition(c, traits, 60_000)),
      onSuspended: (s, why) => suspended.push(`${s.segmentId}@${s.version}:${why.reason}`),
    })
    assert.deepEqual(
      evaluator.evaluate(seg(1), profile('aa@x'), 0),
      { email: 'aa@x' },
      're-tested, and matched',
    )
    assert.deepEqual(evaluator.evaluate(seg(1), profile('aa@x'), 0), { email: 'aa@x' })
    assert.deepEqual(suspended, [])
  })

  test('inputs just under the budget use up the version allowance and suspend it', () => {
    const suspended: string[] = []
    let clock = 0
    let tests = 0
    const evaluator = new SegmentEvaluator(loadTraitsConfig().traits, {
      allowance: { slowTestMs: 1, capacityMs: 1_000, refillMsPerS: 10 },
      now: () => clock,
      // Each test "takes" 240 ms on the injected clock: under the 250 ms budget, never a timeout.
      test: (c, traits) => {
        tests++
        clock += 240
        return testCondition(c, traits, 60_000)
      },
      onSuspended: (s, why) => suspended.push(`${s.segmentId}@${s.version}:${why.reason}`),
    })
    for (let i = 0; i < 4; i++)
      assert.deepEqual(evaluator.evaluate(seg(1), profile('aa@x'), 0), { email: 'aa@x' })
    assert.deepEqual(suspended, [], '960 ms spent: within the allowance')
    assert.equal(evaluator.evaluate(seg(1), profile('aa@x'), 0), null)
    assert.deepEqual(suspended, ['aaa@1:allowance'])
    assert.equal(evaluator.evaluate(seg(1), profile('aa@x'), 0), null)
    assert.equal(tests, 5, 'a suspended version runs no more tests')

    // Paced below the refill rate, the same slow tests never exhaust it.
    clock = 0
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(evaluator.evaluate(seg(2), profile('aa@x'), 0), { email: 'aa@x' })
      clock += 30_000 // 30 s later: 300 ms forgiven
    }
    assert.deepEqual(suspended, ['aaa@1:allowance'])
  })

  test('fast tests are never charged, however many', () => {
    let clock = 0
    const suspended: string[] = []
    const evaluator = new SegmentEvaluator(loadTraitsConfig().traits, {
      now: () => clock,
      test: (c, traits) => {
        clock += 0.5 // under SLOW_TEST_MS
        return testCondition(c, traits, 60_000)
      },
      onSuspended: (s) => suspended.push(s.segmentId),
    })
    for (let i = 0; i < 2_500; i++) evaluator.evaluate(seg(1), profile('aa@x'), 0)
    assert.deepEqual(suspended, [])
  })

  test('a condition stored before these checks matches nobody and is reported once per version', () => {
    const refusedSegments: string[] = []
    const evaluator = new SegmentEvaluator(loadTraitsConfig().traits, {
      onRefused: (s, err) => refusedSegments.push(`${s.segmentId}@${s.version}:${(err as Error).message}`),
    })
    const old: SegmentDef = {
      workspaceId: 'w',
      segmentId: 'legacy',
      name: 'legacy',
      condition: { email: { $regex: '^(a+)+$' } },
      version: 3,
      membersVersion: 3,
      updatedAt: 0,
    }
    const profile = {
      workspaceId: 'w',
      profileId: 'p',
      userId: 'u',
      state: { ...emptyState(), traits: { email: 'aaa' } },
      version: 1,
      createdAt: 0,
      updatedAt: 0,
      lastEventReceivedAt: 0,
    }
    assert.equal(evaluator.evaluate(old, profile, 0), null, 'would match without the check')
    assert.equal(evaluator.evaluate(old, profile, 0), null)
    assert.equal(refusedSegments.length, 1)
    assert.match(refusedSegments[0] ?? '', /^legacy@3:.*can backtrack catastrophically/)
  })
})
