/**
 * A batch's reads over a BatchStore: `lookupIdentities` answers many identities with their
 * profiles in one call, and the processor reads the identities and profiles of a whole batch in
 * one store call instead of two or three per event, resolving them as one event at a time would.
 * Part of the BatchStore seam suite (batch-store-suite.ts).
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import type { BatchStore, IdentityRef } from '../../src/pipeline/batch-store.ts'
import { Processor } from '../../src/pipeline/processor.ts'
import type { IdentityKind } from '../../src/profiles/profile-store.ts'
import { materialize } from '../../src/traits/computed-traits.ts'
import { loadTraitsConfig } from '../../src/traits/traits-config.ts'
import type { OpenStores, Stores } from '../profiles/store-set.ts'
import { changes, profile } from './batch-store-suite.ts'
import { unusedLog } from './processor-suite.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')
const traits = loadTraitsConfig().traits

const READS = ['findProfileId', 'getProfile', 'identities', 'lookupIdentities'] as const
type Read = (typeof READS)[number]
const isRead = (p: string | symbol): p is Read => READS.some((r) => r === p)

/** `store` with a count of the calls of each of its read methods. */
function counting(store: BatchStore) {
  const calls: Record<Read, number> = { findProfileId: 0, getProfile: 0, identities: 0, lookupIdentities: 0 }
  const wrapped = new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      // Bound to the store itself: its methods use private fields.
      if (!isRead(prop)) return value.bind(target)
      return (...args: unknown[]) => {
        calls[prop]++
        return value.apply(target, args)
      }
    },
  })
  return { store: wrapped, calls }
}

let offset = 0
const rec = (e: Partial<InkEvent> & Pick<InkEvent, 'type'>): LogRecord => ({
  partition: 0,
  offset: ++offset,
  event: {
    messageId: `m${offset}`,
    workspaceId: 'w',
    timestamp: new Date(NOW - 60_000 + offset).toISOString(),
    receivedAt: new Date(NOW).toISOString(),
    ...e,
  },
})
const order = (ids: Partial<Pick<InkEvent, 'userId' | 'anonymousId'>>, revenue: number) =>
  rec({ type: 'track', event: 'Order Completed', properties: { revenue }, ...ids })

export function batchReadsSuite(name: string, open: OpenStores, opts: { skip?: string | false } = {}) {
  describe(`batch reads over ${name}`, { skip: opts.skip ?? false }, () => {
    let stores: Stores
    const opened: Stores[] = []
    beforeEach(async () => {
      offset = 0
      stores = await open({ now: () => NOW })
      opened.push(stores)
    })
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close()
    })

    /** A processor with a cold warm cache, as after a start or at 1M profiles. */
    const processor = (store: BatchStore) =>
      new Processor({
        log: unusedLog,
        store,
        traits,
        clock: { now: () => NOW },
        logger: { error: () => {}, warn: () => {} },
        batchSize: 1000,
        dedupeWindowMs: 7 * 86_400_000,
      })

    test('lookupIdentities answers every identity asked, in order, with the profile it is bound to', async () => {
      // 600 profiles with two identities each: more identities than one SQLite look-up statement takes.
      const profiles = Array.from({ length: 600 }, (_, i) =>
        profile(`p${i}`, { userId: `u${i}`, version: i + 1 }),
      )
      await stores.profiles.commit(
        changes({
          upserts: profiles,
          identities: [
            ...profiles.flatMap((p, i) => [
              { workspaceId: 'w', kind: 'userId' as const, value: `u${i}`, profileId: p.profileId },
              { workspaceId: 'w', kind: 'anonymousId' as const, value: `a${i}`, profileId: p.profileId },
            ]),
            { workspaceId: 'w', kind: 'userId', value: 'ghost', profileId: 'missing' },
          ],
        }),
      )
      const asked: IdentityRef[] = [
        { workspaceId: 'w', kind: 'userId', value: 'nobody' },
        { workspaceId: 'w', kind: 'anonymousId', value: 'u7' },
        { workspaceId: 'other', kind: 'userId', value: 'u7' },
        { workspaceId: 'w', kind: 'userId', value: 'ghost' },
      ]
      for (let i = 599; i >= 0; i--)
        asked.push(
          { workspaceId: 'w', kind: 'anonymousId', value: `a${i}` },
          { workspaceId: 'w', kind: 'userId', value: `u${i}` },
        )
      asked.push({ workspaceId: 'w', kind: 'userId', value: 'u3' }) // asked twice

      const found = await stores.profiles.lookupIdentities(asked)

      assert.equal(found.length, asked.length)
      assert.deepEqual(found.slice(0, 4), [
        { profileId: null, profile: undefined },
        { profileId: null, profile: undefined },
        { profileId: null, profile: undefined },
        { profileId: 'missing', profile: undefined },
      ])
      for (let at = 4; at < asked.length; at++) {
        const i = Number(asked[at]!.value.slice(1))
        assert.equal(found[at]!.profileId, `p${i}`)
        assert.deepEqual(found[at]!.profile, profiles[i])
      }
      assert.deepEqual(await stores.profiles.lookupIdentities([]), [])
    })

    test('a batch of cold events reads their identities and profiles in one store call, however many events it holds', async () => {
      // 60 known users with an anonymous id each, and 20 anonymous visitors.
      await processor(stores.profiles).handle([
        ...Array.from({ length: 60 }, (_, i) =>
          rec({ type: 'identify', userId: `u${i}`, anonymousId: `a${i}` }),
        ),
        ...Array.from({ length: 20 }, (_, i) => order({ anonymousId: `b${i}` }, 1)),
      ])
      const reads: Record<Read, number>[] = []
      for (const n of [8, 200]) {
        const events = Array.from({ length: n }, (_, i) => {
          const u = i % 60
          switch (i % 5) {
            case 0:
              return order({ userId: `u${u}` }, 1)
            case 1:
              return order({ anonymousId: `a${u}` }, 1)
            case 2:
              return rec({ type: 'identify', userId: `u${u}`, anonymousId: `a${u}` })
            case 3:
              return order({ anonymousId: `b${i % 20}` }, 1)
            default:
              return order({ userId: `new-${n}-${i}`, anonymousId: `new-a-${n}-${i}` }, 1)
          }
        })
        const { store, calls } = counting(stores.profiles)
        await processor(store).handle(events)
        reads.push(calls)
      }
      // Per batch, not per event: the same reads for 8 events as for 200.
      const once = { findProfileId: 0, getProfile: 0, identities: 0, lookupIdentities: 1 }
      assert.deepEqual(reads, [once, once])
      // And they were applied: u0 has 1 order per batch from case 0 (i = 0) … and more in the larger one.
      const u0 = await stores.profiles.getProfile(
        'w',
        (await stores.profiles.findProfileId('w', 'userId', 'u0'))!,
      )
      assert.ok(u0)
      assert.equal(materialize(u0.state, traits, NOW).orders_total, 1 + 4)
    })

    test('a batch mixing a new visitor, their identify, aliases and merges resolves as one event per batch does', async () => {
      const seedEvents = () => [
        rec({ type: 'identify', userId: 'u1', anonymousId: 'a1', traits: { email: 'u1@example.com' } }),
        order({ anonymousId: 'a-old' }, 100),
        order({ userId: 'u2' }, 20),
      ]
      const batch = () => [
        rec({ type: 'track', event: 'Product Viewed', anonymousId: 'v1', properties: { product_id: 'p9' } }),
        order({ anonymousId: 'v1' }, 5),
        rec({ type: 'identify', userId: 'u9', anonymousId: 'v1', traits: { email: 'u9@example.com' } }),
        rec({ type: 'alias', userId: 'u9', previousId: 'a-old' }),
        order({ userId: 'u2', anonymousId: 'v1' }, 7),
        rec({ type: 'alias', userId: 'u9', previousId: 'u2' }),
        order({ anonymousId: 'v1' }, 1),
        rec({ type: 'alias', userId: 'u1', previousId: 'v2' }),
        order({ anonymousId: 'v2' }, 3),
        order({ userId: 'u3', anonymousId: 'v3' }, 2),
      ]
      const ids: [IdentityKind, string][] = [
        ['userId', 'u1'],
        ['userId', 'u2'],
        ['userId', 'u3'],
        ['userId', 'u9'],
        ['anonymousId', 'a1'],
        ['anonymousId', 'a-old'],
        ['anonymousId', 'v1'],
        ['anonymousId', 'v2'],
        ['anonymousId', 'v3'],
      ]
      /** Each identity's profile as the rest of the system sees it, profile ids left out (they are random). */
      const outcome = async (store: BatchStore) => {
        const out: Record<string, unknown> = {}
        for (const [kind, value] of ids) {
          const pid = await store.findProfileId('w', kind, value)
          const p = pid === undefined ? undefined : await store.getProfile('w', pid)
          if (!p || pid === undefined) {
            out[`${kind}:${value}`] = null
            continue
          }
          const t = materialize(p.state, traits, NOW)
          const bound = await store.identities('w', pid)
          out[`${kind}:${value}`] = {
            userId: p.userId,
            ids: bound.map((i) => `${i.kind}:${i.value}`),
            orders: t.orders_total,
            revenue: t.revenue_total,
            email: t.email,
          }
        }
        return out
      }

      // One batch, on a store holding the seed.
      await processor(stores.profiles).handle(seedEvents())
      const { store, calls } = counting(stores.profiles)
      await processor(store).handle(batch())
      const batched = await outcome(stores.profiles)

      // The same events one batch each (each read from the store: a new processor per batch).
      offset = 0
      const single = await open({ now: () => NOW })
      opened.push(single)
      await processor(single.profiles).handle(seedEvents())
      for (const r of batch()) await processor(single.profiles).handle([r])
      const oneByOne = await outcome(single.profiles)

      assert.deepEqual(batched, oneByOne)
      const u9 = {
        userId: 'u9',
        ids: ['anonymousId:a-old', 'anonymousId:v1', 'userId:u2', 'userId:u9'],
        orders: 5,
        revenue: 133,
        email: 'u9@example.com',
      }
      assert.deepEqual(batched['userId:u9'], u9)
      assert.deepEqual(batched['userId:u2'], u9)
      assert.deepEqual(batched['anonymousId:v2'], batched['userId:u1'])
      assert.equal((batched['userId:u1'] as { orders: number }).orders, 1)
      // The merges read the merged-away profiles' identities; everything else came in one look-up.
      assert.equal(calls.lookupIdentities, 1)
      assert.equal(calls.findProfileId + calls.getProfile, 0)
    })
  })
}
