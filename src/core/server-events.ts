/**
 * The messageId prefixes of the events the server writes itself: send outcomes
 * (delivery/outcome-events.ts), delivery feedback (delivery/feedback.ts) and what its own tracking
 * links and open-time renders record (delivery/tracking-events.ts `ink-<kind>-`, opentime/open-event.ts
 * `ink-open-time-`). The collector refuses them from clients (ingest/validate.ts), so an event with
 * one came from the server: the bounce policy suppresses addresses and the analytics fold counts
 * engagement only on such events. Anyone holding the public write key could otherwise suppress
 * someone else's address or inflate a campaign's opens, clicks and bounces.
 */
export const SERVER_EVENT_PREFIXES = [
  'ink-outcome-',
  'ink-feedback-',
  'ink-open-',
  'ink-click-',
  'ink-unsubscribe-',
] as const

export const isServerEventId = (messageId: string | undefined): boolean =>
  messageId !== undefined && SERVER_EVENT_PREFIXES.some((p) => messageId.startsWith(p))
