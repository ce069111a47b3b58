/**
 * The feedback sink over both backends (SQLite and PostgreSQL): a feedback resolves through our
 * email id to the analytics store's row of the message (recipient and campaign), else through the
 * recipient's address to exactly one profile; anything else is unmatched (counted, logged hashed,
 * nothing appended). The profiles are the processor's, the message rows the analytics fold's.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { AnalyticsStore } from '../../src/analytics/analytics-store.ts'
import { foldBatch } from '../../src/analytics/engagement-rules.ts'
import { PgAnalyticsStore } from '../../src/analytics/pg-analytics-store.ts'
import { SqliteAnalyticsStore } from '../../src/analytics/sqlite-analytics-store.ts'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { messageIdFor } from '../../src/delivery/deliver.ts'
import { type Feedback, feedbackEventId } from '../../src/delivery/feedback.ts'
import { addressHash, EventLogFeedbackSink, emailIdIn } from '../../src/delivery/feedback-sink.ts'
import { outcomeEvent } from '../../src/delivery/outcome-events.ts'
import { createMetrics } from '../../src/observe/metrics.ts'
import { Processor } from '../../src/pipeline/processor.ts'
import { loadTraitsConfig } from '../../src/traits/traits-config.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { type OpenStores, pgStores, type Stores, sqliteStores } from '../profiles/store-set.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')
const traits = loadTraitsConfig().traits
type OpenAnalytics = () => Promise<{ store: AnalyticsStore; close(): Promise<void> }>

const sqliteAnalytics: OpenAnalytics = async () => {
  const db = openSqlite(':memory:')
  return { store: new SqliteAnalyticsStore(db), close: async () => void db.close() }
}
const pgAnalytics: OpenAnalytics = async () => {
  const schema = await freshSchema()
  const store = await PgAnalyticsStore.open(schema.connect())
  return { store, close: () => schema.drop() }
}

let offset = 0
const rec = (e: Partial<InkEvent> & Pick<InkEvent, 'type'>, ws = 'w'): LogRecord => ({
  partition: 0,
  offset: ++offset,
  event: {
    messageId: `m${offset}`,
    workspaceId: ws,
    timestamp: new Date(NOW).toISOString(),
    receivedAt: new Date(NOW).toISOString(),
    ...e,
  },
})

const bounce = (over: Partial<Feedback> = {}): Feedback => ({
  source: 'ses',
  kind: 'bounced',
  feedbackId: 'fb-1',
  recipient: 'Ann@Example.com',
  at: NOW - 60_000,
  bounce: { type: 'hard', status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 user unknown' },
  ...over,
})

function sinkSuite(name: string, openStores: OpenStores, openAnalytics: OpenAnalytics, skip: string | false) {
  describe(`the feedback sink over ${name}`, { skip }, () => {
    let stores: Stores
    let analytics: Awaited<ReturnType<OpenAnalytics>>
    let processor: Processor
    let appended: InkEvent[]
    let logged: unknown[]
    let metrics: ReturnType<typeof createMetrics>
    let sink: EventLogFeedbackSink
    const emailId = messageIdFor('w', 'spring', 'ann')

    beforeEach(async () => {
      offset = 0
      const clock = { now: () => NOW }
      stores = await openStores(clock)
      analytics = await openAnalytics()
      processor = new Processor({
        log: {
          append: async () => {},
          consume: () => ({ close: async () => {} }),
          lag: async () => 0,
          close: async () => {},
        },
        store: stores.profiles,
        traits,
        clock,
        logger: { error: () => {}, warn: () => {} },
        batchSize: 100,
        dedupeWindowMs: 86_400_000,
        segments: stores.segments,
      })
      await processor.handle([
        rec({ type: 'identify', userId: 'ann', traits: { email: 'ann@example.com' } }),
        rec({ type: 'identify', userId: 'bob', traits: { email: 'shared@example.com' } }),
        rec({ type: 'identify', userId: 'cat', traits: { email: 'shared@example.com' } }),
        rec({ type: 'identify', anonymousId: 'anon-7', traits: { email: 'dee@example.com' } }),
      ])
      // The message's row, as the analytics consumer folds the send path's Email Sent event.
      const sent = outcomeEvent(
        {
          workspaceId: 'w',
          origin: 'campaign',
          campaignId: 'spring',
          messageId: emailId,
          userId: 'ann-user-of-the-message',
          templateId: 'promo',
          templateVersion: 1,
        },
        { kind: 'sent', detail: '250 ok', attempts: 1 },
        NOW - 3_600_000,
      )
      const folded = foldBatch(
        [{ partition: 0, offset: 1, event: sent }],
        { messages: new Map(), engaged: new Map(), seen: new Set() },
        { event: 'Order Completed', windowMs: 86_400_000 },
      )
      await analytics.store.commit({ ...folded, offsets: [], expected: new Map() })
      appended = []
      logged = []
      metrics = createMetrics({ defaultMetrics: false })
      sink = new EventLogFeedbackSink({
        log: { append: async (events) => void appended.push(...events) },
        messages: analytics.store,
        profiles: stores.reads,
        clock,
        logger: { info: (obj) => void logged.push(obj) },
        metrics,
      })
    })
    afterEach(async () => {
      await processor.close()
      await analytics.close()
      await stores.close()
    })

    const count = async (result: string) =>
      (await metrics.feedback.get()).values
        .filter((v) => v.labels.result === result)
        .reduce((n, v) => n + v.value, 0)

    test("the analytics store reads one message's row by its email id", async () => {
      const row = await analytics.store.message('w', emailId)
      assert.equal(row?.userId, 'ann-user-of-the-message')
      assert.equal(row?.campaignId, 'spring')
      assert.equal(await analytics.store.message('other', emailId), undefined)
      assert.equal(await analytics.store.message('w', 'ink-c.nope'), undefined)
      // By the id alone (the bounce mailbox names no workspace): the row, with its workspace.
      const anywhere = await analytics.store.messageById(emailId)
      assert.deepEqual([anywhere?.workspaceId, anywhere?.userId], ['w', 'ann-user-of-the-message'])
      assert.equal(await analytics.store.messageById('ink-c.nope'), undefined)
    })

    test('a source that names no workspace (the mailbox): a message of another workspace is recorded there; a webhook stays in its own', async () => {
      // The mailbox reader of a process whose own workspace is "other".
      const results = await sink.record(
        'other',
        [bounce({ emailId }), bounce({ feedbackId: 'fb-2', recipient: 'ann@example.com' })],
        { anyWorkspace: true },
      )
      // The second names no message: matched by address in "other" only, where ann is not.
      assert.deepEqual(results, ['recorded', 'unmatched'])
      assert.equal(appended.length, 1)
      assert.deepEqual(
        [
          appended[0]?.workspaceId,
          appended[0]?.messageId,
          appended[0]?.userId,
          appended[0]?.properties?.campaign_id,
        ],
        [
          'w',
          feedbackEventId('w', { source: 'ses', kind: 'bounced', feedbackId: 'fb-1' }),
          'ann-user-of-the-message',
          'spring',
        ],
      )
      // Without it (a webhook whose URL names "other"): nothing of "w" is reached.
      assert.deepEqual(await sink.record('other', [bounce({ emailId })]), ['unmatched'])
      // In the message's own workspace, the same as a webhook's.
      assert.deepEqual(await sink.record('w', [bounce({ emailId })], { anyWorkspace: true }), ['recorded'])
      assert.equal(appended[1]?.workspaceId, 'w')
      assert.equal(appended[1]?.messageId, appended[0]?.messageId)
    })

    test('a feedback with our email id lands on the recipient of that message, with its campaign', async () => {
      const results = await sink.record('w', [bounce({ emailId })])
      assert.deepEqual(results, ['recorded'])
      assert.equal(appended.length, 1)
      const e = appended[0]
      assert.deepEqual(e, {
        type: 'track',
        event: 'Email Bounced',
        messageId: feedbackEventId('w', { source: 'ses', kind: 'bounced', feedbackId: 'fb-1' }),
        workspaceId: 'w',
        userId: 'ann-user-of-the-message',
        properties: {
          origin: 'feedback',
          source: 'ses',
          recipient: 'Ann@Example.com',
          campaign_id: 'spring',
          email_id: emailId,
          bounce_type: 'hard',
          reason: 'hard_bounce',
          status: '5.1.1',
          diagnostic: 'smtp; 550 5.1.1 user unknown',
        },
        timestamp: new Date(NOW - 60_000).toISOString(),
        receivedAt: new Date(NOW).toISOString(),
      })
      assert.equal(await count('recorded'), 1)
    })

    test('without a known email id, the one profile with that address (any case) gets it', async () => {
      const results = await sink.record('w', [
        bounce({ emailId: 'ink-c.0000000000000000000000000000000000000000' }),
        bounce({ feedbackId: 'fb-2', emailId: undefined, recipient: 'ANN@example.com' }),
      ])
      assert.deepEqual(results, ['recorded', 'recorded'])
      assert.deepEqual(
        appended.map((e) => [e.userId, e.properties?.campaign_id, e.properties?.email_id]),
        [
          ['ann', undefined, undefined],
          ['ann', undefined, undefined],
        ],
      )
    })

    test('an anonymous profile found by address is named by its anonymousId', async () => {
      assert.deepEqual(await sink.record('w', [bounce({ recipient: 'dee@example.com' })]), ['recorded'])
      assert.equal(appended[0]?.anonymousId, 'anon-7')
      assert.equal(appended[0]?.userId, undefined)
    })

    test('no profile, several profiles or another workspace: unmatched, nothing appended, counted, logged hashed', async () => {
      const results = await sink.record('w', [
        bounce({ recipient: 'nobody@example.com' }),
        { source: 'ses', kind: 'complained', feedbackId: 'c-1', recipient: 'shared@example.com', at: NOW },
        bounce({ recipient: 'not-an-address' }),
      ])
      assert.deepEqual(results, ['unmatched', 'unmatched', 'unmatched'])
      assert.deepEqual(await sink.record('other', [bounce({ emailId })]), ['unmatched'])
      assert.equal(appended.length, 0)
      assert.equal(await count('unmatched'), 4)
      const text = JSON.stringify(logged)
      assert.equal(logged.length, 4)
      assert.ok(!text.includes('nobody@example.com') && !text.includes('shared@example.com'), text)
      assert.ok(text.includes(addressHash('nobody@example.com')))
      assert.equal(addressHash('Nobody@Example.com'), addressHash('nobody@example.com'))
    })

    test('a log that refuses the events fails the call (the provider retries), and nothing is counted recorded', async () => {
      const failing = new EventLogFeedbackSink({
        log: {
          append: async () => {
            throw new Error('disk full')
          },
        },
        messages: analytics.store,
        profiles: stores.reads,
        clock: { now: () => NOW },
        logger: { info: () => {} },
        metrics,
      })
      await assert.rejects(failing.record('w', [bounce({ emailId })]), /disk full/)
      assert.equal(await count('recorded'), 0)
    })
  })
}

sinkSuite('SQLite', sqliteStores, sqliteAnalytics, false)
sinkSuite('PostgreSQL', pgStores, pgAnalytics, await pgSkip())

describe('our email id in provider fields', () => {
  test('is found in a Message-ID header, a bare local part or a dump, and nowhere else', () => {
    const id = `ink-c.${'ab12'.repeat(10)}`
    assert.equal(emailIdIn(`<${id}@mail.shop.example>`), id)
    assert.equal(emailIdIn(id), id)
    assert.equal(emailIdIn(`Received: x\r\nMessage-ID: <${id}@m.example>\r\n`), id)
    assert.equal(emailIdIn('<14c5d75ce93.dfd.64b469@ismtpd-555>'), undefined)
    assert.equal(emailIdIn(`ink-c.${'ab12'.repeat(10)}ff`), undefined)
    assert.equal(emailIdIn(undefined), undefined)
  })
})
