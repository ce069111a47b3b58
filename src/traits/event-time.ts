/**
 * The clock policy: which time the pipeline uses for an event. `timestamp` comes from the client
 * (skew-corrected with `sentAt` when the client sends one), so anyone with the public write key
 * can date an event in year 9999 or ten years back. `receivedAt` is the collector's own clock.
 *
 * - Computed traits and segments (windows, last/first, seen-at) use `effectiveEventTime`: the
 *   client's time, unless it is more than CLOCK_TOLERANCE_MS after receivedAt, then receivedAt.
 *   Past times are kept: late mobile batches and imports of history are legitimate, and an event
 *   older than a window simply does not count in it.
 * - Triggers use `triggerEventTime`: the client's time within CLOCK_TOLERANCE_MS of receivedAt
 *   either way, else receivedAt. A job's due time and its cancel window then follow the order in
 *   which the server saw the events, which the client cannot move.
 * The stored event is never rewritten: `timestamp` (and `originalTimestamp`) keep what the client
 * sent, and templates see it as `event.timestamp`.
 */
import type { InkEvent } from '../core/types.ts'

/** How far an event's time may lead (traits) or stray from (triggers) receivedAt and still be trusted. */
export const CLOCK_TOLERANCE_MS = 60_000

type Times = Pick<InkEvent, 'timestamp' | 'receivedAt'>

function times(e: Times): { t: number; received: number } {
  const received = Date.parse(e.receivedAt)
  const t = Date.parse(e.timestamp)
  return { t: Number.isFinite(t) ? t : received, received }
}

/** Event time for computed traits and segments: future times beyond the tolerance become receivedAt. */
export function effectiveEventTime(e: Times): number {
  const { t, received } = times(e)
  if (!Number.isFinite(received)) return t
  return t > received + CLOCK_TOLERANCE_MS ? received : t
}

/** Event time for triggers (due time, cancel window): receivedAt when the client's time is off by more than the tolerance. */
export function triggerEventTime(e: Times): number {
  const { t, received } = times(e)
  if (!Number.isFinite(received)) return t
  return Math.abs(t - received) > CLOCK_TOLERANCE_MS ? received : t
}
