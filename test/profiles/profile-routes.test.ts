/**
 * The profile admin API over both Store backends (SQLite and PostgreSQL): search by userId,
 * anonymousId and email; a profile's recent events (kept by the processor in its commit, bounded,
 * moved on a merge); its segment memberships; its messages with outcome and engagement (the
 * analytics store's per-message rows, folded from the send path's and the tracking routes' events).
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AnalyticsStore } from '../../src/analytics/analytics-store.ts'
import { foldBatch } from '../../src/analytics/engagement-rules.ts'
import { PgAnalyticsStore } from '../../src/analytics/pg-analytics-store.ts'
import { SqliteAnalyticsStore } from '../../src/analytics/sqlite-analytics-store.ts'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { outcomeEvent } from '../../src/delivery/outcome-events.ts'
import { EMAIL_LINK_CLICKED, EMAIL_OPENED, recipientEvent } from '../../src/delivery/tracking-events.ts'
import { installErrorHandler } from '../../src/http/error-handler.ts'
import { Processor } from '../../src/pipeline/processor.ts'
import { profileRoutes } from '../../src/profiles/profile-routes.ts'
import { loadTraitsConfig } from '../../src/traits/traits-config.ts'
import { SqliteWorkspaceStore } from '../../src/workspaces/sqlite-workspace-store.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { type OpenStores, pgStores, type Stores, sqliteStores } from './store-set.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')
const traits = loadTraitsConfig().traits
const HUMAN =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'
const auth = { authorization: 'Bearer ak_test' }

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
const at = (ms: number) => new Date(ms).toISOString()
const rec = (e: Partial<InkEvent> & Pick<InkEvent, 'type'>, ws = 'w'): LogRecord => ({
  partition: 0,
  offset: ++offset,
  event: { messageId: `m${offset}`, workspaceId: ws, timestamp: at(NOW), receivedAt: at(NOW), ...e },
})

function routeSuite(
  name: string,
  openStores: OpenStores,
  openAnalytics: OpenAnalytics,
  skip: string | false,
) {
  describe(`profile routes over ${name}`, { skip }, () => {
    let stores: Stores
    let analytics: Awaited<ReturnType<OpenAnalytics>>
    let processor: Processor
    let app: FastifyInstance
    const get = async (url: string, headers: Record<string, string> = auth) => {
      const res = await app.inject({ url, headers })
      return { status: res.statusCode, body: res.json() }
    }

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
      const workspaces = new SqliteWorkspaceStore(openSqlite(':memory:'))
      await workspaces.ensure('w', { adminKey: 'ak_test' })
      await workspaces.ensure('other', { adminKey: 'ak_other' })
      app = Fastify()
      installErrorHandler(app)
      await app.register(async (scope) =>
        profileRoutes(scope, {
          store: stores.reads,
          workspaces,
          traits,
          clock,
          segments: stores.segments,
          analytics: analytics.store,
        }),
      )
    })
    afterEach(async () => {
      await app.close()
      await processor.close()
      await analytics.close()
      await stores.close()
    })

    test('search finds a profile by userId, anonymousId, email (any ASCII case) or q, in its own workspace only', async () => {
      await processor.handle([
        rec({
          type: 'identify',
          userId: 'ann',
          anonymousId: 'anon-1',
          traits: { email: 'Ann@Example.com', plan: 'pro' },
        }),
        rec({ type: 'identify', userId: 'bob', traits: { email: 'bob@example.com' } }),
        rec({ type: 'identify', userId: 'ann', traits: { email: 'ann@example.com' } }, 'other'),
      ])
      const ann = (await get('/v1/profiles/ann')).body.profileId as string
      const hit = (matchedBy: string) => ({
        profiles: [
          { profileId: ann, userId: 'ann', email: 'Ann@Example.com', matchedBy, lastSeenAt: at(NOW) },
        ],
      })
      assert.deepEqual((await get('/v1/profiles?userId=ann')).body, hit('userId'))
      assert.deepEqual((await get('/v1/profiles?anonymousId=anon-1')).body, hit('anonymousId'))
      assert.deepEqual((await get('/v1/profiles?email=aNN%40example.COM')).body, hit('email'))
      assert.deepEqual((await get('/v1/profiles?q=anon-1')).body, hit('anonymousId'))
      assert.deepEqual((await get('/v1/profiles?q=ANN%40example.com')).body, hit('email'))
      assert.deepEqual((await get('/v1/profiles?q=ann')).body, hit('userId'))
      // An email is matched whole, not as a prefix or a pattern.
      assert.deepEqual((await get('/v1/profiles?email=ann%40example')).body, { profiles: [] })
      assert.deepEqual((await get('/v1/profiles?email=%25%40example.com')).body, { profiles: [] })
      assert.deepEqual((await get('/v1/profiles?userId=nobody')).body, { profiles: [] })
      const other = await get('/v1/profiles?userId=ann', { authorization: 'Bearer ak_other' })
      assert.equal(other.body.profiles.length, 1)
      assert.notEqual(other.body.profiles[0].profileId, ann)
    })

    test('search is bounded by limit, and asks for exactly one of its parameters', async () => {
      await processor.handle(
        ['u1', 'u2', 'u3'].map((userId) =>
          rec({ type: 'identify', userId, traits: { email: 'same@example.com' } }),
        ),
      )
      assert.equal((await get('/v1/profiles?email=same%40example.com')).body.profiles.length, 3)
      assert.equal((await get('/v1/profiles?email=same%40example.com&limit=2')).body.profiles.length, 2)
      // q matches a userId and emails: still at most `limit`, the userId first.
      await processor.handle([rec({ type: 'identify', userId: 'same@example.com' })])
      const q = (await get('/v1/profiles?q=same%40example.com&limit=2')).body.profiles
      assert.deepEqual(
        q.map((p: { matchedBy: string }) => p.matchedBy),
        ['userId', 'email'],
      )
      for (const url of ['/v1/profiles', '/v1/profiles?userId=u1&email=same%40example.com']) {
        const res = await get(url)
        assert.equal(res.status, 400, url)
        assert.equal(res.body.code, 'INK_ERR_BAD_REQUEST')
        assert.match(res.body.message, /exactly one of userId, anonymousId, email or q/)
      }
      for (const url of ['/v1/profiles?q=u1&limit=0', '/v1/profiles?q=u1&limit=101', '/v1/profiles?q=']) {
        const res = await get(url)
        assert.equal(res.status, 400, url)
        assert.equal(res.body.code, 'INK_ERR_BAD_REQUEST')
      }
      assert.equal((await get('/v1/profiles?q=u1', { authorization: 'Bearer nope' })).status, 401)
    })

    test("a profile's recent events come newest first with what they carried, and move with a merge", async () => {
      await processor.handle([
        rec({
          type: 'page',
          anonymousId: 'a1',
          name: 'Home',
          properties: { path: '/' },
          context: { userAgent: 'UA/1', page: { url: 'https://shop.example/' }, library: { name: 'x' } },
          timestamp: at(NOW - 3000),
        }),
        rec({
          type: 'track',
          anonymousId: 'a1',
          event: 'Product Viewed',
          properties: { sku: 'p9' },
          timestamp: at(NOW - 2000),
        }),
      ])
      await processor.handle([
        rec({
          type: 'track',
          userId: 'ann',
          event: 'Order Completed',
          properties: { revenue: 5 },
          timestamp: at(NOW - 2500),
        }),
      ])
      // identify ties a1 to ann: the anonymous profile merges into ann's, with its events.
      await processor.handle([
        rec({
          type: 'identify',
          userId: 'ann',
          anonymousId: 'a1',
          traits: { email: 'ann@example.com' },
          timestamp: at(NOW - 1000),
        }),
      ])
      const res = await get('/v1/profiles/ann/events')
      assert.equal(res.status, 200)
      assert.deepEqual(res.body.events, [
        {
          messageId: 'm4',
          type: 'identify',
          name: null,
          timestamp: at(NOW - 1000),
          receivedAt: at(NOW),
          data: { traits: { email: 'ann@example.com' } },
        },
        {
          messageId: 'm2',
          type: 'track',
          name: 'Product Viewed',
          timestamp: at(NOW - 2000),
          receivedAt: at(NOW),
          data: { properties: { sku: 'p9' } },
        },
        {
          messageId: 'm3',
          type: 'track',
          name: 'Order Completed',
          timestamp: at(NOW - 2500),
          receivedAt: at(NOW),
          data: { properties: { revenue: 5 } },
        },
        {
          messageId: 'm1',
          type: 'page',
          name: 'Home',
          timestamp: at(NOW - 3000),
          receivedAt: at(NOW),
          data: {
            properties: { path: '/' },
            context: { userAgent: 'UA/1', page: { url: 'https://shop.example/' } },
          },
        },
      ])
      assert.deepEqual(
        (await get('/v1/profiles/a1/events?limit=2')).body.events.map(
          (e: { messageId: string }) => e.messageId,
        ),
        ['m4', 'm2'],
      )
      // A redelivered event is not recorded twice.
      await processor.handle([rec({ type: 'track', userId: 'ann', event: 'Again', messageId: 'm2' })])
      assert.equal((await get('/v1/profiles/ann/events')).body.events.length, 4)
    })

    test('a merge inside one batch keeps the events of both profiles', async () => {
      await processor.handle([
        rec({ type: 'track', anonymousId: 'a2', event: 'Viewed', timestamp: at(NOW - 3000) }),
        rec({ type: 'track', userId: 'u2', event: 'Bought', timestamp: at(NOW - 2000) }),
        rec({ type: 'identify', userId: 'u2', anonymousId: 'a2', timestamp: at(NOW - 1000) }),
      ])
      const names = (await get('/v1/profiles/u2/events')).body.events.map(
        (e: { name: string | null }) => e.name,
      )
      assert.deepEqual(names, [null, 'Bought', 'Viewed'])
    })

    test('only the newest 50 events are kept (by event time), and a too-big event is kept as a marker', async () => {
      const batch = Array.from({ length: 55 }, (_, i) =>
        rec({ type: 'track', userId: 'busy', event: `E${i}`, timestamp: at(NOW - 100_000 + i * 1000) }),
      )
      await processor.handle(batch.slice(0, 30))
      await processor.handle(batch.slice(30))
      // Older than every kept event: not kept either.
      await processor.handle([
        rec({ type: 'track', userId: 'busy', event: 'Late', timestamp: at(NOW - 200_000) }),
      ])
      await processor.handle([
        rec({ type: 'track', userId: 'busy', event: 'Big', properties: { blob: 'x'.repeat(5000) } }),
      ])
      const events = (await get('/v1/profiles/busy/events')).body.events as { name: string; data: unknown }[]
      assert.equal(events.length, 50)
      // The store holds no more than that either: older events are deleted, not just not shown.
      const pid = (await get('/v1/profiles/busy')).body.profileId
      assert.equal((await stores.reads.recentEvents('w', pid, 1000)).length, 50)
      assert.deepEqual(events[0], { ...events[0], name: 'Big', data: { truncated: true, bytes: 5026 } })
      assert.deepEqual(
        events.slice(1).map((e) => e.name),
        Array.from({ length: 49 }, (_, i) => `E${54 - i}`),
      )
    })

    test('one batch of more than 50 events of a profile keeps its newest 50 by event time', async () => {
      // Event times out of arrival order: E0 is the newest, E59 the oldest; E1 and E2 share a time.
      const batch = Array.from({ length: 60 }, (_, i) =>
        rec({ type: 'track', userId: 'burst', event: `E${i}`, timestamp: at(NOW - (i < 3 ? 1 : i) * 1000) }),
      )
      await processor.handle(batch)
      const pid = (await get('/v1/profiles/burst')).body.profileId
      const kept = await stores.reads.recentEvents('w', pid, 1000)
      // Of the same time, the later arrival comes first.
      assert.deepEqual(
        kept.map((e) => e.name),
        ['E2', 'E1', 'E0', ...Array.from({ length: 47 }, (_, i) => `E${i + 3}`)],
      )
    })

    test('a merge that brings a profile past 50 events keeps the newest 50 of both', async () => {
      const events = (who: Partial<InkEvent>, from: number) =>
        Array.from({ length: 30 }, (_, i) =>
          rec({
            type: 'track',
            ...who,
            event: `${who.userId ?? who.anonymousId}-${i}`,
            timestamp: at(NOW - (from + i * 2) * 1000),
          }),
        )
      // Interleaved times: the known profile's events at even seconds, the anonymous one's at odd ones.
      await processor.handle(events({ anonymousId: 'a9' }, 101))
      await processor.handle(events({ userId: 'kim' }, 100))
      await processor.handle([
        rec({ type: 'identify', userId: 'kim', anonymousId: 'a9', timestamp: at(NOW) }),
      ])
      // Later events are added (and older ones trimmed) with the merged ones counted.
      await processor.handle([rec({ type: 'track', userId: 'kim', event: 'Later', timestamp: at(NOW) })])
      const pid = (await get('/v1/profiles/kim')).body.profileId
      const kept = (await stores.reads.recentEvents('w', pid, 1000)).map((e) => e.name)
      assert.equal(kept.length, 50)
      // Newest first: Later and the identify (same time; Later arrived last), then 48 of the 60 tracks.
      assert.deepEqual(kept.slice(0, 2), ['Later', null])
      assert.deepEqual(kept.slice(2, 6), ['kim-0', 'a9-0', 'kim-1', 'a9-1'])
      assert.deepEqual(kept.slice(-2), ['kim-23', 'a9-23'])
    })

    test('events: an unknown profile is a 404, a bad limit a 400', async () => {
      await processor.handle([rec({ type: 'track', userId: 'ann', event: 'X' })])
      const missing = await get('/v1/profiles/nobody/events')
      assert.equal(missing.status, 404)
      assert.equal(missing.body.code, 'INK_ERR_NOT_FOUND')
      for (const limit of ['0', '51', 'x', '1.5']) {
        const res = await get(`/v1/profiles/ann/events?limit=${limit}`)
        assert.equal(res.status, 400, limit)
        assert.equal(res.body.code, 'INK_ERR_BAD_REQUEST')
        assert.match(res.body.message, /limit/)
      }
      assert.equal((await get('/v1/profiles/ann/events?by=bogus')).status, 400)
      assert.equal((await get('/v1/profiles/ann/segments', { authorization: 'Bearer ak_other' })).status, 404)
    })

    test("a profile's segments are the ones it is a member of, with their names", async () => {
      await stores.segments.put('w', 'pro', { name: 'Pro plan', condition: { plan: 'pro' } })
      await stores.segments.put('w', 'free', { name: 'Free plan', condition: { plan: 'free' } })
      await stores.segments.put('w', 'all', { name: 'Everyone', condition: {} })
      await processor.backfillSegments()
      await processor.handle([
        rec({ type: 'identify', userId: 'ann', traits: { plan: 'pro' } }),
        rec({ type: 'identify', userId: 'bob', traits: { plan: 'free' } }),
      ])
      const res = await get('/v1/profiles/ann/segments')
      assert.equal(res.status, 200)
      assert.deepEqual(res.body, {
        profileId: res.body.profileId,
        segments: [
          { id: 'all', name: 'Everyone', joinedAt: at(NOW), backfilled: true },
          { id: 'pro', name: 'Pro plan', joinedAt: at(NOW), backfilled: true },
        ],
      })
      await processor.handle([rec({ type: 'identify', userId: 'ann', traits: { plan: 'free' } })])
      const ids = (await get('/v1/profiles/ann/segments')).body.segments.map((s: { id: string }) => s.id)
      assert.deepEqual(ids, ['all', 'free'])
      assert.equal((await get('/v1/profiles/nobody/segments')).status, 404)
    })

    test("a profile's messages: newest first, with outcome, opens, clicks and the template", async () => {
      await processor.handle([
        rec({ type: 'identify', userId: 'ann', anonymousId: 'anon-9', traits: { email: 'ann@example.com' } }),
      ])
      const msg = (emailId: string, campaignId: string, userId = 'ann') => ({
        workspaceId: 'w',
        origin: campaignId.startsWith('trigger:') ? ('trigger' as const) : ('campaign' as const),
        campaignId,
        messageId: emailId,
        userId,
        templateId: 'promo',
        templateVersion: 3,
        fallbacks: 0,
      })
      const engage = (event: string, emailId: string, campaignId: string, t: number, id: string) =>
        recipientEvent({
          event,
          // The server's tracking ids (trackingEventId's prefixes): the analytics count nothing else.
          messageId: `${event === EMAIL_OPENED ? 'ink-open-' : 'ink-click-'}${id}`,
          workspaceId: 'w',
          userId: 'ann',
          properties: { campaign_id: campaignId, email_id: emailId },
          now: t,
          userAgent: HUMAN,
        })
      const events: InkEvent[] = [
        outcomeEvent(msg('e1', 'spring'), { kind: 'sent', detail: '250 ok', attempts: 1 }, NOW - 60_000),
        engage(EMAIL_OPENED, 'e1', 'spring', NOW - 50_000, 'o1'),
        engage(EMAIL_OPENED, 'e1', 'spring', NOW - 40_000, 'o2'),
        engage(EMAIL_LINK_CLICKED, 'e1', 'spring', NOW - 39_000, 'c1'),
        outcomeEvent(
          msg('e2', 'trigger:cart'),
          { kind: 'bounced', detail: '550 no such user' },
          NOW - 30_000,
        ),
        outcomeEvent(
          msg('e3', 'summer', 'anon-9'),
          { kind: 'failed', temporary: false, detail: '554 rejected' },
          NOW - 20_000,
        ),
        outcomeEvent(
          msg('e4', 'spring', 'bob'),
          { kind: 'sent', detail: '250 ok', attempts: 1 },
          NOW - 10_000,
        ),
      ]
      const records = events.map((event, i) => ({ partition: 0, offset: i + 1, event }))
      const folded = foldBatch(
        records,
        { messages: new Map(), engaged: new Map(), seen: new Set() },
        { event: 'Order Completed', windowMs: 86_400_000 },
      )
      await analytics.store.commit({ ...folded, offsets: [], expected: new Map() })
      const res = await get('/v1/profiles/ann/messages')
      assert.equal(res.status, 200)
      const base = {
        templateId: 'promo',
        templateVersion: 3,
        firstOpenAt: null,
        firstClickAt: null,
        unsubscribedAt: null,
        conversions: 0,
        revenue: 0,
        opens: 0,
        clicks: 0,
      }
      assert.deepEqual(res.body.messages, [
        {
          ...base,
          emailId: 'e3',
          origin: 'campaign',
          campaignId: 'summer',
          triggerId: null,
          recipient: 'anon-9',
          outcome: 'failed',
          createdAt: at(NOW - 20_000),
          sentAt: null,
        },
        {
          ...base,
          emailId: 'e2',
          origin: 'trigger',
          campaignId: null,
          triggerId: 'cart',
          recipient: 'ann',
          outcome: 'bounced',
          createdAt: at(NOW - 30_000),
          sentAt: null,
        },
        {
          ...base,
          emailId: 'e1',
          origin: 'campaign',
          campaignId: 'spring',
          triggerId: null,
          recipient: 'ann',
          outcome: 'sent',
          createdAt: at(NOW - 60_000),
          sentAt: at(NOW - 60_000),
          opens: 2,
          clicks: 1,
          firstOpenAt: at(NOW - 50_000),
          firstClickAt: at(NOW - 39_000),
        },
      ])
      assert.deepEqual(
        (await get('/v1/profiles/ann/messages?limit=1')).body.messages.map(
          (m: { emailId: string }) => m.emailId,
        ),
        ['e3'],
      )
      assert.equal((await get('/v1/profiles/ann/messages?limit=101')).status, 400)
      assert.equal((await get('/v1/profiles/nobody/messages')).status, 404)
    })
  })
}

routeSuite('SQLite', sqliteStores, sqliteAnalytics, false)
routeSuite('PostgreSQL', pgStores, pgAnalytics, await pgSkip())
