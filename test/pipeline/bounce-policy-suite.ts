/**
 * The bounce and complaint policy through the processor and a BatchStore, with the suppression list
 * on the same database: what the processor writes in the batch's transaction is what the send path's
 * SuppressionStore reads. Run over SQLite and PostgreSQL (bounce-policy-*.test.ts).
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { InkEvent, JsonObject, LogRecord } from '../../src/core/types.ts'
import { EMAIL_COMPLAINED, EMAIL_DELIVERED } from '../../src/delivery/feedback.ts'
import { EMAIL_BOUNCED } from '../../src/delivery/outcome-events.ts'
import type { SuppressionStore } from '../../src/delivery/suppression-store.ts'
import type { BatchStore } from '../../src/pipeline/batch-store.ts'
import { bouncePolicies, DEFAULT_BOUNCE_POLICY } from '../../src/pipeline/bounce-policy.ts'
import { Processor } from '../../src/pipeline/processor.ts'
import type { TopicStore } from '../../src/topics/topic-store.ts'
import { loadTraitsConfig } from '../../src/traits/traits-config.ts'
import { unusedLog } from './processor-suite.ts'

export const NOW = Date.parse('2026-11-28T12:00:00Z')
const DAY = 86_400_000

export interface PolicyStores {
  batch: BatchStore
  suppressions: SuppressionStore
  topics: TopicStore
  close(): Promise<void>
}

export type OpenPolicyStores = (now: () => number) => Promise<PolicyStores>

export function bouncePolicySuite(
  name: string,
  open: OpenPolicyStores,
  opts: { skip?: string | false } = {},
) {
  describe(`bounce policy over ${name}`, { skip: opts.skip ?? false }, () => {
    let stores: PolicyStores
    let processor: Processor
    let offset = 0
    let now = NOW
    beforeEach(async () => {
      offset = 0
      now = NOW
      stores = await open(() => now)
      processor = new Processor({
        log: unusedLog,
        store: stores.batch,
        traits: loadTraitsConfig().traits,
        clock: { now: () => now },
        logger: { error: () => {}, warn: () => {} },
        batchSize: 100,
        dedupeWindowMs: 7 * DAY,
        // One workspace with a stricter policy: the first soft bounce suppresses.
        bouncePolicy: bouncePolicies({
          defaults: DEFAULT_BOUNCE_POLICY,
          overrides: [['strict', { softLimit: 1, softWindowMs: DAY }]],
        }),
      })
    })
    afterEach(() => stores.close())

    const rec = (e: Partial<InkEvent> & Pick<InkEvent, 'type'>, at = now): LogRecord => ({
      partition: 0,
      offset: ++offset,
      event: {
        // Server-written events (feedback, outcomes) carry these ids; a client's cannot (the collector).
        messageId: `ink-feedback-m${offset}`,
        workspaceId: 'w',
        timestamp: new Date(at).toISOString(),
        receivedAt: new Date(at).toISOString(),
        ...e,
      },
    })
    const identify = (userId: string, email?: string) =>
      rec({ type: 'identify', userId, traits: email === undefined ? { plan: 'pro' } : { email } })
    const bounce = (userId: string, properties: JsonObject, at?: number) =>
      rec({ type: 'track', event: EMAIL_BOUNCED, userId, properties }, at)
    const soft = (userId: string, at?: number) =>
      bounce(userId, { origin: 'feedback', source: 'mailbox', bounce_type: 'soft', status: '4.2.2' }, at)
    const traitsOf = async (userId: string, ws = 'w') => {
      const id = await stores.batch.findProfileId(ws, 'userId', userId)
      assert.ok(id, `no profile for ${userId}`)
      return (await stores.batch.getProfile(ws, id))!.state.traits
    }

    test('a hard bounce from the feedback path suppresses the recipient once, as bounced', async () => {
      await processor.handle([identify('ann', 'ann@example.com')])
      const hard = bounce('ann', {
        origin: 'feedback',
        source: 'ses',
        bounce_type: 'hard',
        status: '5.1.1',
        recipient: 'Ann@Example.com',
        campaign_id: 'spring',
      })
      await processor.handle([hard])
      // Another hard bounce later (a second feedback): the first entry stays, with its source and time.
      now = NOW + 5000
      await processor.handle([
        bounce('ann', { reason: 'hard_bounce', campaign_id: 'trigger:cart', recipient: 'ann@example.com' }),
      ])
      const entries = await stores.suppressions.get('w', 'ann@example.com')
      assert.deepEqual(
        entries.map((e) => [e.email, e.reason, e.source, e.createdAt]),
        [['ann@example.com', 'bounced', 'campaign:spring', NOW]],
      )
      const traits = await traitsOf('ann')
      assert.equal(traits.email_status, 'bounced')
      assert.equal(traits.email_bounced_at, new Date(NOW).toISOString())
    })

    test('the SMTP session hard bounce (reason hard_bounce, no recipient) suppresses the email trait', async () => {
      await processor.handle([
        identify('bob', 'bob@example.com'),
        bounce('bob', { origin: 'trigger', campaign_id: 'trigger:cart', reason: 'hard_bounce' }),
      ])
      const entries = await stores.suppressions.get('w', 'bob@example.com')
      assert.deepEqual(
        entries.map((e) => [e.reason, e.source]),
        [['bounced', 'trigger:cart']],
      )
    })

    test('two soft bounces do not suppress; the third within the window does', async () => {
      await processor.handle([identify('cy', 'cy@example.com'), soft('cy')])
      await processor.handle([soft('cy', NOW + DAY)])
      assert.equal(await stores.suppressions.isSuppressed('w', 'cy@example.com'), false)
      let traits = await traitsOf('cy')
      assert.equal(traits.email_status, 'soft_bouncing')
      assert.equal(traits.email_soft_bounces, 2)
      await processor.handle([soft('cy', NOW + 2 * DAY)])
      assert.deepEqual(
        (await stores.suppressions.get('w', 'cy@example.com')).map((e) => [e.reason, e.source]),
        [['bounced', 'feedback:mailbox']],
      )
      traits = await traitsOf('cy')
      assert.equal(traits.email_status, 'bounced')
      assert.equal(traits.email_soft_bounces, 3)
    })

    test('soft bounces outside the window, or before a delivery, start a new run', async () => {
      await processor.handle([identify('dee', 'dee@example.com'), soft('dee'), soft('dee', NOW + DAY)])
      // 31 days after the run started: a new run at 1.
      await processor.handle([soft('dee', NOW + 31 * DAY)])
      assert.equal((await traitsOf('dee')).email_soft_bounces, 1)
      await processor.handle([soft('dee', NOW + 32 * DAY)])
      // A confirmed delivery ends the run.
      await processor.handle([rec({ type: 'track', event: EMAIL_DELIVERED, userId: 'dee', properties: {} })])
      let traits = await traitsOf('dee')
      assert.equal(traits.email_soft_bounces, 0)
      assert.equal(traits.email_status, 'active')
      await processor.handle([soft('dee', NOW + 33 * DAY)])
      assert.equal(await stores.suppressions.isSuppressed('w', 'dee@example.com'), false)
      traits = await traitsOf('dee')
      assert.equal(traits.email_soft_bounces, 1)
    })

    test('a workspace override applies to that workspace only', async () => {
      const strict = (r: LogRecord): LogRecord => ({ ...r, event: { ...r.event, workspaceId: 'strict' } })
      await processor.handle([strict(identify('eve', 'eve@example.com')), strict(soft('eve'))])
      await processor.handle([identify('eve', 'eve@example.com'), soft('eve')])
      assert.equal(await stores.suppressions.isSuppressed('strict', 'eve@example.com'), true)
      assert.equal(await stores.suppressions.isSuppressed('w', 'eve@example.com'), false)
    })

    test('a complaint suppresses as complained, beside an earlier bounce', async () => {
      await processor.handle([
        identify('fay', 'fay@example.com'),
        bounce('fay', { reason: 'hard_bounce', campaign_id: 'spring' }),
        rec({
          type: 'track',
          event: EMAIL_COMPLAINED,
          userId: 'fay',
          properties: {
            origin: 'feedback',
            source: 'mailbox',
            complaint_type: 'abuse',
            recipient: 'fay@example.com',
          },
        }),
      ])
      assert.deepEqual(
        (await stores.suppressions.get('w', 'fay@example.com')).map((e) => e.reason),
        ['bounced', 'complained'],
      )
      const traits = await traitsOf('fay')
      assert.equal(traits.email_status, 'complained')
      assert.equal(traits.email_complained_at, new Date(NOW).toISOString())
    })

    test('a complaint unsubscribes the profile from every topic, in the batch; a newer choice stands', async () => {
      const topic = { name: 'T', description: '', doubleOptIn: false }
      await stores.topics.put('w', 'news', topic)
      await stores.topics.put('w', 'offers', topic)
      await stores.topics.put('other', 'news', topic)
      // A choice made after the complaint happened (clock ahead): the complaint does not undo it.
      await stores.topics.setSubscription('w', 'jo', {
        topicId: 'offers',
        state: 'subscribed',
        source: 'preferences',
        at: NOW + 60_000,
      })
      await processor.handle([
        identify('jo', 'jo@example.com'),
        rec({ type: 'track', event: EMAIL_COMPLAINED, userId: 'jo', properties: {} }),
      ])
      assert.deepEqual(await stores.topics.subscriptions('w', 'jo'), [
        { topicId: 'news', state: 'unsubscribed', source: 'complaint', at: NOW },
        { topicId: 'offers', state: 'subscribed', source: 'preferences', at: NOW + 60_000 },
      ])
      assert.deepEqual(await stores.topics.subscriptions('other', 'jo'), [])
    })

    test('a batch delivered again (same messageIds, offsets not committed) writes one entry', async () => {
      const batch = [
        identify('gus', 'gus@example.com'),
        soft('gus'),
        soft('gus'),
        rec({ type: 'track', event: EMAIL_COMPLAINED, userId: 'gus', properties: {} }),
      ]
      await processor.handle(batch)
      // A new processor (its applied offsets read again) and a redelivery at a later time.
      now = NOW + 1000
      const again = new Processor({
        log: unusedLog,
        store: stores.batch,
        traits: [],
        clock: { now: () => now },
        logger: { error: () => {}, warn: () => {} },
        batchSize: 100,
        dedupeWindowMs: 7 * DAY,
      })
      // Offsets past the stored ones: only the messageId dedupe stands between them and a double count.
      await again.handle(batch.map((r) => ({ ...r, offset: r.offset + 100 })))
      const entries = await stores.suppressions.get('w', 'gus@example.com')
      assert.deepEqual(
        entries.map((e) => [e.reason, e.createdAt]),
        [['complained', NOW]],
      )
      assert.equal((await traitsOf('gus')).email_soft_bounces, 2)
      await again.handle([{ ...soft('gus'), offset: 200 }])
      // Two soft bounces counted once each, plus the new one: the third suppresses (bounced).
      assert.equal((await traitsOf('gus')).email_soft_bounces, 3)
      assert.deepEqual(
        (await stores.suppressions.get('w', 'gus@example.com')).map((e) => [e.reason, e.createdAt]),
        [
          ['bounced', NOW + 1000],
          ['complained', NOW],
        ],
      )
    })

    const client = (r: LogRecord): LogRecord => ({
      ...r,
      event: { ...r.event, messageId: `client-${r.offset}` },
    })

    test("a client's own bounce or complaint (not a server event id) changes nothing", async () => {
      await processor.handle([
        identify('ivy', 'ivy@example.com'),
        client(bounce('ivy', { bounce_type: 'hard', recipient: 'ivy@example.com' })),
        client(rec({ type: 'track', event: EMAIL_COMPLAINED, userId: 'ivy', properties: {} })),
      ])
      assert.deepEqual(await stores.suppressions.list('w'), [])
      assert.equal((await traitsOf('ivy')).email_status, undefined)
    })

    test('an event without a recipient and a profile without an email suppresses nothing and does not fail', async () => {
      await processor.handle([
        identify('hal'),
        bounce('hal', { bounce_type: 'hard' }),
        bounce('hal', { bounce_type: 'hard', recipient: 'not an address' }),
        rec({ type: 'track', event: EMAIL_COMPLAINED, anonymousId: 'anon-1', properties: {} }),
      ])
      assert.deepEqual(await stores.suppressions.list('w'), [])
      assert.equal((await traitsOf('hal')).email_status, 'bounced')
    })
  })
}
