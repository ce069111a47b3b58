/**
 * Segment conditions: MongoDB query language (mingo) over a profile's materialized traits —
 * the object GET /v1/profiles/:id returns under `traits`. Pure functions, no I/O.
 */
import { Query } from 'mingo'
import { InkError } from '../core/errors.ts'
import type { JsonObject } from '../core/types.ts'
import { materialize } from '../pipeline/computed-traits.ts'
import type { TraitDef } from '../pipeline/traits-config.ts'
import type { StoredProfile } from '../profiles/profile-store.ts'
import type { Evaluate, SegmentDef } from './segment-store.ts'

const badCondition = (message: string, cause?: unknown) =>
  new InkError('INK_ERR_BAD_REQUEST', `invalid segment condition: ${message}`, {
    ...(cause === undefined ? {} : { cause }),
  })

/** Compiles a condition; throws INK_ERR_BAD_REQUEST with mingo's message when it is not valid. */
export function compileCondition(condition: unknown): Query {
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition))
    throw badCondition('send a JSON object such as {"orders_total": {"$gte": 2}}')
  try {
    return new Query(condition as JsonObject)
  } catch (err) {
    throw badCondition((err as Error).message, err)
  }
}

/** True when the traits satisfy the query; a query that throws on this input is no match. */
export function matches(query: Query, traits: JsonObject): boolean {
  try {
    return query.test(traits)
  } catch {
    return false
  }
}

/** Evaluates segments against profiles, caching one compiled query per segment version. */
export class SegmentEvaluator {
  readonly #compiled = new Map<string, { version: number; query: Query | null }>()

  constructor(private readonly traits: readonly TraitDef[]) {}

  /** The member row's fields, or null when the profile is not a member at `now`. */
  evaluate(segment: SegmentDef, profile: StoredProfile, now: number): { email: string | null } | null {
    const query = this.#query(segment)
    if (!query) return null
    const traits = materialize(profile.state, this.traits, now)
    if (!matches(query, traits)) return null
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

  #query(segment: SegmentDef): Query | null {
    const k = key(segment)
    let c = this.#compiled.get(k)
    if (c?.version !== segment.version) {
      let query: Query | null = null
      // Conditions are validated when saved; one that no longer compiles matches nobody.
      try {
        query = compileCondition(segment.condition)
      } catch {}
      c = { version: segment.version, query }
      this.#compiled.set(k, c)
    }
    return c.query
  }
}

const key = (s: SegmentDef) => `${s.workspaceId}\n${s.segmentId}`
