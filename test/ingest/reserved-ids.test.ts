/** The messageIds of the server's own events (send outcomes, feedback, tracking) are refused from clients. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { feedbackEventId } from '../../src/delivery/feedback.ts'
import { outcomeEventId } from '../../src/delivery/outcome-events.ts'
import { trackingEventId } from '../../src/delivery/tracking-events.ts'
import { validateEvent } from '../../src/ingest/validate.ts'
import { openTimeEventId } from '../../src/opentime/open-event.ts'

const limits = { maxEventBytes: 32 * 1024, maxDepth: 32 }

test("a client event with a server event's messageId is refused; others are not", () => {
  const ids = [
    outcomeEventId('w', 'ink-c.1', 'bounced'),
    feedbackEventId('w', { source: 'mailbox', feedbackId: 'x', kind: 'complained' }),
    // What the server's tracking links and open-time renders record (the analytics count only these).
    trackingEventId('open', 'tok', 0, 60_000),
    trackingEventId('click', 'tok', 0, 60_000),
    trackingEventId('unsubscribe', 'tok', 0, 60_000),
    openTimeEventId('tok', 0, 60_000),
  ]
  for (const messageId of ids) {
    const r = validateEvent(
      { type: 'track', userId: 'u', event: 'Email Complained', messageId },
      undefined,
      limits,
    )
    assert.equal(r.ok, false, messageId)
    assert.match(r.ok ? '' : r.problem.message, /reserved for the server's own events/)
  }
  const ok = validateEvent(
    { type: 'track', userId: 'u', event: 'x', messageId: 'ink-1234' },
    undefined,
    limits,
  )
  assert.equal(ok.ok, true)
})
