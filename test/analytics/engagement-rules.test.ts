/** The fold of engagement events into message rows and counters: pure, no I/O. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  COUNTER_BUCKET_MS,
  foldBatch,
  type Loaded,
  MAX_EARLY_OPENS,
  MAX_REVENUE,
  revenueOf,
} from '../../src/analytics/engagement-rules.ts'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import { outcomeEvent } from '../../src/delivery/outcome-events.ts'
import { recipientEvent } from '../../src/delivery/tracking-events.ts'
import { openTimeEvent } from '../../src/opentime/open-event.ts'

const T0 = 1_800_000_000_000
const HUMAN = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15'
const rules = { event: 'Order Completed', windowMs: 3 * 86_400_000 }
const empty = (): Loaded => ({ messages: new Map(), engaged: new Map(), seen: new Set() })

const sent = (email: string, user: string, at: number, fallbacks = 0) =>
  outcomeEvent(
    {
      workspaceId: 'w',
      origin: 'campaign',
      campaignId: 'c1',
      messageId: email,
      userId: user,
      templateId: 'promo',
      templateVersion: 2,
      fallbacks,
    },
    { kind: 'sent', detail: '250 ok', attempts: 1 },
    at,
  )
/** The server's tracking event ids (trackingEventId's prefixes); the analytics count nothing else. */
const TRACKING_PREFIX: Record<string, string> = {
  'Email Opened': 'ink-open-',
  'Email Link Clicked': 'ink-click-',
  Unsubscribed: 'ink-unsubscribe-',
}
const tracked = (event: string, email: string, user: string, at: number, id: string, userAgent?: string) =>
  recipientEvent({
    event,
    messageId: `${TRACKING_PREFIX[event] ?? ''}${id}`,
    workspaceId: 'w',
    userId: user,
    properties: { campaign_id: 'c1', email_id: email },
    now: at,
    userAgent,
  })
const order = (user: string, at: number, id: string, properties: Record<string, unknown>): InkEvent => ({
  type: 'track',
  event: 'Order Completed',
  messageId: id,
  workspaceId: 'w',
  userId: user,
  properties,
  timestamp: new Date(at).toISOString(),
  receivedAt: new Date(at).toISOString(),
})
const records = (events: InkEvent[]): LogRecord[] =>
  events.map((event, i) => ({ partition: 0, offset: i + 1, event }))

const totals = (f: ReturnType<typeof foldBatch>) => {
  const sum: Record<string, number> = {}
  for (const d of f.counters) for (const [k, v] of Object.entries(d.counters)) sum[k] = (sum[k] ?? 0) + v
  return sum
}

describe('engagement rules', () => {
  test('an open within 2 s of the send or by a proxy is a machine open; it does not engage', () => {
    const f = foldBatch(
      records([
        sent('m1', 'ann', T0, 1),
        tracked('Email Opened', 'm1', 'ann', T0 + 1_500, 'o1', HUMAN),
        tracked('Email Opened', 'm1', 'ann', T0 + 60_000, 'o2', 'Mozilla/5.0'),
        tracked('Email Opened', 'm1', 'ann', T0 + 2_000, 'o3', HUMAN),
        // A scanner that fetched on receipt, timed before the send's outcome (taken after the 250).
        tracked('Email Opened', 'm1', 'ann', T0 - 300, 'o4', HUMAN),
      ]),
      empty(),
      rules,
    )
    const t = totals(f)
    assert.deepEqual([t.sent, t.machineOpens, t.opens, t.uniqueOpens, t.fallbackSends], [1, 3, 1, 1, 1])
    // Only the human open engages (a conversion after it is attributed to it).
    assert.deepEqual(f.engaged, [{ workspaceId: 'w', userId: 'ann', emailId: 'm1', at: T0 + 2_000 }])
    // Counted at each event's time: the early scanner falls in the bucket before the send's.
    const bucket = Math.floor(T0 / COUNTER_BUCKET_MS) * COUNTER_BUCKET_MS
    assert.deepEqual(
      f.counters.map((d) => [d.templateId, d.templateVersion, d.bucket, d.counters.machineOpens]),
      [
        ['promo', 2, bucket, 2],
        ['promo', 2, bucket - COUNTER_BUCKET_MS, 1],
      ],
    )
  })

  test('opens folded before the Email Sent count at once; at the Email Sent those within 2 s of it become machine opens', () => {
    const loaded = empty()
    // A scanner fetches the pixel on receipt: its open is appended before the outcome, which is
    // timed after the server's 250 (log order is append order).
    const first = foldBatch(
      records([
        tracked('Email Opened', 'm1', 'ann', T0 - 300, 'o1', HUMAN),
        tracked('Email Opened', 'm1', 'ann', T0 + 500, 'o2', HUMAN),
        // The outcome's append was late: a person opened 60 s after the send, before it was folded.
        tracked('Email Opened', 'm1', 'ann', T0 + 60_000, 'o3', HUMAN),
        // A proxy by its User-Agent: a machine open at once, not an early one.
        tracked('Email Opened', 'm1', 'ann', T0 + 700, 'o4', 'GoogleImageProxy'),
      ]),
      loaded,
      rules,
    )
    assert.deepEqual(
      [totals(first).opens, totals(first).uniqueOpens, totals(first).machineOpens],
      [3, 1, 1],
      'counted as they came',
    )
    assert.deepEqual(first.messages[0]?.earlyOpens, [T0 - 300, T0 + 500, T0 + 60_000])
    assert.deepEqual(first.engaged, [], 'an early open engages once judged')

    const second = foldBatch(records([sent('m1', 'ann', T0)]), loaded, rules)
    const both = totals({ ...second, counters: [...first.counters, ...second.counters] })
    assert.deepEqual([both.sent, both.opens, both.uniqueOpens, both.machineOpens], [1, 1, 1, 3])
    // Each moved in its own bucket (T0 starts one: the open at T0 − 300 ms is in the one before), under
    // the template it was counted under (none yet); the send under the outcome's.
    assert.equal(T0 % COUNTER_BUCKET_MS, 0)
    const byKey = new Map<string, number[]>()
    for (const d of [...first.counters, ...second.counters]) {
      const k = `${d.templateId}/${d.templateVersion}/${d.bucket - T0}`
      const v = byKey.get(k) ?? [0, 0, 0, 0]
      byKey.set(k, [
        v[0]! + d.counters.sent,
        v[1]! + d.counters.opens,
        v[2]! + d.counters.uniqueOpens,
        v[3]! + d.counters.machineOpens,
      ])
    }
    assert.deepEqual(Object.fromEntries(byKey), {
      [`/0/${-COUNTER_BUCKET_MS}`]: [0, 0, 0, 1],
      '/0/0': [0, 1, 1, 2],
      'promo/2/0': [1, 0, 0, 0],
    })
    const m1 = second.messages[0]!
    assert.deepEqual([m1.earlyOpens, m1.opens, m1.firstOpenAt], [null, 1, T0 + 60_000])
    assert.deepEqual(second.engaged, [{ workspaceId: 'w', userId: 'ann', emailId: 'm1', at: T0 + 60_000 }])
    // From the outcome on, an open is judged at once.
    const third = foldBatch(
      records([
        tracked('Email Opened', 'm1', 'ann', T0 + 1_000, 'o5', HUMAN),
        tracked('Email Opened', 'm1', 'ann', T0 + 90_000, 'o6', HUMAN),
      ]),
      loaded,
      rules,
    )
    assert.deepEqual([totals(third).opens, totals(third).machineOpens, totals(third).uniqueOpens], [1, 1, 0])
    assert.equal(third.messages[0]?.earlyOpens, null)
  })

  test("early opens and clicks: a scanner's open followed by a click leaves the click as the first open", () => {
    const f = foldBatch(
      records([
        // m1: the scanner's open, then the person's click (which added no open: one was counted).
        tracked('Email Opened', 'm1', 'ann', T0 + 100, 'o1', HUMAN),
        tracked('Email Link Clicked', 'm1', 'ann', T0 + 5_000, 'c1'),
        sent('m1', 'ann', T0),
        // m2: a person's open 5 s after the send, then a click: nothing to judge again.
        tracked('Email Opened', 'm2', 'bob', T0 + 5_000, 'o2', HUMAN),
        tracked('Email Link Clicked', 'm2', 'bob', T0 + 8_000, 'c2'),
        sent('m2', 'bob', T0),
      ]),
      empty(),
      rules,
    )
    const by = (id: string) => f.messages.find((m) => m.emailId === id)!
    assert.deepEqual(
      [by('m1').opens, by('m1').firstOpenAt, by('m1').firstClickAt],
      [1, T0 + 5_000, T0 + 5_000],
    )
    assert.deepEqual([by('m2').opens, by('m2').firstOpenAt], [1, T0 + 5_000])
    const t = totals(f)
    assert.deepEqual([t.opens, t.uniqueOpens, t.machineOpens, t.clicks], [2, 2, 1, 2])
  })

  test("a scanner's early open takes no conversion from the message the person clicked; a person's does", () => {
    const H = 3_600_000
    const f = foldBatch(
      records([
        sent('m1', 'ann', T0),
        tracked('Email Link Clicked', 'm1', 'ann', T0 + 60_000, 'c1'),
        // m2 reaches a mailbox that scans on receipt: the scanner's open is appended before its outcome.
        tracked('Email Opened', 'm2', 'ann', T0 + H + 300, 'o1', HUMAN),
        sent('m2', 'ann', T0 + H),
        order('ann', T0 + 2 * H, 'order-1', { revenue: 10 }),
        // m3: a person's open before the outcome was folded (60 s after the send): it engages.
        tracked('Email Opened', 'm3', 'ann', T0 + 3 * H + 60_000, 'o2', HUMAN),
        sent('m3', 'ann', T0 + 3 * H),
        order('ann', T0 + 4 * H, 'order-2', { revenue: 20 }),
      ]),
      empty(),
      rules,
    )
    const by = (id: string) => f.messages.find((m) => m.emailId === id)!
    assert.deepEqual(
      ['m1', 'm2', 'm3'].map((id) => [by(id).conversions, by(id).revenue]),
      [
        [1, 10],
        [0, 0],
        [1, 20],
      ],
    )
    assert.deepEqual([by('m2').opens, totals(f).machineOpens], [0, 1])
  })

  test('early opens stay as counted after an outcome without a send time, without an outcome, or when too many', () => {
    const failed = outcomeEvent(
      { workspaceId: 'w', origin: 'campaign', campaignId: 'c1', messageId: 'm1', userId: 'ann' },
      { kind: 'failed', detail: '421 try later, gave up', temporary: false },
      T0 + 1000,
    )
    const f = foldBatch(
      records([
        tracked('Email Opened', 'm1', 'ann', T0 + 200, 'o1', HUMAN),
        failed,
        // No outcome at all (a crash between the 250 and its append): counted as before.
        tracked('Email Opened', 'm2', 'bob', T0 + 300, 'o2', HUMAN),
        // A storm before the outcome: past MAX_EARLY_OPENS none is judged again.
        ...Array.from({ length: MAX_EARLY_OPENS + 1 }, (_, i) =>
          tracked('Email Opened', 'm3', 'cy', T0 + i, `s${i}`, HUMAN),
        ),
        sent('m3', 'cy', T0),
      ]),
      empty(),
      rules,
    )
    const by = (id: string) => f.messages.find((m) => m.emailId === id)!
    assert.deepEqual([by('m1').opens, by('m1').earlyOpens], [1, null])
    assert.deepEqual([by('m2').opens, by('m2').earlyOpens], [1, [T0 + 300]])
    assert.deepEqual([by('m3').opens, by('m3').earlyOpens], [MAX_EARLY_OPENS + 1, null])
    assert.deepEqual([totals(f).machineOpens, totals(f).failed], [0, 1])
  })

  test('a conversion goes to the last engaged message within the window, once per event', () => {
    const day = 86_400_000
    const f = foldBatch(
      records([
        sent('m1', 'ann', T0),
        sent('m2', 'ann', T0 + 1000),
        tracked('Email Link Clicked', 'm1', 'ann', T0 + 60_000, 'c1'),
        tracked('Email Opened', 'm2', 'ann', T0 + 120_000, 'o1', HUMAN),
        order('ann', T0 + 2 * day, 'order-1', { total: '12.5', revenue: 'n/a' }),
        order('ann', T0 + 2 * day, 'order-1', { total: '12.5' }),
        order('ann', T0 + 4 * day, 'order-2', { revenue: 99 }),
        order('bob', T0 + day, 'order-3', { revenue: 5 }),
      ]),
      empty(),
      rules,
    )
    const m2 = f.messages.find((m) => m.emailId === 'm2')
    assert.deepEqual([m2?.conversions, m2?.revenue], [1, 12.5])
    assert.equal(f.messages.find((m) => m.emailId === 'm1')?.conversions, 0)
    assert.deepEqual(f.conversions, [{ origin: 'campaign', revenue: 12.5 }])
    assert.deepEqual([totals(f).conversions, totals(f).revenue], [1, 12.5])
  })

  test('a click without a human open before it is the open the pixel missed; a later open adds to opens only', () => {
    const f = foldBatch(
      records([
        sent('m1', 'ann', T0),
        // A proxy's fetch is a machine open: the message is not opened by a person yet.
        tracked('Email Opened', 'm1', 'ann', T0 + 30_000, 'o1', 'GoogleImageProxy'),
        tracked('Email Link Clicked', 'm1', 'ann', T0 + 60_000, 'c1'),
        tracked('Email Link Clicked', 'm1', 'ann', T0 + 70_000, 'c2'),
        tracked('Email Opened', 'm1', 'ann', T0 + 90_000, 'o2', HUMAN),
        // Opened, then clicked: the click implies nothing more.
        sent('m2', 'bob', T0),
        tracked('Email Opened', 'm2', 'bob', T0 + 40_000, 'o3', HUMAN),
        tracked('Email Link Clicked', 'm2', 'bob', T0 + 50_000, 'c3'),
      ]),
      empty(),
      rules,
    )
    const t = totals(f)
    assert.deepEqual([t.machineOpens, t.opens, t.uniqueOpens, t.clicks, t.uniqueClicks], [1, 3, 2, 3, 2])
    const m1 = f.messages.find((m) => m.emailId === 'm1')
    assert.deepEqual([m1?.opens, m1?.firstOpenAt, m1?.firstClickAt], [2, T0 + 60_000, T0 + 60_000])
    assert.equal(f.messages.find((m) => m.emailId === 'm2')?.firstOpenAt, T0 + 40_000)
  })

  test('the same event twice, or an event already counted, counts once', () => {
    const loaded = empty()
    const batch = records([
      sent('m1', 'ann', T0),
      tracked('Email Link Clicked', 'm1', 'ann', T0 + 60_000, 'c1'),
      tracked('Email Link Clicked', 'm1', 'ann', T0 + 60_000, 'c1'),
      tracked('Email Link Clicked', 'm1', 'ann', T0 + 90_000, 'c2'),
      tracked('Unsubscribed', 'm1', 'ann', T0 + 95_000, 'u1'),
      tracked('Unsubscribed', 'm1', 'ann', T0 + 99_000, 'u2'),
    ])
    const first = totals(foldBatch(batch, loaded, rules))
    assert.deepEqual([first.sent, first.clicks, first.uniqueClicks, first.unsubscribes], [1, 2, 1, 1])
    assert.deepEqual(foldBatch(batch, loaded, rules).counters, [])
  })

  test('open-time renders are counted with those that fell back; each is also an open', () => {
    const live = (at: number, fallbacks: number, token: string) =>
      openTimeEvent({
        workspaceId: 'w',
        campaignId: 'c1',
        recipient: 'ann',
        messageId: 'm1',
        token,
        now: at,
        windowMs: 10_000,
        userAgent: HUMAN,
        surface: 'png',
        block: 'hero',
        fallbacks,
        dataAgeMs: fallbacks > 0 ? null : 1_500,
      })
    const t = totals(
      foldBatch(
        records([sent('m1', 'ann', T0), live(T0 + 60_000, 0, 'a'), live(T0 + 90_000, 2, 'b')]),
        empty(),
        rules,
      ),
    )
    assert.deepEqual([t.liveRenders, t.liveFallbacks, t.opens, t.uniqueOpens], [2, 1, 2, 1])
  })

  test('revenue is properties.revenue, else total, else value; anything else is 0', () => {
    const r = (p: Record<string, unknown>) => revenueOf(order('a', T0, 'x', p))
    assert.deepEqual(
      [r({ revenue: 3, total: 4 }), r({ total: '4.5' }), r({ value: 7 }), r({ revenue: 'abc' }), r({})],
      [3, 4.5, 7, 0, 0],
    )
    // Within ±MAX_REVENUE: a sum of any count of them stays a finite double.
    assert.deepEqual([r({ revenue: 1e308 }), r({ total: '-1e300' })], [MAX_REVENUE, -MAX_REVENUE])
  })

  test('engagement events a client posted (no server prefix on their messageId) count nothing', () => {
    const forged = (event: string, id: string): InkEvent => ({
      type: 'track',
      event,
      messageId: id,
      workspaceId: 'w',
      userId: 'ann',
      properties: { campaign_id: 'c1', email_id: 'm1', template_id: 'promo', template_version: 2 },
      timestamp: new Date(T0 + 60_000).toISOString(),
      receivedAt: new Date(T0 + 60_000).toISOString(),
    })
    const events = [
      forged('Email Sent', 'f1'),
      forged('Email Opened', 'f2'),
      forged('Email Link Clicked', 'f3'),
      forged('Email Bounced', 'f4'),
      forged('Unsubscribed', 'f5'),
      // An id that merely starts with "ink-" is not one of the server's.
      forged('Email Opened', 'ink-1234'),
    ]
    const f = foldBatch(records(events), empty(), rules)
    assert.deepEqual([f.messages.length, f.counters.length], [0, 0])
    // The same events with the server's ids count.
    const ours = foldBatch(
      records([sent('m1', 'ann', T0), tracked('Email Opened', 'm1', 'ann', T0 + 60_000, 'x', HUMAN)]),
      empty(),
      rules,
    )
    assert.deepEqual([totals(ours).sent, totals(ours).opens], [1, 1])
  })
})
