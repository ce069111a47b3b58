/** The shared vocabulary: events as they travel through the log, and profiles as they are stored. */

export type EventType = 'track' | 'identify' | 'page' | 'screen' | 'group' | 'alias'

export const EVENT_TYPES: readonly EventType[] = ['track', 'identify', 'page', 'screen', 'group', 'alias']

export type JsonObject = { [key: string]: unknown }

/** An event after the collector validated and enriched it; what the log stores. */
export interface InkEvent {
  type: EventType
  messageId: string
  workspaceId: string
  userId?: string
  anonymousId?: string
  /** alias only: the id being merged into `userId`. */
  previousId?: string
  /** group only. */
  groupId?: string
  event?: string
  name?: string
  properties?: JsonObject
  traits?: JsonObject
  context?: JsonObject
  integrations?: JsonObject
  /** Skew-corrected event time, ISO-8601. */
  timestamp: string
  /** The time the client said the event happened, before skew correction. */
  originalTimestamp?: string
  sentAt?: string
  receivedAt: string
  /** W3C trace context of the span that appended the event (only while tracing): links the processing to it. */
  traceparent?: string
}

/** An event as read back from the log, with its position. */
export interface LogRecord {
  partition: number
  offset: number
  event: InkEvent
}

export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }
