/**
 * Segment conditions: MongoDB query language (mingo) over a profile's materialized traits —
 * the object GET /v1/profiles/:id returns under `traits`. Pure functions, no I/O.
 * What a condition may contain is checked by condition-guard.ts; a condition whose regexes could not
 * all be compiled for the linear-time engine runs under a time budget here.
 */
import vm from 'node:vm'
import { Query } from 'mingo'
import { InkError, isInkError } from '../core/errors.ts'
import type { JsonObject } from '../core/types.ts'
import { materialize } from '../pipeline/computed-traits.ts'
import type { TraitDef } from '../pipeline/traits-config.ts'
import type { StoredProfile } from '../profiles/profile-store.ts'
import { guardCondition } from './condition-guard.ts'
import type { Evaluate, SegmentDef } from './segment-store.ts'

/**
 * Time one test of a budgeted condition may take before its segment is suspended. It is wall time
 * (vm's watchdog), so it is far above what a real condition needs (microseconds), leaving room for a
 * loaded machine; a hostile input then costs the pipeline this much once per segment version.
 */
export const DEFAULT_BUDGET_MS = 250

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
    return { query: new Query(guarded.query), budgeted: guarded.budgeted }
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

export interface SegmentEvaluatorOptions {
  budgetMs?: number
  /** Called once when a segment version runs out of its budget and is suspended. */
  onSuspended?: (segment: SegmentDef, budgetMs: number) => void
  /** Called once per version for a stored condition that no longer passes (saved before a check existed). */
  onRefused?: (segment: SegmentDef, err: unknown) => void
}

/** Evaluates segments against profiles, caching one compiled query per segment version. */
export class SegmentEvaluator {
  readonly #compiled = new Map<string, { version: number; condition: CompiledCondition | null }>()
  readonly #budgetMs: number

  constructor(
    private readonly traits: readonly TraitDef[],
    private readonly options: SegmentEvaluatorOptions = {},
  ) {
    this.#budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS
  }

  /**
   * The member row's fields, or null when the profile is not a member at `now`. A segment version
   * whose condition ran out of its time budget once is suspended: it matches nobody until it is
   * saved again (a new version), so one hostile input costs the pipeline one budget, not one per event.
   */
  evaluate(segment: SegmentDef, profile: StoredProfile, now: number): { email: string | null } | null {
    const condition = this.#condition(segment)
    if (!condition) return null
    const traits = materialize(profile.state, this.traits, now)
    const result = testCondition(condition, traits, this.#budgetMs)
    if (result === 'over-budget') {
      this.#compiled.set(key(segment), { version: segment.version, condition: null })
      this.options.onSuspended?.(segment, this.#budgetMs)
      return null
    }
    if (!result) return null
    return { email: typeof traits.email === 'string' ? traits.email : null }
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

  #condition(segment: SegmentDef): CompiledCondition | null {
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
      c = { version: segment.version, condition }
      this.#compiled.set(k, c)
    }
    return c.condition
  }
}

const key = (s: SegmentDef) => `${s.workspaceId}\n${s.segmentId}`
