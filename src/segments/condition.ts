/**
 * Segment conditions: MongoDB query language (mingo) over a profile's materialized traits —
 * the object GET /v1/profiles/:id returns under `traits`. Pure functions, no I/O.
 * What a condition may contain is checked by condition-guard.ts; a condition whose regexes could not
 * all be compiled for the linear-time engine runs under a time budget and a per-version allowance here.
 */
import { createRequire } from 'node:module'
import vm from 'node:vm'
import type { Query } from 'mingo'
import { InkError, isInkError } from '../core/errors.ts'
import type { JsonObject } from '../core/types.ts'
import type { StoredProfile } from '../profiles/profile-store.ts'
import { materialize } from '../traits/computed-traits.ts'
import type { TraitDef } from '../traits/traits-config.ts'
import { guardCondition } from './condition-guard.ts'
import type { Evaluate, SegmentDef } from './segment-store.ts'
import { type AllowancePolicy, TimeAllowance } from './time-allowance.ts'

/**
 * Time one test of a budgeted condition may take. It is wall time (vm's watchdog), so it is far above
 * what a real condition needs (microseconds), leaving room for a loaded machine. A timeout is re-tested
 * once before the segment is suspended, and slower-than-normal tests are charged to the segment
 * version's allowance (time-allowance.ts), so inputs just under the budget cannot cost it on every event.
 */
export const DEFAULT_BUDGET_MS = 250

/**
 * mingo, loaded with the first condition compiled (a synchronous require: its entry for Node is
 * CommonJS): ~300 modules, a sixth of the main thread's start-up, that a server without segments
 * never needs.
 */
let mingoQuery: typeof Query | undefined
const QueryClass = (): typeof Query =>
  (mingoQuery ??= (createRequire(import.meta.url)('mingo') as typeof import('mingo')).Query)

const badCondition = (message: string, cause?: unknown) =>
  new InkError('INK_ERR_BAD_REQUEST', `invalid segment condition: ${message}`, {
    ...(cause === undefined ? {} : { cause }),
  })

export interface CompiledCondition {
  readonly query: Query
  /** True when a regex runs on V8's backtracking engine: tests run under a time budget. */
  readonly budgeted: boolean
}

/**
 * Compiles a condition; throws INK_ERR_BAD_REQUEST with mingo's message when it is not valid, and
 * INK_ERR_CONDITION_REFUSED (422) when it is valid but unsafe or unsupported here.
 */
export function compileCondition(condition: unknown): CompiledCondition {
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition))
    throw badCondition('send a JSON object such as {"orders_total": {"$gte": 2}}')
  const guarded = guardCondition(condition as JsonObject)
  try {
    return { query: new (QueryClass())(guarded.query), budgeted: guarded.budgeted }
  } catch (err) {
    if (isInkError(err)) throw err
    throw badCondition((err as Error).message, err)
  }
}

// One context and script for every budgeted test: vm's timeout interrupts whatever JavaScript runs
// inside runInContext, our own functions (and the regex engine under them) included.
const budgetContext = vm.createContext({ run: undefined as (() => boolean) | undefined })
const budgetScript = new vm.Script('run()')

/** The test's answer, or 'over-budget' when a budgeted condition ran out of time on this input. */
export function testCondition(
  c: CompiledCondition,
  traits: JsonObject,
  budgetMs = DEFAULT_BUDGET_MS,
): boolean | 'over-budget' {
  try {
    if (!c.budgeted) return c.query.test(traits)
    budgetContext.run = () => c.query.test(traits)
    try {
      return budgetScript.runInContext(budgetContext, { timeout: budgetMs }) === true
    } finally {
      budgetContext.run = undefined
    }
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return 'over-budget'
    return false
  }
}

/** True when the traits satisfy the condition; a condition that throws or runs out of time is no match. */
export function matches(c: CompiledCondition, traits: JsonObject, budgetMs = DEFAULT_BUDGET_MS): boolean {
  return testCondition(c, traits, budgetMs) === true
}

/** Why a segment version was suspended. */
export interface Suspension {
  /** 'timeout': one input ran out of the budget twice in a row; 'allowance': slow tests added up. */
  reason: 'timeout' | 'allowance'
  budgetMs: number
  /** Slow test time charged to the version and not yet forgiven, timeouts counted at the budget. */
  spentMs: number
}

export interface SegmentEvaluatorOptions {
  /** Time one test may take (vm's watchdog, wall time). */
  budgetMs?: number
  /** The slow-test allowance of each segment version (time-allowance.ts). */
  allowance?: AllowancePolicy
  /** A monotonic clock in milliseconds, for charging test time; performance.now by default. */
  now?: () => number
  /** Runs one test; testCondition by default (a seam for tests that need a stalled machine). */
  test?: typeof testCondition
  /** Called once when a segment version is suspended. */
  onSuspended?: (segment: SegmentDef, why: Suspension) => void
  /** Called once per version for a stored condition that no longer passes (saved before a check existed). */
  onRefused?: (segment: SegmentDef, err: unknown) => void
}

interface Compiled {
  version: number
  condition: CompiledCondition | null
  allowance: TimeAllowance
}

/** Evaluates segments against profiles, caching one compiled query per segment version. */
export class SegmentEvaluator {
  readonly #compiled = new Map<string, Compiled>()
  readonly #budgetMs: number
  readonly #now: () => number
  readonly #test: typeof testCondition

  constructor(
    private readonly traits: readonly TraitDef[],
    private readonly options: SegmentEvaluatorOptions = {},
  ) {
    this.#budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS
    this.#now = options.now ?? (() => performance.now())
    this.#test = options.test ?? testCondition
  }

  /**
   * The member row's fields, or null when the profile is not a member at `now`. A budgeted segment
   * version is suspended (matches nobody until saved again) when one input runs out of the budget
   * twice in a row (once may be a GC pause or a starved CPU), or when its slow tests exhaust the
   * version's allowance: hostile inputs cost the pipeline about one allowance per version.
   */
  evaluate(segment: SegmentDef, profile: StoredProfile, now: number): { email: string | null } | null {
    const c = this.#entry(segment)
    if (!c.condition) return null
    const traits = materialize(profile.state, this.traits, now)
    const result = c.condition.budgeted
      ? this.#budgeted(segment, c, c.condition, traits)
      : testCondition(c.condition, traits)
    if (result !== true) return null
    return { email: typeof traits.email === 'string' ? traits.email : null }
  }

  #budgeted(
    segment: SegmentDef,
    c: Compiled,
    condition: CompiledCondition,
    traits: JsonObject,
  ): boolean | 'suspended' {
    let spent = 0
    let result: boolean | 'over-budget' = 'over-budget'
    // A timeout is re-tested once before it counts: wall time includes pauses the input did not cause.
    for (let attempt = 0; attempt < 2 && result === 'over-budget'; attempt++) {
      const start = this.#now()
      result = this.#test(condition, traits, this.#budgetMs)
      spent += result === 'over-budget' ? this.#budgetMs : this.#now() - start
    }
    const exhausted = c.allowance.charge(spent, this.#now())
    if (result !== 'over-budget' && !exhausted) return result
    c.condition = null
    this.options.onSuspended?.(segment, {
      reason: result === 'over-budget' ? 'timeout' : 'allowance',
      budgetMs: this.#budgetMs,
      spentMs: c.allowance.spentMs,
    })
    return 'suspended'
  }

  /** An Evaluate bound to `now`, for SegmentIndex.backfillStep. */
  at(now: number): Evaluate {
    return (segment, profile) => this.evaluate(segment, profile, now)
  }

  /** Forgets compiled queries of segments no longer defined. */
  retain(segments: readonly SegmentDef[]): void {
    const keep = new Set(segments.map(key))
    for (const k of this.#compiled.keys()) if (!keep.has(k)) this.#compiled.delete(k)
  }

  #entry(segment: SegmentDef): Compiled {
    const k = key(segment)
    let c = this.#compiled.get(k)
    if (c?.version !== segment.version) {
      let condition: CompiledCondition | null = null
      // Conditions are checked when saved; one that no longer passes (saved before a check existed)
      // matches nobody, and is reported.
      try {
        condition = compileCondition(segment.condition)
      } catch (err) {
        this.options.onRefused?.(segment, err)
      }
      c = { version: segment.version, condition, allowance: new TimeAllowance(this.options.allowance) }
      this.#compiled.set(k, c)
    }
    return c
  }
}

const key = (s: SegmentDef) => `${s.workspaceId}\n${s.segmentId}`
