/**
 * How analytics folds feedback events: a bounce an ESP reports counts once per message however
 * often it is delivered; an ESP's own opens and clicks are not counted again next to ours.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { foldBatch, type Loaded } from '../../src/analytics/engagement-rules.ts'
import type { InkEvent } from '../../src/core/types.ts'
import { type Feedback, feedbackEvent } from '../../src/delivery/feedback.ts'
import { outcomeEvent } from '../../src/delivery/outcome-events.ts'
import { recipientEvent } from '../../src/delivery/tracking-events.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')
const HUMAN =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'
const to = { workspaceId: 'w', userId: 'ann', campaignId: 'spring', emailId: 'ink-c.1' }
const fb = (kind: Feedback['kind'], feedbackId: string, extra: Partial<Feedback> = {}): InkEvent =>
  feedbackEvent(
    { source: 'sendgrid', kind, feedbackId, recipient: 'ann@example.com', at: NOW, ...extra },
    to,
    NOW,
  )

function fold(events: InkEvent[]) {
  const loaded: Loaded = { messages: new Map(), engaged: new Map(), seen: new Set() }
  const sent = outcomeEvent(
    {
      workspaceId: 'w',
      origin: 'campaign',
      campaignId: 'spring',
      messageId: 'ink-c.1',
      userId: 'ann',
      templateId: 't',
      templateVersion: 1,
    },
    { kind: 'sent', detail: '250 ok', attempts: 1 },
    NOW - 3_600_000,
  )
  const records = [sent, ...events].map((event, i) => ({ partition: 0, offset: i + 1, event }))
  const out = foldBatch(records, loaded, { event: 'Order Completed', windowMs: 86_400_000 })
  const total = (field: string) =>
    out.counters.reduce((n, d) => n + ((d.counters as unknown as Record<string, number>)[field] ?? 0), 0)
  return { out, total }
}

describe('feedback in analytics', () => {
  test('a bounce delivered twice counts once', () => {
    const bounce = fb('bounced', 'e1', { bounce: { type: 'hard', status: '5.1.1' } })
    const { total, out } = fold([bounce, { ...bounce }])
    assert.equal(total('bounced'), 1)
    assert.equal(out.messages[0]?.bouncedAt, NOW)
  })

  test("an ESP's opens and clicks are left to our own tracking", () => {
    const ours = recipientEvent({
      event: 'Email Opened',
      // Our pixel's event (trackingEventId's shape: the server's own prefix).
      messageId: 'ink-open-ours-1',
      workspaceId: 'w',
      userId: 'ann',
      properties: { campaign_id: 'spring', email_id: 'ink-c.1' },
      now: NOW,
      userAgent: HUMAN,
    })
    const { total } = fold([fb('opened', 'o1'), fb('clicked', 'c1', { url: 'https://x.example/' }), ours])
    assert.equal(total('opens'), 1)
    assert.equal(total('clicks'), 0)
  })
})
