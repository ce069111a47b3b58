/**
 * A profile's recent events: the newest RECENT_EVENTS_KEPT events folded into it, kept by the
 * processor in the same transaction as the profile (both batch stores), so the dashboard's timeline
 * is one indexed read and never a scan of the (append-only, partitioned) event log. A merge moves the
 * merged-away profile's events to the profile it merged into. What is kept of an event is bounded:
 * its properties or traits and a few context fields, replaced by a marker past RECENT_EVENT_MAX_BYTES.
 */
import type { InkEvent, JsonObject } from '../core/types.ts'

/** Events kept per profile; older ones (by event time) are deleted in the commit that adds newer ones. */
export const RECENT_EVENTS_KEPT = 50
/** The most JSON kept of one event's data. */
export const RECENT_EVENT_MAX_BYTES = 4096

export interface RecentEvent {
  workspaceId: string
  profileId: string
  messageId: string
  type: InkEvent['type']
  /** The track event's name, the page's or screen's name; null for other types. */
  name: string | null
  /** Event time (skew-corrected timestamp), epoch ms. */
  at: number
  receivedAt: number
  /** `properties` (track, page, screen) or `traits` (identify, group), and `context.userAgent`/`page`. */
  data: JsonObject
}

/** A recent event on its way to a store, with its data as JSON (made once: the size check needs it). */
export interface NewRecentEvent extends RecentEvent {
  dataJson: string
}

const CONTEXT_KEPT = ['userAgent', 'page', 'ip', 'locale'] as const

/** What is kept of `e`, folded into `profileId`. */
export function recentEventOf(e: InkEvent, profileId: string): NewRecentEvent {
  const data: JsonObject = {}
  if (e.properties !== undefined) data.properties = e.properties
  if (e.traits !== undefined) data.traits = e.traits
  if (e.previousId !== undefined) data.previousId = e.previousId
  if (e.groupId !== undefined) data.groupId = e.groupId
  const context: JsonObject = {}
  for (const k of CONTEXT_KEPT) if (e.context?.[k] !== undefined) context[k] = e.context[k] ?? null
  if (Object.keys(context).length > 0) data.context = context
  const json = JSON.stringify(data)
  // UTF-8 bytes ≤ 3 × UTF-16 code units: count the bytes only when the length alone does not decide.
  const bytes = json.length * 3 <= RECENT_EVENT_MAX_BYTES ? 0 : Buffer.byteLength(json)
  const kept = bytes <= RECENT_EVENT_MAX_BYTES
  const at = Date.parse(e.timestamp)
  const receivedAt = Date.parse(e.receivedAt)
  return {
    workspaceId: e.workspaceId,
    profileId,
    messageId: e.messageId,
    type: e.type,
    name:
      (e.type === 'track' ? e.event : e.type === 'page' || e.type === 'screen' ? e.name : undefined) ?? null,
    at: Number.isNaN(at) ? receivedAt : at,
    receivedAt,
    data: kept ? data : { truncated: true, bytes },
    dataJson: kept ? json : JSON.stringify({ truncated: true, bytes }),
  }
}
