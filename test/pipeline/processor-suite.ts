/**
 * The processor over a ProfileStore: identity resolution, dedupe, offsets and failed commits as
 * the store must support them. Part of the ProfileStore seam suite (profile-store-suite.ts).
 * The tests drive `handle()` directly; the log is not read.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import type { BatchHandler, ConsumeOptions, EventLog } from '../../src/log/event-log.ts'
import { createMetrics, observeBatch } from '../../src/observe/metrics.ts'
import { materialize } from '../../src/pipeline/computed-traits.ts'
import { Processor } from '../../src/pipeline/processor.ts'
import { loadTraitsConfig } from '../../src/pipeline/traits-config.ts'
import { ProfileConflictError, type ProfileStore } from '../../src/profiles/profile-store.ts'
import type { OpenStores, Stores } from '../profiles/store-set.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')
const traits = loadTraitsConfig().traits

/** The processor needs a log only to consume; `handle()` is called directly here. */
export const unusedLog: EventLog = {
  append: () => Promise.reject(new Error('not used by these tests')),
  consume: () => {
    throw new Error('not used by these tests')
  },
  lag: async () => 0,
  close: async () => {},
}

let offset = 0
const rec = (e: Partial<InkEvent> & Pick<InkEvent, 'type'>, workspaceId = 'w'): LogRecord => ({
  partition: 0,
  offset: ++offset,
  event: {
    messageId: `m${offset}`,
    workspaceId,
    timestamp: new Date(NOW).toISOString(),
    receivedAt: new Date(NOW).toISOString(),
    ...e,
  },
})
const order = (ids: { userId?: string; anonymousId?: string }, revenue: number, messageId?: string) =>
  rec({
    type: 'track',
    event: 'Order Completed',
    properties: { revenue },
    ...ids,
    ...(messageId ? { messageId } : {}),
  })

export function processorSuite(name: string, open: OpenStores, opts: { skip?: string | false } = {}) {
  describe(`processor over ${name}`, { skip: opts.skip ?? false }, () => {
    let stores: Stores
    let store: ProfileStore
    let processor: Processor
    let metrics: ReturnType<typeof createMetrics>
    beforeEach(async () => {
      offset = 0
      stores = await open({ now: () => NOW })
      store = stores.profiles
      metrics = createMetrics({ defaultMetrics: false })
      processor = new Processor({
        log: unusedLog,
        store,
        traits,
        onBatch: (report) => observeBatch(metrics, report),
        clock: { now: () => NOW },
        logger: { error: () => {}, warn: () => {} },
        batchSize: 100,
        dedupeWindowMs: 7 * 86_400_000,
      })
    })
    afterEach(() => stores.close())

    const profile = async (kind: 'userId' | 'anonymousId', id: string, ws = 'w') => {
      const pid = await store.findProfileId(ws, kind, id)
      assert.ok(pid, `no profile for ${kind} ${id}`)
      const p = await store.getProfile(ws, pid)
      assert.ok(p)
      return { ...p, traits: materialize(p.state, traits, NOW), ids: await store.identities(ws, pid) }
    }

    test('an anonymous history merges into the known profile when identify ties the ids together', async () => {
      await processor.handle([order({ userId: 'u1' }, 100)])
      await processor.handle([
        rec({
          type: 'track',
          event: 'Product Viewed',
          anonymousId: 'a1',
          properties: { product_id: 'p9', name: 'Lamp' },
        }),
        order({ anonymousId: 'a1' }, 5),
      ])
      await processor.handle([
        rec({ type: 'identify', userId: 'u1', anonymousId: 'a1', traits: { email: 'u1@example.com' } }),
      ])
      const known = await profile('userId', 'u1')
      assert.equal(known.traits.orders_total, 2)
      assert.equal(known.traits.revenue_total, 105)
      assert.equal(known.traits.email, 'u1@example.com')
      assert.equal((known.traits.last_viewed_product as { product_id: string }).product_id, 'p9')
      assert.deepEqual(known.ids, [
        { kind: 'anonymousId', value: 'a1' },
        { kind: 'userId', value: 'u1' },
      ])
      const viaAnon = await profile('anonymousId', 'a1')
      assert.equal(viaAnon.profileId, known.profileId)
    })

    test('an anonymous visitor who identifies for the first time keeps the same profile', async () => {
      await processor.handle([order({ anonymousId: 'a2' }, 7)])
      const before = await profile('anonymousId', 'a2')
      await processor.handle([rec({ type: 'identify', userId: 'u2', anonymousId: 'a2' })])
      const after = await profile('userId', 'u2')
      assert.equal(after.profileId, before.profileId)
      assert.equal(after.userId, 'u2')
      assert.equal(after.traits.revenue_total, 7)
    })

    test('a merge inside one batch is seen by the later events of that batch', async () => {
      await processor.handle([
        order({ anonymousId: 'a3' }, 1),
        order({ userId: 'u3' }, 2),
        rec({ type: 'identify', userId: 'u3', anonymousId: 'a3' }),
        order({ anonymousId: 'a3' }, 4),
      ])
      assert.equal((await profile('userId', 'u3')).traits.revenue_total, 7)
    })

    test('two known users sharing a device are not merged; alias merges explicitly', async () => {
      await processor.handle([
        rec({ type: 'identify', userId: 'u4', anonymousId: 'dev' }),
        order({ userId: 'u4' }, 1),
      ])
      await processor.handle([
        rec({ type: 'identify', userId: 'u5', anonymousId: 'dev' }),
        order({ userId: 'u5' }, 2),
      ])
      assert.equal((await profile('userId', 'u4')).traits.revenue_total, 1)
      assert.equal((await profile('userId', 'u5')).traits.revenue_total, 2)
      await processor.handle([rec({ type: 'alias', previousId: 'u4', userId: 'u5' })])
      const merged = await profile('userId', 'u5')
      assert.equal(merged.traits.revenue_total, 3)
      assert.equal((await profile('userId', 'u4')).profileId, merged.profileId)
    })

    test('a redelivered batch and a repeated messageId are applied once', async () => {
      const batch = [order({ userId: 'u6' }, 10, 'dup-1'), order({ userId: 'u6' }, 20, 'dup-2')]
      await processor.handle(batch)
      await processor.handle(batch)
      await processor.handle([order({ userId: 'u6' }, 10, 'dup-1')])
      const p = await profile('userId', 'u6')
      assert.equal(p.traits.orders_total, 2)
      assert.equal(p.traits.revenue_total, 30)
      const dup = (await metrics.processedEvents.get()).values.find((v) => v.labels.outcome === 'duplicate')
      assert.equal(dup?.value, 3)
    })

    test('the same messageId in two workspaces is two events', async () => {
      await processor.handle([
        rec({ type: 'track', event: 'Order Completed', userId: 'u', messageId: 'same' }, 'w1'),
      ])
      await processor.handle([
        rec({ type: 'track', event: 'Order Completed', userId: 'u', messageId: 'same' }, 'w2'),
      ])
      assert.equal((await profile('userId', 'u', 'w1')).traits.orders_total, 1)
      assert.equal((await profile('userId', 'u', 'w2')).traits.orders_total, 1)
    })

    test('the applied offset is committed with the profiles and the lag is observed', async () => {
      await processor.handle([order({ userId: 'u7' }, 1), order({ userId: 'u7' }, 1)])
      const offsets = await store.appliedOffsets('profiles')
      assert.equal(offsets.get(0), offset)
      const lag = await metrics.pipelineLag.get()
      assert.ok(
        lag.values.some((v) => v.metricName === 'inkstream_pipeline_lag_seconds_count' && v.value === 2),
      )
    })

    test('a batch whose commit fails leaves no trace, and retrying it applies each event once', async () => {
      await processor.handle([order({ userId: 'u8' }, 1)])
      const commit = store.commit.bind(store)
      let failures = 1
      store.commit = async (changes) => {
        if (failures-- > 0) throw new Error('SQLITE_FULL')
        return commit(changes)
      }
      const batch = [order({ userId: 'u8' }, 10), order({ userId: 'u8' }, 100)]
      await assert.rejects(processor.handle(batch), /SQLITE_FULL/)
      await processor.handle(batch)
      const p = await profile('userId', 'u8')
      assert.equal(p.traits.orders_total, 3)
      assert.equal(p.traits.revenue_total, 111)
    })

    test('applied offsets never move back: an older batch redelivered after a newer one leaves them where they were', async () => {
      const older = [order({ userId: 'u10' }, 1)]
      const newer = [order({ userId: 'u10' }, 2)]
      await processor.handle(older)
      await processor.handle(newer)
      // As after a rebalance: the former owner's batch arrives again, after the newer one.
      await processor.handle(older)
      assert.equal((await store.appliedOffsets('profiles')).get(0), newer[0]!.offset)
      assert.equal((await profile('userId', 'u10')).traits.orders_total, 2)
    })

    test('a partition taken back after another processor changed its profiles: the warm cache is dropped, no change is lost', async () => {
      // The log of a consumer group: the test plays the rebalances (onAssigned) and the batches.
      let handler: BatchHandler | undefined
      let consumeOpts: ConsumeOptions = {}
      const log: EventLog = {
        ...unusedLog,
        consume: (_group, h, o) => {
          handler = h
          consumeOpts = o ?? {}
          return { close: async () => {} }
        },
      }
      const deps = {
        store,
        traits,
        clock: { now: () => NOW },
        logger: { error: () => {}, warn: () => {} },
        batchSize: 100,
        dedupeWindowMs: 7 * 86_400_000,
      }
      const a = new Processor({ ...deps, log })
      await a.start()
      await consumeOpts.onAssigned?.()
      await handler!([order({ userId: 'u11' }, 10)])
      // Meanwhile the partition was another processor's, which applied an order of the same user.
      const b = new Processor({ ...deps, store: (await stores.peer()).profiles, log: unusedLog })
      await b.handle([order({ userId: 'u11' }, 20)])
      // The partition comes back to the first processor: what it kept warm is stale.
      await consumeOpts.onAssigned?.()
      await handler!([order({ userId: 'u11' }, 30)])
      await a.close()
      const p = await profile('userId', 'u11')
      assert.equal(p.traits.orders_total, 3)
      assert.equal(p.traits.revenue_total, 60)
    })

    // Only where several processors share the store: SQLite has a single processor (its writer), so no
    // version check exists there to test.
    const shared = name.startsWith('Sqlite') ? () => {} : test
    shared(
      'a commit over a profile another processor changed since it was read is refused, and the batch applied again counts every order',
      async () => {
        await processor.handle([order({ userId: 'u12' }, 10)])
        // Another processor (the partition moved and no rebalance was seen yet) changes the profile.
        const b = new Processor({
          store: (await stores.peer()).profiles,
          log: unusedLog,
          traits,
          clock: { now: () => NOW },
          logger: { error: () => {}, warn: () => {} },
          batchSize: 100,
          dedupeWindowMs: 7 * 86_400_000,
        })
        await b.handle([order({ userId: 'u12' }, 20)])
        // The first still holds version 1 warm: its upsert must not overwrite version 2.
        const batch = [order({ userId: 'u12' }, 30)]
        await assert.rejects(processor.handle(batch), ProfileConflictError)
        await processor.handle(batch)
        const p = await profile('userId', 'u12')
        assert.equal(p.traits.orders_total, 3)
        assert.equal(p.traits.revenue_total, 60)
      },
    )

    test('the applied offsets travel in the one commit that carries the profile changes', async () => {
      const commit = store.commit.bind(store)
      const calls: { upserts: number; offsets: number[] }[] = []
      store.commit = async (changes) => {
        calls.push({ upserts: changes.upserts.length, offsets: changes.offsets.map((o) => o.offset) })
        // The transaction fails: neither the profile nor the offset may be stored.
        if (calls.length === 1) throw new Error('SQLITE_IOERR')
        return commit(changes)
      }
      const batch = [order({ userId: 'u13' }, 5)]
      await assert.rejects(processor.handle(batch), /SQLITE_IOERR/)
      assert.equal((await store.appliedOffsets('profiles')).get(0), undefined)
      await processor.handle(batch)
      assert.deepEqual(calls, [
        { upserts: 1, offsets: [batch[0]!.offset] },
        { upserts: 1, offsets: [batch[0]!.offset] },
      ])
      assert.equal((await store.appliedOffsets('profiles')).get(0), batch[0]!.offset)
    })
  })
}
