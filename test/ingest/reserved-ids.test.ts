/** The messageIds of the server's own events (send outcomes, feedback) are refused from clients. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { feedbackEventId } from '../../src/delivery/feedback.ts'
import { outcomeEventId } from '../../src/delivery/outcome-events.ts'
import { validateEvent } from '../../src/ingest/validate.ts'

const limits = { maxEventBytes: 32 * 1024, maxDepth: 32 }

test("a client event with a server event's messageId is refused; others are not", () => {
  const ids = [
    outcomeEventId('w', 'ink-c.1', 'bounced'),
    feedbackEventId('w', { source: 'mailbox', feedbackId: 'x', kind: 'complained' }),
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
