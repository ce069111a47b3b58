/**
 * Validates one Segment-spec event. Hand-written rather than schema-driven because this runs
 * for every event on the ingest hot path and must say precisely which field is wrong.
 * Returns a value, never throws: a bad event in a batch is an expected outcome.
 */

import { isPlainObject } from '../core/json.ts'
import { isServerEventId, SERVER_EVENT_PREFIXES } from '../core/server-events.ts'
import type { EventType, JsonObject } from '../core/types.ts'
import { EVENT_TYPES } from '../core/types.ts'

export interface EventProblem {
  code: 'INK_ERR_INVALID_EVENT' | 'INK_ERR_EVENT_TOO_LARGE'
  message: string
}

export interface ValidEvent {
  type: EventType
  raw: JsonObject
}

export interface ValidateLimits {
  maxEventBytes: number
  maxDepth: number
}

const ID_MAX = 256
const NAME_MAX = 256
/** Keys that can reach Object.prototype when data is later merged or assigned. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])
const OBJECT_FIELDS = ['properties', 'traits', 'context', 'integrations'] as const
const TIME_FIELDS = ['timestamp', 'sentAt', 'originalTimestamp'] as const
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/

export { isPlainObject }

const invalid = (message: string): EventProblem => ({ code: 'INK_ERR_INVALID_EVENT', message })

/**
 * `fixedType` is the route's type (/v1/track → track); batch items carry their own `type`.
 * The size limit is not checked here: it holds for the event as stored (acceptEvent checks it on
 * the JSON the log then stores, so each event is serialized once).
 */
export function validateEvent(
  raw: unknown,
  fixedType: EventType | undefined,
  limits: ValidateLimits,
): { ok: true; event: ValidEvent } | { ok: false; problem: EventProblem } {
  if (!isPlainObject(raw)) return { ok: false, problem: invalid('an event must be a JSON object') }
  const type = fixedType ?? raw.type
  if (typeof type !== 'string' || !EVENT_TYPES.includes(type as EventType)) {
    return { ok: false, problem: invalid(`"type" must be one of ${EVENT_TYPES.join(', ')}`) }
  }
  const problem = checkFields(raw, type as EventType) ?? checkShape(raw, limits)
  if (problem) return { ok: false, problem }
  return { ok: true, event: { type: type as EventType, raw } }
}

function checkId(raw: JsonObject, field: string, required: boolean): string | undefined {
  const v = raw[field]
  if (v === undefined || v === null) return required ? `"${field}" is required` : undefined
  if (typeof v === 'number' && Number.isFinite(v)) return undefined
  if (typeof v !== 'string') return `"${field}" must be a string`
  if (v.length === 0 && required) return `"${field}" must not be empty`
  if (v.length > ID_MAX) return `"${field}" is longer than ${ID_MAX} characters`
  return undefined
}

const present = (v: unknown) => v !== undefined && v !== null && v !== ''

function checkFields(raw: JsonObject, type: EventType): EventProblem | undefined {
  for (const f of ['userId', 'anonymousId', 'messageId'] as const) {
    const p = checkId(raw, f, false)
    if (p) return invalid(p)
  }
  const id = raw.messageId
  if (typeof id === 'string' && isServerEventId(id))
    return invalid(
      `"messageId" may not start with ${SERVER_EVENT_PREFIXES.join(' or ')}: reserved for the server's own events`,
    )
  if (type === 'alias') {
    const p = checkId(raw, 'userId', true) ?? checkId(raw, 'previousId', true)
    if (p) return invalid(`alias: ${p}`)
  } else if (!present(raw.userId) && !present(raw.anonymousId)) {
    return invalid('every event needs a "userId" or an "anonymousId"')
  }
  if (type === 'track') {
    if (typeof raw.event !== 'string' || raw.event.trim() === '') {
      return invalid('track: "event" must be a non-empty string naming the action, e.g. "Product Viewed"')
    }
    if (raw.event.length > NAME_MAX) return invalid(`track: "event" is longer than ${NAME_MAX} characters`)
  }
  if ((type === 'page' || type === 'screen') && raw.name !== undefined && raw.name !== null) {
    if (typeof raw.name !== 'string') return invalid(`${type}: "name" must be a string`)
  }
  if (type === 'group') {
    const p = checkId(raw, 'groupId', true)
    if (p) return invalid(`group: ${p}`)
  }
  for (const f of OBJECT_FIELDS) {
    const v = raw[f]
    if (v !== undefined && v !== null && !isPlainObject(v)) return invalid(`"${f}" must be a JSON object`)
  }
  for (const f of TIME_FIELDS) {
    const v = raw[f]
    if (v === undefined || v === null) continue
    if (typeof v !== 'string' || !ISO_DATE.test(v) || Number.isNaN(Date.parse(v))) {
      return invalid(`"${f}" must be an ISO-8601 date-time such as 2026-11-28T12:00:00.000Z`)
    }
  }
  return undefined
}

/** Depth and forbidden keys, walked iteratively so hostile nesting cannot overflow the stack. */
function checkShape(raw: JsonObject, limits: ValidateLimits): EventProblem | undefined {
  const stack: [unknown, number][] = [[raw, 1]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!
    if (typeof value !== 'object' || value === null) continue
    if (depth > limits.maxDepth) return invalid(`the event is nested deeper than ${limits.maxDepth} levels`)
    if (Array.isArray(value)) {
      for (const item of value) stack.push([item, depth + 1])
      continue
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) return invalid(`the key "${key}" is not allowed anywhere in an event`)
      stack.push([(value as JsonObject)[key], depth + 1])
    }
  }
  return undefined
}

/** The per-event size limit, on the UTF-8 length of the JSON the log stores; `how` qualifies the size in the message. */
export function checkSize(bytes: number, limits: ValidateLimits, how = ''): EventProblem | undefined {
  if (bytes <= limits.maxEventBytes) return undefined
  return {
    code: 'INK_ERR_EVENT_TOO_LARGE',
    message: `the event is ${bytes} bytes${how}; the limit per event is ${limits.maxEventBytes} bytes (${Math.round(limits.maxEventBytes / 1024)} KB)`,
  }
}
