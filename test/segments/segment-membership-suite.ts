/**
 * Segment membership maintained by the processor over a store set: committed with the batch
 * that changes a profile, moved on merges, backfilled in chunks. Part of the SegmentStore suite.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import type { BatchStore } from '../../src/pipeline/batch-store.ts'
import { Processor } from '../../src/pipeline/processor.ts'
import { SegmentMaintainer } from '../../src/pipeline/segment-maintainer.ts'
import { testCondition } from '../../src/segments/condition.ts'
import type { SegmentIndex, SegmentStore } from '../../src/segments/segment-store.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'
import { loadTraitsConfig } from '../../src/traits/traits-config.ts'
import { unusedLog } from '../pipeline/processor-suite.ts'
import type { OpenStores, StoreSet, Stores } from '../profiles/store-set.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')
const traits = loadTraitsConfig().traits

let offset = 0
export const rec = (e: Partial<InkEvent> & Pick<InkEvent, 'type'>, workspaceId = 'w'): LogRecord => ({
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
export const order = (ids: { userId?: string; anonymousId?: string }, revenue = 1) =>
  rec({ type: 'track', event: 'Order Completed', properties: { revenue }, ...ids })
export const identify = (ids: { userId?: string; anonymousId?: string }, t: Record<string, unknown> = {}) =>
  rec({ type: 'identify', ...ids, traits: t })

const segmentProcessorDeps = (set: StoreSet) => ({
  log: unusedLog,
  store: set.profiles,
  traits,
  segments: set.segments,
  backfillChunk: 2,
  clock: { now: () => NOW },
  logger: { error: () => {}, warn: () => {} },
  batchSize: 100,
  dedupeWindowMs: 7 * 86_400_000,
})

/** A processor that maintains segments, backfilling two profiles per step. */
export const segmentProcessor = (set: StoreSet) => new Processor(segmentProcessorDeps(set))

export function segmentMembershipSuite(name: string, open: OpenStores, opts: { skip?: string | false } = {}) {
  describe(`segment membership maintained by the processor over ${name}`, {
    skip: opts.skip ?? false,
  }, () => {
    let stores: Stores
    let store: BatchStore
    let segments: SegmentStore & SegmentIndex
    let processor: Processor
    beforeEach(async () => {
      stores = await open({ now: () => NOW })
      store = stores.profiles
      segments = stores.segments
      processor = segmentProcessor(stores)
    })
    afterEach(() => stores.close())

    const pid = async (kind: 'userId' | 'anonymousId', id: string) => {
      const p = await store.findProfileId('w', kind, id)
      assert.ok(p, `no profile for ${kind} ${id}`)
      return p
    }
    const memberIds = async (seg: string) =>
      (await segments.members('w', seg, { limit: 100 })).map((m) => m.profileId).sort()

    test('a profile enters a segment with its second order, in the batch that commits it', async () => {
      await segments.put('w', 'repeat', { name: 'Repeat buyers', condition: { orders_total: { $gte: 2 } } })
      await processor.backfillSegments()
      await processor.handle([
        identify({ userId: 'u1' }, { email: 'u1@example.com' }),
        order({ userId: 'u1' }),
      ])
      const u1 = await pid('userId', 'u1')
      assert.equal(await segments.isMember('w', 'repeat', u1), false)
      await processor.handle([order({ userId: 'u1' })])
      assert.equal(await segments.isMember('w', 'repeat', u1), true)
      assert.deepEqual(await segments.members('w', 'repeat', { limit: 10 }), [
        { profileId: u1, userId: 'u1', email: 'u1@example.com' },
      ])
    })

    test('a profile leaves when an identify changes the trait the condition tests', async () => {
      await segments.put('w', 'pro', { condition: { plan: 'pro' } })
      await processor.handle([identify({ userId: 'u2' }, { plan: 'pro', email: 'a@x.io' })])
      const u2 = await pid('userId', 'u2')
      assert.equal(await segments.isMember('w', 'pro', u2), true)
      await processor.handle([identify({ userId: 'u2' }, { email: 'b@x.io' })])
      assert.deepEqual(await segments.members('w', 'pro', { limit: 10 }), [
        { profileId: u2, userId: 'u2', email: 'b@x.io' },
      ])
      await processor.handle([identify({ userId: 'u2' }, { plan: 'free' })])
      assert.equal(await segments.isMember('w', 'pro', u2), false)
      assert.deepEqual(await memberIds('pro'), [])
    })

    test('the membership of a merged-away anonymous profile moves to the known one', async () => {
      await segments.put('w', 'repeat', { condition: { orders_total: { $gte: 2 } } })
      await processor.handle([order({ userId: 'u3' })])
      await processor.handle([order({ anonymousId: 'a3' }), order({ anonymousId: 'a3' })])
      const anon = await pid('anonymousId', 'a3')
      const known = await pid('userId', 'u3')
      assert.deepEqual(await memberIds('repeat'), [anon])
      await processor.handle([identify({ userId: 'u3', anonymousId: 'a3' })])
      assert.equal(await pid('anonymousId', 'a3'), known)
      assert.deepEqual(await memberIds('repeat'), [known])
      assert.equal(await segments.isMember('w', 'repeat', anon), false)
    })

    test('a segment created after the events is backfilled over existing profiles, in chunks', async () => {
      for (const u of ['b1', 'b2', 'b3', 'b4', 'b5']) await processor.handle([order({ userId: u })])
      await processor.handle([order({ userId: 'b2' }), order({ userId: 'b5' })])
      await processor.handle(
        [order({ userId: 'other' }), order({ userId: 'other' })].map((r) => ({
          ...r,
          event: { ...r.event, workspaceId: 'w2' },
        })),
      )
      const def = await segments.put('w', 'repeat', { condition: { orders_total: { $gte: 2 } } })
      assert.equal(def.membersVersion, null)
      assert.deepEqual(await memberIds('repeat'), [])
      await processor.backfillSegments()
      assert.deepEqual(
        await memberIds('repeat'),
        [await pid('userId', 'b2'), await pid('userId', 'b5')].sort(),
      )
      assert.equal((await segments.get('w', 'repeat'))?.membersVersion, 1)

      // A changed condition bumps the version and recomputes; the same condition does not.
      const changed = await segments.put('w', 'repeat', { condition: { orders_total: { $gte: 1 } } })
      assert.equal(changed.version, 2)
      await processor.backfillSegments()
      assert.equal((await memberIds('repeat')).length, 5)
      const renamed = await segments.put('w', 'repeat', {
        name: 'Buyers',
        condition: { orders_total: { $gte: 1 } },
      })
      assert.equal(renamed.version, 2)
      assert.equal(renamed.membersVersion, 2)
    })

    test('a batch evaluated against a definition changed before its commit writes no stale rows', async () => {
      await segments.put('w', 'pro', { condition: { plan: 'pro' } })
      await processor.handle([identify({ userId: 'u9' }, { plan: 'pro' })])
      // The definition changes after the processor loaded it but before this batch commits.
      const commit = store.commit.bind(store)
      store.commit = async (changes) => {
        await segments.put('w', 'pro', { condition: { plan: 'enterprise' } })
        return commit(changes)
      }
      await processor.handle([identify({ userId: 'u10' }, { plan: 'pro' })])
      store.commit = commit
      const u10 = await pid('userId', 'u10')
      assert.equal(await segments.isMember('w', 'pro', u10), false)
      await processor.backfillSegments()
      assert.deepEqual(await memberIds('pro'), [])
    })

    test('an order dated 10 years ahead keeps a profile in orders_30d >= 1 for 30 days, not 10 years', async () => {
      const clock = { t: NOW, now: () => clock.t }
      const timed = new Processor({ ...segmentProcessorDeps(stores), clock })
      await segments.put('w', 'recent', { condition: { orders_30d: { $gte: 1 } } })
      const future = new Date(NOW + 3653 * 86_400_000).toISOString()
      const ahead = order({ userId: 'u13' })
      await timed.handle([{ ...ahead, event: { ...ahead.event, timestamp: future } }])
      const u13 = await pid('userId', 'u13')
      assert.equal(await segments.isMember('w', 'recent', u13), true, 'counted once, at its arrival')
      clock.t = NOW + 31 * 86_400_000
      const later = identify({ userId: 'u13' }, { plan: 'pro' })
      const at = new Date(clock.t).toISOString()
      await timed.handle([{ ...later, event: { ...later.event, timestamp: at, receivedAt: at } }])
      assert.equal(await segments.isMember('w', 'recent', u13), false, 'gone 31 days after it arrived')
    })

    test('deleting a segment removes its members and the processor stops evaluating it', async () => {
      await segments.put('w', 'pro', { condition: { plan: 'pro' } })
      await processor.handle([identify({ userId: 'u11' }, { plan: 'pro' })])
      assert.equal((await memberIds('pro')).length, 1)
      assert.equal(await segments.delete('w', 'pro'), true)
      assert.equal(await segments.delete('w', 'pro'), false)
      await processor.handle([identify({ userId: 'u12' }, { plan: 'pro' })])
      assert.deepEqual(await memberIds('pro'), [])
      assert.equal(await segments.isMember('w', 'pro', await pid('userId', 'u12')), false)
    })

    test('a suspended segment loses its members; a newer version keeps those of its backfill', async () => {
      await segments.put('w', 'ax', { condition: { email: { $regex: '^(?=a)a.*@x$' } } })
      await processor.handle([
        identify({ userId: 'u1' }, { email: 'a1@x' }),
        identify({ userId: 'u2' }, { email: 'a2@x' }),
      ])
      assert.equal((await memberIds('ax')).length, 2)
      // The evaluator's test hook stands in for a regex that runs out of its budget on one input.
      const maintainer = (hostile: string) =>
        new SegmentMaintainer({
          index: segments,
          traits,
          clock: { now: () => NOW },
          logger: { error: () => {} },
          chunk: 10,
          evaluator: {
            test: (c, t) => (t.email === hostile ? 'over-budget' : testCondition(c, t, 60_000)),
          },
        })
      const evaluateOne = (m: SegmentMaintainer, email: string) =>
        m.evaluate(
          {
            upserts: [
              {
                workspaceId: 'w',
                profileId: `p-${email}`,
                userId: email,
                state: { ...emptyState(), traits: { email } },
                version: 1,
                createdAt: NOW,
                updatedAt: NOW,
                lastEventReceivedAt: NOW,
              },
            ],
            deletes: [],
            identities: [],
            messageIds: [],
            offsets: [],
            memberships: [],
          },
          NOW,
        )
      const m = maintainer('a3@x')
      await m.reload()
      evaluateOne(m, 'a3@x')
      assert.equal((await memberIds('ax')).length, 2, 'removed at the next reload, after the batch commits')
      await m.reload()
      assert.deepEqual(await memberIds('ax'), [])

      // Saved with a new condition (version 2): backfilled, members again.
      await segments.put('w', 'ax', { condition: { email: { $regex: '^(?=a)a.+@x$' } } })
      await processor.backfillSegments()
      assert.equal((await memberIds('ax')).length, 2)
      const late = maintainer('a4@x')
      await late.reload()
      // Changed again (version 3) between the suspension of version 2 and the removal: members stay.
      await segments.put('w', 'ax', { condition: { email: { $regex: '^(?=a)a.{1,9}@x$' } } })
      evaluateOne(late, 'a4@x')
      await late.reload()
      assert.equal((await memberIds('ax')).length, 2, 'version 3 is not the suspended version 2')
    })
  })
}
