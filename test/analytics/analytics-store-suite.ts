/**
 * The shared suite of the AnalyticsStore seam, run against SQLite and PostgreSQL: the analytics
 * consumer over a real (SQLite) event log, with events built by the send path's and the tracking
 * routes' own functions.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { AnalyticsConsumer, countConversions } from '../../src/analytics/analytics-consumer.ts'
import {
  ANALYTICS_GROUP,
  AnalyticsConflictError,
  type AnalyticsStore,
} from '../../src/analytics/analytics-store.ts'
import { type Counters, MAX_REVENUE, zeroCounters } from '../../src/analytics/engagement-rules.ts'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import { outcomeEvent } from '../../src/delivery/outcome-events.ts'
import { recipientEvent } from '../../src/delivery/tracking-events.ts'
import { SqliteEventLog } from '../../src/log/sqlite-event-log.ts'
import { createMetrics } from '../../src/observe/metrics.ts'
import { openTimeEvent } from '../../src/opentime/open-event.ts'
import { tempDir } from '../helpers/app.ts'

const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 86_400_000
const HUMAN =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'
const DAY = 86_400_000
const rules = { event: 'Order Completed', windowMs: 3 * DAY }

const send = (
  campaignId: string,
  email: string,
  user: string,
  at: number,
  version: number,
  kind: 'sent' | 'bounced' = 'sent',
) =>
  outcomeEvent(
    {
      workspaceId: 'w',
      origin: campaignId.startsWith('trigger:') ? 'trigger' : 'campaign',
      campaignId,
      messageId: email,
      userId: user,
      templateId: 'promo',
      templateVersion: version,
      fallbacks: 0,
    },
    kind === 'sent' ? { kind, detail: '250 ok', attempts: 1 } : { kind, detail: '550 no such user' },
    at,
  )
const engage = (
  event: string,
  campaignId: string,
  email: string,
  user: string,
  at: number,
  id: string,
  ua = HUMAN,
) =>
  recipientEvent({
    event,
    // The server's tracking ids (trackingEventId's prefixes): the analytics count nothing else.
    messageId: `${event === 'Email Opened' ? 'ink-open-' : event === 'Email Link Clicked' ? 'ink-click-' : 'ink-unsubscribe-'}${id}`,
    workspaceId: 'w',
    userId: user,
    properties: { campaign_id: campaignId, email_id: email },
    now: at,
    userAgent: ua,
  })
const order = (user: string, at: number, id: string, revenue: number): InkEvent => ({
  type: 'track',
  event: 'Order Completed',
  messageId: id,
  workspaceId: 'w',
  userId: user,
  properties: { revenue },
  timestamp: new Date(at).toISOString(),
  receivedAt: new Date(at).toISOString(),
})

/** The scenario: a campaign on two template versions, a trigger, opens, clicks and conversions. */
const EVENTS: InkEvent[] = [
  send('c1', 'm1', 'ann', T0, 1),
  send('c1', 'm2', 'bob', T0 + 100, 2),
  send('c1', 'm3', 'cat', T0 + 200, 2, 'bounced'),
  send('trigger:t1', 'm4', 'ann', T0 + 300, 1),
  engage('Email Opened', 'c1', 'm1', 'ann', T0 + 500, 'o-scan'), // within 2 s of the send: machine
  engage('Email Opened', 'c1', 'm1', 'ann', T0 + 60_000, 'o1'),
  engage('Email Opened', 'c1', 'm1', 'ann', T0 + 70_000, 'o2'),
  engage('Email Link Clicked', 'c1', 'm1', 'ann', T0 + 80_000, 'k1'),
  engage('Email Opened', 'c1', 'm2', 'bob', T0 + 90_000, 'o3', 'GoogleImageProxy'),
  engage('Email Link Clicked', 'c1', 'm2', 'bob', T0 + 95_000, 'k2'),
  engage('Unsubscribed', 'c1', 'm2', 'bob', T0 + 96_000, 'u1'),
  engage('Email Opened', 'trigger:t1', 'm4', 'ann', T0 + 3_600_000, 'o4'),
  order('ann', T0 + 3_700_000, 'order-1', 30), // ann's last engagement: the trigger's m4
  order('bob', T0 + 4 * DAY, 'order-2', 50), // outside bob's window
]

type Open = () => Promise<{ store: AnalyticsStore; close(): Promise<void> }>

export function analyticsStoreSuite(name: string, open: Open, skip: () => Promise<string | false>): void {
  describe(`${name} analytics store with the analytics consumer`, () => {
    let skipped: string | false = false
    let dir: string
    let logDb: SqliteDatabase
    let log: SqliteEventLog
    let opened: Awaited<ReturnType<Open>>
    let store: AnalyticsStore

    before(async () => {
      skipped = await skip()
      if (skipped) return
      dir = tempDir('inkstream-analytics-suite-')
      logDb = openSqlite(join(dir, 'log.db'))
      log = new SqliteEventLog(logDb, { pollMs: 20 })
      opened = await open()
      store = opened.store
    })
    after(async () => {
      if (skipped) return
      await log.close()
      logDb.close()
      await opened.close()
      rmSync(dir, { recursive: true, force: true })
    })

    const consumer = (metrics?: ReturnType<typeof createMetrics>) =>
      new AnalyticsConsumer({
        log,
        store,
        rules,
        clock: { now: () => Date.now() },
        logger: { error: () => {}, warn: () => {} },
        onConversions: metrics ? countConversions(metrics) : undefined,
        messageRetentionMs: 200 * DAY,
        seenRetentionMs: 7 * DAY,
      })
    const caughtUp = async () => {
      const deadline = Date.now() + 10_000
      while ((await log.lag(ANALYTICS_GROUP)) > 0) {
        assert.ok(Date.now() < deadline, 'the analytics consumer did not catch up')
        await new Promise((r) => setTimeout(r, 10))
      }
    }
    const summary = async () => {
      const c1 = await store.totals('w', 'c1')
      const t1 = await store.totals('w', 'trigger:t1')
      return {
        c1: c1.map((v) => [v.templateVersion, v.counters]),
        t1: t1.map((v) => [v.templateVersion, v.counters]),
      }
    }

    test('counts a campaign per template version and a trigger apart, conversions to the last engaged message', async (t) => {
      if (skipped) return t.skip(skipped)
      const metrics = createMetrics()
      const c = consumer(metrics)
      await c.start()
      await log.append(EVENTS)
      await caughtUp()
      await c.close()
      const zero = zeroCounters()
      assert.deepEqual(await summary(), {
        c1: [
          [1, { ...zero, sent: 1, machineOpens: 1, opens: 2, uniqueOpens: 1, clicks: 1, uniqueClicks: 1 }],
          // bob's proxy fetch is a machine open; his click is the open its pixel did not show.
          [
            2,
            {
              ...zero,
              sent: 1,
              bounced: 1,
              machineOpens: 1,
              opens: 1,
              uniqueOpens: 1,
              clicks: 1,
              uniqueClicks: 1,
              unsubscribes: 1,
            },
          ],
        ],
        t1: [[1, { ...zero, sent: 1, opens: 1, uniqueOpens: 1, conversions: 1, revenue: 30 }]],
      })
      const conversions = await metrics.registry.getSingleMetricAsString('inkstream_conversions_total')
      assert.match(conversions, /inkstream_conversions_total\{origin="trigger"\} 1/)

      const hour = await store.series('w', { campaignId: 'c1' }, T0, T0 + 2 * 3_600_000, 3_600_000)
      assert.deepEqual(
        hour.map((p) => [p.t, p.counters.sent, p.counters.opens, p.counters.clicks]),
        [[T0, 2, 3, 2]],
      )
      const byTemplate = await store.series('w', { templateId: 'promo' }, T0, T0 + 2 * 3_600_000, 300_000)
      assert.deepEqual(
        byTemplate.map((p) => [p.t - T0, p.counters.sent, p.counters.opens, p.counters.conversions]),
        [
          [0, 3, 3, 0],
          [3_600_000, 0, 1, 1],
        ],
      )
    })

    test('redelivery from an older offset and duplicates appended change no count', async (t) => {
      if (skipped) return t.skip(skipped)
      const before = await summary()
      // The consumer restarted from offset 0 of the log (its group's committed offset lost).
      logDb.prepare("DELETE FROM log_consumer_offsets WHERE group_id = 'analytics'").run()
      const c = consumer()
      await c.start()
      await caughtUp()
      assert.deepEqual(await summary(), before)
      // The same events appended again: new offsets, same messageIds.
      await log.append(EVENTS)
      await caughtUp()
      await c.close()
      assert.deepEqual(await summary(), before)
    })

    test('a consumer whose partition another one applied meanwhile gets a conflict, then folds afresh', async (t) => {
      if (skipped) return t.skip(skipped)
      const before = await summary()
      const a = consumer()
      const b = consumer()
      // Both read the applied offsets (as after a rebalance), then a applies new records first.
      await Promise.all([a.start(), b.start()])
      await a.close()
      await b.close()
      const applied = (await store.appliedOffsets()).get(0) ?? 0
      const more: LogRecord[] = [
        {
          partition: 0,
          offset: applied + 1,
          event: engage('Email Link Clicked', 'c1', 'm1', 'ann', T0 + 100_000, 'k9'),
        },
      ]
      await a.handle(more)
      await assert.rejects(b.handle(more), AnalyticsConflictError)
      await b.handle(more) // after the conflict, b knows the new offsets: nothing more is counted
      const after = await summary()
      const v1 = after.c1[0]?.[1] as Counters
      const was = before.c1[0]?.[1] as Counters
      assert.deepEqual([v1.clicks, v1.uniqueClicks], [was.clicks + 1, was.uniqueClicks])
    })

    test('a batch with no engagement or conversion reads and writes nothing in the store', async (t) => {
      if (skipped) return t.skip(skipped)
      const calls: string[] = []
      const spy = new Proxy(store, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target)
          if (typeof value !== 'function') return value
          return (...args: unknown[]) => {
            if (prop === 'load' || prop === 'commit') calls.push(prop)
            return value.apply(target, args)
          }
        },
      })
      const c = new AnalyticsConsumer({
        log,
        store: spy,
        rules,
        clock: { now: () => Date.now() },
        logger: { error: () => {}, warn: () => {} },
        messageRetentionMs: 200 * DAY,
        seenRetentionMs: 7 * DAY,
      })
      const plain = (
        i: number,
        event: string,
        properties: Record<string, unknown> = { sku: 'x' },
      ): InkEvent => ({
        type: 'track',
        event,
        messageId: i >= 100 ? `ink-click-plain-${i}` : `plain-${i}`,
        workspaceId: 'w',
        userId: 'ann',
        properties,
        timestamp: new Date(T0).toISOString(),
        receivedAt: new Date(T0).toISOString(),
      })
      await c.start()
      const applied = (await store.appliedOffsets()).get(0) ?? 0
      const head = async () => Number(logDb.prepare('SELECT MAX(offset) FROM log_events').pluck().get())
      // Nor does an engagement event a client posted (not the server's id: core/server-events.ts).
      await log.append([
        plain(1, 'Product Viewed'),
        plain(2, 'Cart Viewed'),
        plain(4, 'Email Link Clicked', { email_id: 'm1', campaign_id: 'c1' }),
      ])
      await caughtUp()
      assert.deepEqual(calls, [])
      assert.equal((await store.appliedOffsets()).get(0) ?? 0, applied)
      // An engagement event, even one that counts nothing (no campaign), is loaded and committed.
      await log.append([plain(103, 'Email Link Clicked', { email_id: 'unknown-email' })])
      await caughtUp()
      await c.close()
      assert.deepEqual(calls, ['load', 'commit'])
      assert.equal((await store.appliedOffsets()).get(0), await head())
    })

    test('retention deletes old message rows, engagements and counted ids, never counters', async (t) => {
      if (skipped) return t.skip(skipped)
      const before = await summary()
      const deleted = await store.prune({
        messagesBefore: Date.now(),
        engagedBefore: Date.now(),
        seenBefore: Date.now() + 1,
      })
      // m1..m4, the engagements of ann and bob, and the ids of the events counted: 13 of EVENTS (bob's
      // order came after his window) and k9.
      assert.equal(deleted, 4 + 2 + 14)
      assert.deepEqual(await summary(), before)
    })

    test('values the columns cannot hold (a huge template version, a fractional age) do not stop the consumer', async (t) => {
      if (skipped) return t.skip(skipped)
      const B = T0 + 5 * 3_600_000
      const c = consumer()
      await c.start()
      // What anyone holding the write key could post; PostgreSQL refused both, and the batch with them
      // was retried for ever, so nothing after it in the partition was counted.
      await log.append([
        send('c3', 'm10', 'eve', B, 3e9),
        openTimeEvent({
          workspaceId: 'w',
          campaignId: 'c3',
          recipient: 'eve',
          messageId: 'm10',
          token: 'tok-c3',
          now: B + 10_000,
          windowMs: 10_000,
          userAgent: HUMAN,
          surface: 'png',
          block: 'deal',
          fallbacks: 0,
          dataAgeMs: 1.5,
        }),
        send('c3', 'm11', 'fay', B + 20_000, 4),
        // Two conversions of 1e308 into one counter overflowed PostgreSQL's double precision.
        engage('Email Link Clicked', 'c3', 'm11', 'fay', B + 30_000, 'k-fay'),
        order('fay', B + 40_000, 'order-big-1', 1e308),
        order('fay', B + 50_000, 'order-big-2', 1e308),
        send('c3', 'm12', 'gil', B + 60_000, 4),
      ])
      await caughtUp()
      await c.close()
      const totals = await store.totals('w', 'c3')
      // The version beyond `integer` is not taken (the row keeps no template); the age is whole ms;
      // each revenue is kept within ±MAX_REVENUE, and the send after them is counted.
      assert.deepEqual(
        totals.map((v) => [
          v.templateId,
          v.templateVersion,
          v.counters.sent,
          v.counters.liveAgeSumMs,
          v.counters.revenue,
        ]),
        [
          ['', 0, 1, 2, 0],
          ['promo', 4, 2, 0, 2 * MAX_REVENUE],
        ],
      )
    })

    test('open-time freshness: ages summed and bucketed, the maximum kept across commits and rows', async (t) => {
      if (skipped) return t.skip(skipped)
      const B = T0 + 2 * 3_600_000 // the start of a 5-minute bucket
      const live = (token: string, at: number, dataAgeMs: number | null) =>
        openTimeEvent({
          workspaceId: 'w',
          campaignId: 'c2',
          recipient: 'dan',
          messageId: 'm9',
          token,
          now: at,
          windowMs: 10_000,
          userAgent: HUMAN,
          surface: 'png',
          block: 'deal',
          fallbacks: dataAgeMs === null ? 1 : 0,
          dataAgeMs,
        })
      const c = consumer()
      await c.start()
      // Two appends, two commits into the same counter row: the maximum must be kept, not added.
      await log.append([
        send('c2', 'm9', 'dan', B, 3),
        live('a', B + 10_000, 0),
        live('b', B + 20_000, 20_000),
      ])
      await caughtUp()
      await log.append([
        live('c', B + 30_000, 5_000),
        live('d', B + 40_000, null),
        live('e', B + 300_000, 60_000), // the next bucket: another row
      ])
      await caughtUp()
      await c.close()
      const [v] = await store.totals('w', 'c2')
      const f = v?.counters as Counters
      assert.deepEqual(
        [f.liveRenders, f.liveFallbacks, f.liveAged, f.liveAgeSumMs, f.liveAgeMaxMs],
        [5, 1, 4, 85_000, 60_000],
      )
      assert.deepEqual(
        [f.liveAgeLe100ms, f.liveAgeLe1s, f.liveAgeLe5s, f.liveAgeLe15s, f.liveAgeLe30s, f.liveAgeLe1m],
        [1, 0, 1, 0, 1, 1],
      )
      const points = await store.series('w', { campaignId: 'c2' }, B, B + 600_000, 300_000)
      assert.deepEqual(
        points.map((p) => [p.t - B, p.counters.liveAged, p.counters.liveAgeSumMs, p.counters.liveAgeMaxMs]),
        [
          [0, 3, 25_000, 20_000],
          [300_000, 1, 60_000, 60_000],
        ],
      )
    })

    // After the retention test, which counts every row the tests before it made.
    test('early opens are kept on the stored row across commits and judged again at the Email Sent', async (t) => {
      if (skipped) return t.skip(skipped)
      const c = consumer()
      await c.start()
      // A scanner's fetch on receipt and a person's open, both appended before the outcome, each
      // committed in a batch of its own before the Email Sent is.
      await log.append([engage('Email Opened', 'c4', 'h1', 'gus', T0 + 10_000 - 400, 'h-scan')])
      await caughtUp()
      await log.append([engage('Email Opened', 'c4', 'h1', 'gus', T0 + 40_000, 'h-person')])
      await caughtUp()
      const early = await store.messageById('h1')
      assert.deepEqual([early?.earlyOpens, early?.opens], [[T0 + 10_000 - 400, T0 + 40_000], 2])
      await log.append([send('c4', 'h1', 'gus', T0 + 10_000, 3)])
      await caughtUp()
      await c.close()
      const zero = zeroCounters()
      // The opens were counted before the outcome named a template; the send under its version.
      assert.deepEqual(
        (await store.totals('w', 'c4')).map((v) => [v.templateId, v.templateVersion, v.counters]),
        [
          ['', 0, { ...zero, machineOpens: 1, opens: 1, uniqueOpens: 1 }],
          ['promo', 3, { ...zero, sent: 1 }],
        ],
      )
      const row = await store.messageById('h1')
      assert.deepEqual([row?.earlyOpens, row?.opens, row?.firstOpenAt], [null, 1, T0 + 40_000])
    })
  })
}
