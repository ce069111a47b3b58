/**
 * The events a verified tracking token turns into, named after Segment's email-event spec
 * (Email Opened, Email Link Clicked, Unsubscribed) so downstream tools already know them.
 */
import { createHash } from 'node:crypto'
import type { InkEvent, JsonObject } from '../core/types.ts'
import type { TokenPayload } from './tokens.ts'

export const EMAIL_OPENED = 'Email Opened'
export const EMAIL_LINK_CLICKED = 'Email Link Clicked'
export const UNSUBSCRIBED = 'Unsubscribed'

/** How long a message's tracking links (pixel, clicks, unsubscribe) verify (deliver.ts signs them). */
export const TRACKING_TTL_MS = 30 * 86_400_000

const NAMES = {
  open: EMAIL_OPENED,
  click: EMAIL_LINK_CLICKED,
  unsubscribe: UNSUBSCRIBED,
  'open-time': EMAIL_OPENED,
  // Never recorded through here (topics/double-opt-in.ts records a consent event); named for completeness.
  confirm: 'Topic Subscribed',
} as const

export interface TrackingEventOptions {
  /** The verified token itself: the event id derives from it. */
  token: string
  now: number
  /** Opens and clicks of one token inside one window of this length share an event id. */
  windowMs: number
  userAgent?: string | undefined
}

/**
 * The event's messageId is deterministic, so the processor's messageId dedupe (DESIGN.md §5) gives
 * the effect we want: a click or open is hash(token, window) — a double-click, a client retrying the
 * request or a proxy fetching the pixel twice inside one window count once, while the same link
 * clicked again in a later window counts again. Two requests that straddle a window boundary count
 * twice; that is the price of needing no shared state. An unsubscribe is hash(token) alone: doing it
 * twice is one fact.
 */
export function trackingEventId(
  kind: TokenPayload['kind'],
  token: string,
  now: number,
  windowMs: number,
): string {
  const scope = kind === 'unsubscribe' ? '' : `\n${Math.floor(now / windowMs)}`
  const hash = createHash('sha256').update(`${kind}\n${token}${scope}`).digest('hex').slice(0, 32)
  return `ink-${kind}-${hash}`
}

/** The track event recorded for a verified token, in the token's workspace, for its recipient. */
export function trackingEvent(payload: TokenPayload, o: TrackingEventOptions): InkEvent {
  const properties: JsonObject = { campaign_id: payload.campaignId, email_id: payload.messageId }
  if (payload.kind === 'click' && payload.url !== undefined) properties.link_url = payload.url
  return recipientEvent({
    event: NAMES[payload.kind],
    messageId: trackingEventId(payload.kind, o.token, o.now, o.windowMs),
    workspaceId: payload.workspaceId,
    userId: payload.recipient,
    properties,
    now: o.now,
    userAgent: o.userAgent,
  })
}

/**
 * A track event about one recipient of a message (a click, an open, an open-time render), at `now`.
 * The user agent helps tell machine opens (privacy proxies, scanners) from people; the IP is not kept.
 */
export function recipientEvent(o: {
  event: string
  messageId: string
  workspaceId: string
  userId: string
  properties: JsonObject
  now: number
  userAgent?: string | undefined
}): InkEvent {
  const at = new Date(o.now).toISOString()
  const event: InkEvent = {
    type: 'track',
    event: o.event,
    messageId: o.messageId,
    workspaceId: o.workspaceId,
    userId: o.userId,
    properties: o.properties,
    timestamp: at,
    receivedAt: at,
  }
  if (o.userAgent !== undefined) event.context = { userAgent: o.userAgent }
  return event
}
