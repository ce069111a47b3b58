/**
 * Computed traits as pure functions over plain data:
 *   foldEvent(state, event)   → state    (applied once per event, by the processor)
 *   mergeStates(into, from)   → state    (identity merge: anonymous history into a known profile)
 *   materialize(state, now)   → traits   (windows slide with `now`, so reads recompute)
 * Windowed aggregates keep time buckets of 1/720 of the window (at least a minute): an event
 * leaves the window within one bucket of its age passing the window length.
 */

import { isPlainObject } from '../core/json.ts'
import type { InkEvent, JsonObject } from '../core/types.ts'
import { effectiveEventTime } from './event-time.ts'
import { parseDuration, type TraitDef } from './traits-config.ts'

/** A value with the event time it came from. */
interface Stamped {
  v: unknown
  t: number
}
/** [count, sum, min, max] for one bucket. */
type Bucket = [number, number, number, number]
type TraitState = Stamped | { items: Stamped[] } | { buckets: Record<string, Bucket> }

export interface ProfileState {
  /** Identify traits as last sent (shallow merge). */
  traits: JsonObject
  computed: Record<string, TraitState>
  firstSeenAt: number
  lastSeenAt: number
}

export const emptyState = (): ProfileState => ({ traits: {}, computed: {}, firstSeenAt: 0, lastSeenAt: 0 })

const BUCKETS_PER_WINDOW = 720

interface Window {
  windowMs: number
  bucketMs: number
}

const windowCache = new Map<string, Window>()
function windowOf(def: { window?: string | undefined }): Window {
  if (def.window === undefined)
    return { windowMs: Number.POSITIVE_INFINITY, bucketMs: Number.POSITIVE_INFINITY }
  let w = windowCache.get(def.window)
  if (!w) {
    const windowMs = parseDuration(def.window)
    w = { windowMs, bucketMs: Math.max(60_000, Math.floor(windowMs / BUCKETS_PER_WINDOW)) }
    windowCache.set(def.window, w)
  }
  return w
}

const pathKeys = new Map<string, string[]>()

/** Reads a dotted path through own properties only. */
export function getPath(obj: unknown, path: string): unknown {
  let keys = pathKeys.get(path)
  if (keys === undefined) {
    keys = path.split('.')
    // Paths come from the traits config and templates: few; the bound only guards odd callers.
    if (pathKeys.size < 10_000) pathKeys.set(path, keys)
  }
  let cur = obj
  for (const key of keys) {
    if (!isPlainObject(cur) || !Object.hasOwn(cur, key)) return undefined
    cur = cur[key]
  }
  return cur
}

type EventDef = Extract<TraitDef, { event: unknown }>

function matches(def: EventDef, e: InkEvent): boolean {
  if (e.type !== def.eventType) return false
  const name = e.type === 'track' ? e.event : e.name
  const named =
    typeof def.event === 'string'
      ? def.event === '*' || def.event === name
      : name !== undefined && def.event.includes(name)
  return named && (def.except === undefined || !excepted(def.except, e))
}

/** Whether a property of the event has a value `except` names. */
function excepted(except: NonNullable<EventDef['except']>, e: InkEvent): boolean {
  const props = e.properties ?? {}
  for (const [p, refused] of Object.entries(except)) {
    const v = getPath(props, p)
    if (Array.isArray(refused) ? refused.includes(v as never) : refused === v) return true
  }
  return false
}

function eventValue(
  def: { property?: string | undefined; pick?: string[] | undefined },
  e: InkEvent,
): unknown {
  const props = e.properties ?? {}
  if (def.property !== undefined) return getPath(props, def.property)
  if (def.pick !== undefined) {
    const out: JsonObject = {}
    for (const p of def.pick) {
      const v = getPath(props, p)
      if (v !== undefined) out[p] = v
    }
    return out
  }
  return props
}

const toNumber = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN
  return Number.isFinite(n) ? n : undefined
}

function addToBuckets(
  state: TraitState | undefined,
  w: Window,
  t: number,
  n: number,
  now: number,
): TraitState {
  const buckets = state && 'buckets' in state ? state.buckets : {}
  const key = Number.isFinite(w.bucketMs) ? String(Math.floor(t / w.bucketMs) * w.bucketMs) : '0'
  const b = buckets[key]
  if (b) {
    b[0] += 1
    b[1] += n
    if (n < b[2]) b[2] = n
    if (n > b[3]) b[3] = n
    return state as TraitState
  }
  buckets[key] = [1, n, n, n]
  // Only a new bucket adds to the state: expired ones go then (reads skip them meanwhile).
  pruneBuckets(buckets, w, now)
  return { buckets }
}

function pruneBuckets(buckets: Record<string, Bucket>, w: Window, now: number): void {
  if (!Number.isFinite(w.windowMs)) return
  for (const key of Object.keys(buckets))
    if (Number(key) + w.bucketMs <= now - w.windowMs) delete buckets[key]
}

function applyOne(
  def: TraitDef,
  prev: TraitState | undefined,
  e: InkEvent,
  t: number,
  now: number,
): TraitState | undefined {
  switch (def.type) {
    case 'trait':
      return prev
    case 'location': {
      const loc = e.context?.location
      const tz = e.context?.timezone
      if (!isPlainObject(loc) && typeof tz !== 'string') return prev
      if (prev && 't' in prev && prev.t > t) return prev
      return {
        v: { ...(isPlainObject(loc) ? loc : {}), ...(typeof tz === 'string' ? { timezone: tz } : {}) },
        t,
      }
    }
    default:
      break
  }
  if (!matches(def, e)) return prev
  switch (def.type) {
    case 'last':
    case 'first': {
      const v = eventValue(def, e)
      if (v === undefined) return prev
      if (prev && 't' in prev && (def.type === 'last' ? prev.t > t : prev.t <= t)) return prev
      return { v, t }
    }
    case 'lastN': {
      const v = eventValue(def, e)
      if (v === undefined) return prev
      const items = prev && 'items' in prev ? prev.items : []
      return { items: topN([{ v, t }, ...items], def.n, def.uniqueBy) }
    }
    case 'count': {
      const w = windowOf(def)
      return t <= now - w.windowMs ? prev : addToBuckets(prev, w, t, 0, now)
    }
    case 'sum':
    case 'min':
    case 'max': {
      const n = toNumber(getPath(e.properties ?? {}, def.property))
      const w = windowOf(def)
      if (n === undefined || t <= now - w.windowMs) return prev
      return addToBuckets(prev, w, t, n, now)
    }
  }
}

/** A uniqueBy value as a Set key: strings and numbers as themselves (the common case), else JSON. */
const uniqueKey = (v: unknown): string =>
  typeof v === 'string' ? `s${v}` : typeof v === 'number' ? `n${v}` : `j${JSON.stringify(v ?? null)}`

/** Newest first, at most n, keeping only the newest item per uniqueBy key. */
function topN(items: Stamped[], n: number, uniqueBy: string | undefined): Stamped[] {
  // A stable sort: of items with the same time, the earlier in `items` counts as newer.
  const sorted = [...items].sort((a, b) => b.t - a.t)
  if (uniqueBy === undefined) return sorted.slice(0, n)
  const seen = new Set<string>()
  const out: Stamped[] = []
  for (const item of sorted) {
    // A picked path is a key of its own ("product.id" stays flat in the picked object).
    const v = item.v
    const picked = isPlainObject(v) && Object.hasOwn(v, uniqueBy) ? v[uniqueBy] : getPath(v, uniqueBy)
    const key = uniqueKey(picked)
    if (seen.has(key)) continue
    seen.add(key)
    out.push(item)
    if (out.length === n) break
  }
  return out
}

/**
 * Folds one event into a profile state (mutates and returns it). `now` is processing time; the
 * event's time is `effectiveEventTime` (a client clock far ahead is replaced by receivedAt).
 */
export function foldEvent(
  state: ProfileState,
  e: InkEvent,
  defs: readonly TraitDef[],
  now: number,
): ProfileState {
  const t = effectiveEventTime(e)
  if (e.type === 'identify' && e.traits) Object.assign(state.traits, e.traits)
  state.firstSeenAt = state.firstSeenAt === 0 ? t : Math.min(state.firstSeenAt, t)
  state.lastSeenAt = Math.max(state.lastSeenAt, t)
  for (const def of defs) {
    const next = applyOne(def, state.computed[def.name], e, t, now)
    if (next !== undefined) state.computed[def.name] = next
  }
  return state
}

/** Merges `from` (an anonymous profile) into `into` (the known one); known identify traits win. */
export function mergeStates(
  into: ProfileState,
  from: ProfileState,
  defs: readonly TraitDef[],
  now: number,
): ProfileState {
  into.traits = { ...from.traits, ...into.traits }
  if (from.firstSeenAt !== 0)
    into.firstSeenAt =
      into.firstSeenAt === 0 ? from.firstSeenAt : Math.min(into.firstSeenAt, from.firstSeenAt)
  into.lastSeenAt = Math.max(into.lastSeenAt, from.lastSeenAt)
  for (const def of defs) {
    const a = into.computed[def.name]
    const b = from.computed[def.name]
    if (b === undefined) continue
    if (a === undefined) {
      into.computed[def.name] = b
      continue
    }
    if ('buckets' in a && 'buckets' in b) {
      for (const [key, bb] of Object.entries(b.buckets)) {
        const ab = a.buckets[key]
        a.buckets[key] = ab
          ? [ab[0] + bb[0], ab[1] + bb[1], Math.min(ab[2], bb[2]), Math.max(ab[3], bb[3])]
          : bb
      }
      pruneBuckets(a.buckets, windowOf(def as { window?: string }), now)
    } else if ('items' in a && 'items' in b && def.type === 'lastN') {
      a.items = topN([...a.items, ...b.items], def.n, def.uniqueBy)
    } else if ('t' in a && 't' in b) {
      const takeB = def.type === 'first' ? b.t < a.t : b.t > a.t
      if (takeB) into.computed[def.name] = b
    }
  }
  return into
}

/** The trait values a template or the API sees, with windows evaluated at `now`. */
export function materialize(state: ProfileState, defs: readonly TraitDef[], now: number): JsonObject {
  const out: JsonObject = { ...state.traits }
  for (const def of defs) {
    const s = state.computed[def.name]
    switch (def.type) {
      case 'trait':
        out[def.name] = state.traits[def.trait] ?? null
        break
      case 'last':
      case 'first':
      case 'location':
        out[def.name] = s && 'v' in s ? s.v : null
        break
      case 'lastN':
        out[def.name] = s && 'items' in s ? s.items.map((i) => i.v) : []
        break
      case 'count':
      case 'sum':
      case 'min':
      case 'max':
        out[def.name] = aggregate(def.type, s, windowOf(def), now)
        break
    }
  }
  return out
}

function aggregate(
  kind: 'count' | 'sum' | 'min' | 'max',
  s: TraitState | undefined,
  w: Window,
  now: number,
): number | null {
  let count = 0
  let sum = 0
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  if (s && 'buckets' in s) {
    for (const [key, b] of Object.entries(s.buckets)) {
      if (Number.isFinite(w.windowMs) && Number(key) + w.bucketMs <= now - w.windowMs) continue
      count += b[0]
      sum += b[1]
      min = Math.min(min, b[2])
      max = Math.max(max, b[3])
    }
  }
  if (kind === 'count') return count
  if (kind === 'sum') return sum
  if (count === 0) return null
  return kind === 'min' ? min : max
}
