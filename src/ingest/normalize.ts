/** Adds the server-side fields to a validated event: receivedAt, messageId, workspace, corrected time. */
import { randomUUID } from 'node:crypto'
import type { InkEvent, JsonObject } from '../core/types.ts'
import { isPlainObject, type ValidEvent } from './validate.ts'

export interface RequestMeta {
  workspaceId: string
  receivedAt: number
  /** Batch-level sentAt, used when an event has none. */
  sentAt?: string | undefined
  ip?: string | undefined
}

const idString = (v: unknown): string | undefined =>
  v === undefined || v === null || v === '' ? undefined : String(v)

const obj = (v: unknown): JsonObject | undefined => (isPlainObject(v) ? v : undefined)

/**
 * The events of one request share their receivedAt, and most their timestamp too: the ISO form
 * of the last instant is kept, so a batch of 100 formats it once, not 200 times.
 */
let lastInstant = Number.NaN
let lastIso = ''
function isoOf(ms: number): string {
  if (ms !== lastInstant) {
    lastIso = new Date(ms).toISOString()
    lastInstant = ms
  }
  return lastIso
}

/**
 * Segment's clock-skew correction: the client's clock may be wrong, but the distance between
 * `timestamp` and `sentAt` was measured on that same clock, so
 * timestamp = receivedAt - (sentAt - originalTimestamp).
 */
export function correctTimestamp(receivedAt: number, original?: string, sentAt?: string): number {
  if (original === undefined) return receivedAt
  const t = Date.parse(original)
  if (sentAt === undefined) return t
  return receivedAt - (Date.parse(sentAt) - t)
}

/**
 * RudderStack's SDKs put identify traits in `context.traits` (and repeat them on every event).
 * RudderStack's users table takes an identify's `context.traits`, then its `traits` over them
 * (rudder-transformer, src/warehouse/index.js), so an identify folds
 * `{ ...context.traits, ...traits }`. Only the event's own `context.traits` are folded: a batch's
 * shared context is context, not every identify's traits. Once folded they are dropped from the
 * stored context, so the stored identify is no larger than the one sent (RudderStack's SDKs allow
 * 32 KB per event). Other types keep `traits` and `context` as sent.
 */
function foldIdentifyTraits(
  raw: JsonObject,
  context: JsonObject | undefined,
  ownContextTraits: unknown,
): { traits: JsonObject | undefined; context: JsonObject | undefined } {
  const top = obj(raw.traits)
  const fromContext = obj(ownContextTraits)
  if (!fromContext || context === undefined || context.traits !== ownContextTraits)
    return { traits: top, context }
  const { traits: _folded, ...rest } = context
  return { traits: { ...fromContext, ...top }, context: rest }
}

/**
 * `own.contextTraits` is the event's own `context.traits` as sent, before a batch's shared context
 * was merged in (by default, what `raw.context.traits` holds: the event had no shared context).
 */
export function normalizeEvent(
  { type, raw }: ValidEvent,
  meta: RequestMeta,
  own: { contextTraits: unknown } = { contextTraits: obj(raw.context)?.traits },
): InkEvent {
  // RudderStack's SDKs send only `originalTimestamp` (the client clock at the call), Segment's
  // `timestamp`; both are corrected for clock skew the same way.
  const original =
    typeof raw.timestamp === 'string'
      ? raw.timestamp
      : typeof raw.originalTimestamp === 'string'
        ? raw.originalTimestamp
        : undefined
  const sentAt = typeof raw.sentAt === 'string' ? raw.sentAt : meta.sentAt
  const event: InkEvent = {
    type,
    messageId: idString(raw.messageId) ?? `ink-${randomUUID()}`,
    workspaceId: meta.workspaceId,
    timestamp:
      original === undefined
        ? isoOf(meta.receivedAt)
        : new Date(correctTimestamp(meta.receivedAt, original, sentAt)).toISOString(),
    receivedAt: isoOf(meta.receivedAt),
  }
  const userId = idString(raw.userId)
  const anonymousId = idString(raw.anonymousId)
  if (userId !== undefined) event.userId = userId
  if (anonymousId !== undefined) event.anonymousId = anonymousId
  if (original !== undefined) event.originalTimestamp = original
  if (sentAt !== undefined) event.sentAt = sentAt
  if (type === 'track') event.event = String(raw.event)
  if ((type === 'page' || type === 'screen') && typeof raw.name === 'string') event.name = raw.name
  if (type === 'alias') event.previousId = String(raw.previousId)
  if (type === 'group') event.groupId = String(raw.groupId)
  const properties = obj(raw.properties)
  const integrations = obj(raw.integrations)
  let { traits, context } =
    type === 'identify'
      ? foldIdentifyTraits(raw, obj(raw.context), own.contextTraits)
      : { traits: obj(raw.traits), context: obj(raw.context) }
  if (meta.ip !== undefined && context?.ip === undefined) context = { ...context, ip: meta.ip }
  if (properties) event.properties = properties
  if (traits) event.traits = traits
  if (context) event.context = context
  if (integrations) event.integrations = integrations
  return event
}
