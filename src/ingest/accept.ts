/**
 * One event from the wire to what the log stores: the batch's shared `context` merged in, then
 * validated (spec, depth, forbidden keys), normalized, serialized once, and the size limit checked
 * on that JSON, which the log then stores as it is (an EncodedEvent). Merging before validating
 * matters: a shared context is checked once per event it lands in, so its keys and its bytes count
 * against every event, as if each event had sent it.
 */
import type { EventType, JsonObject } from '../core/types.ts'
import type { EncodedEvent } from '../log/event-log.ts'
import { normalizeEvent, type RequestMeta } from './normalize.ts'
import {
  checkSize,
  type EventProblem,
  isPlainObject,
  type ValidateLimits,
  validateEvent,
} from './validate.ts'

export interface AcceptOptions {
  /** The route's type (/v1/track → track); batch items carry their own `type`. */
  type?: EventType | undefined
  /** A batch-level `context`, merged under the event's own context keys. */
  shared?: JsonObject | undefined
  meta: RequestMeta
  limits: ValidateLimits
}

export type Accepted = ({ ok: true } & EncodedEvent) | { ok: false; problem: EventProblem }

/** `{ ...shared, ...own }` as the context; an own context that is not an object is left for validation to refuse. */
export function mergeSharedContext(item: unknown, shared: JsonObject | undefined): unknown {
  if (shared === undefined || !isPlainObject(item)) return item
  const own = item.context
  if (own !== undefined && own !== null && !isPlainObject(own)) return item
  // Spread copies own keys with CreateDataProperty, so a parsed "__proto__" key stays a plain key
  // that validation then sees and refuses.
  return { ...item, context: { ...shared, ...(own ?? {}) } }
}

export function acceptEvent(item: unknown, opts: AcceptOptions): Accepted {
  const merged = mergeSharedContext(item, opts.shared)
  const how = opts.shared === undefined ? '' : ` with the batch's shared "context" merged in`
  const result = validateEvent(merged, opts.type, opts.limits)
  if (!result.ok) return result
  const contextTraits = isPlainObject(item) && isPlainObject(item.context) ? item.context.traits : undefined
  const event = normalizeEvent(result.event, opts.meta, { contextTraits })
  // Normalizing adds server fields (messageId, times, workspace, ip): the limit holds for what is
  // stored. Validation bounded the depth, and parsed JSON has no cycles or BigInts: this cannot throw.
  const json = JSON.stringify(event)
  const bytes = Buffer.byteLength(json)
  const problem = checkSize(bytes, opts.limits, `${how} as stored`)
  return problem ? { ok: false, problem } : { ok: true, event, json, bytes }
}
