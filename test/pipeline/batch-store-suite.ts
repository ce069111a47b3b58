/**
 * The BatchStore seam suite (DESIGN.md §3): what a commit stores, that it is one transaction,
 * and that two processors can commit at once. Every implementation runs it, SQLite and
 * PostgreSQL, together with the processor-driven tests in processor-suite.ts.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { type BatchChanges, dedupeKey } from '../../src/pipeline/batch-store.ts'
import type { StoredProfile } from '../../src/profiles/profile-store.ts'
import { emptyState, type ProfileState } from '../../src/traits/computed-traits.ts'
import type { OpenStores, Stores } from '../profiles/store-set.ts'
import { batchReadsSuite } from './batch-reads-suite.ts'
import { processorSuite } from './processor-suite.ts'

const T0 = 1_800_000_000_000

export const changes = (c: Partial<BatchChanges>): BatchChanges => ({
  upserts: [],
  deletes: [],
  identities: [],
  messageIds: [],
  offsets: [],
  memberships: [],
  ...c,
})

export const profile = (profileId: string, p: Partial<StoredProfile> = {}): StoredProfile => ({
  workspaceId: 'w',
  profileId,
  userId: null,
  state: emptyState(),
  version: 1,
  createdAt: T0,
  updatedAt: T0,
  lastEventReceivedAt: T0,
  ...p,
})

export function batchStoreSuite(name: string, open: OpenStores, opts: { skip?: string | false } = {}) {
  describe(`BatchStore seam: ${name}`, { skip: opts.skip ?? false }, () => {
    let stores: Stores
    const clock = { t: T0, now: () => clock.t }
    beforeEach(async () => {
      clock.t = T0
      stores = await open(clock)
    })
    afterEach(() => stores.close())

    test('a committed profile reads back with its identities, and its state survives the round trip', async () => {
      const state: ProfileState = {
        ...emptyState(),
        traits: { email: 'ann@example.com', plan: 'pro', tags: ['a', 'b'], nested: { n: null, ok: true } },
        computed: { revenue: { buckets: { '1799999940000': [2, 10.5, 0.25, 10.25] } } },
        firstSeenAt: T0 - 1,
        lastSeenAt: T0 + 2 ** 40,
      }
      const p = profile('p1', { userId: 'u1', state, version: 3, lastEventReceivedAt: T0 + 5 })
      await stores.profiles.commit(
        changes({
          upserts: [p],
          identities: [
            { workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'p1' },
            { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'p1' },
          ],
        }),
      )
      assert.deepEqual(await stores.profiles.getProfile('w', 'p1'), p)
      assert.equal(await stores.profiles.findProfileId('w', 'userId', 'u1'), 'p1')
      assert.equal(await stores.profiles.findProfileId('w', 'anonymousId', 'u1'), undefined)
      assert.equal(await stores.profiles.findProfileId('other', 'userId', 'u1'), undefined)
      assert.deepEqual(await stores.profiles.identities('w', 'p1'), [
        { kind: 'anonymousId', value: 'a1' },
        { kind: 'userId', value: 'u1' },
      ])
      assert.equal(await stores.profiles.getProfile('w', 'missing'), undefined)
    })

    test('the read-only profile store on the same database reads what a commit wrote, and cannot write', async () => {
      const p = profile('p1', { userId: 'u1', version: 2, lastEventReceivedAt: T0 + 7 })
      await stores.profiles.commit(
        changes({
          upserts: [p],
          identities: [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'p1' }],
        }),
      )
      assert.deepEqual(await stores.reads.getProfile('w', 'p1'), p)
      assert.equal(await stores.reads.findProfileId('w', 'userId', 'u1'), 'p1')
      assert.deepEqual(await stores.reads.identities('w', 'p1'), [{ kind: 'userId', value: 'u1' }])
      for (const write of ['commit', 'seenMessageIds', 'appliedOffsets', 'pruneDedupe'])
        assert.equal(write in stores.reads, false, `${write} is the batch store's`)
    })

    test('an upsert replaces state, version and userId but keeps the creation time', async () => {
      await stores.profiles.commit(changes({ upserts: [profile('p1')] }))
      const later = profile('p1', {
        userId: 'u1',
        state: { ...emptyState(), traits: { plan: 'team' } },
        version: 2,
        createdAt: T0 + 999,
        updatedAt: T0 + 1000,
        lastEventReceivedAt: T0 + 900,
      })
      await stores.profiles.commit(changes({ upserts: [later] }))
      assert.deepEqual(await stores.profiles.getProfile('w', 'p1'), { ...later, createdAt: T0 })
    })

    test('without expectations (a single writer) an upsert replaces whatever version is stored', async () => {
      await stores.profiles.commit(changes({ upserts: [profile('p1')] }))
      await stores.profiles.commit(changes({ upserts: [profile('p1', { version: 5, userId: 'u5' })] }))
      assert.deepEqual(
        await stores.profiles.getProfile('w', 'p1'),
        profile('p1', { version: 5, userId: 'u5' }),
      )
    })

    test('a merge deletes the profile and the last binding of an identity in a commit wins', async () => {
      await stores.profiles.commit(
        changes({
          upserts: [profile('anon'), profile('known', { userId: 'u1' })],
          identities: [
            { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'anon' },
            { workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'known' },
          ],
        }),
      )
      await stores.profiles.commit(
        changes({
          upserts: [profile('known', { userId: 'u1', version: 2 })],
          deletes: [{ workspaceId: 'w', profileId: 'anon' }],
          identities: [
            { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'anon' },
            { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'known' },
          ],
        }),
      )
      assert.equal(await stores.profiles.getProfile('w', 'anon'), undefined)
      assert.equal(await stores.profiles.findProfileId('w', 'anonymousId', 'a1'), 'known')
      assert.deepEqual(await stores.profiles.identities('w', 'anon'), [])
      assert.equal((await stores.profiles.getProfile('w', 'known'))?.version, 2)
    })

    test('a commit that merges two profiles away deletes both', async () => {
      await stores.profiles.commit(changes({ upserts: [profile('a1'), profile('a2'), profile('known')] }))
      await stores.profiles.commit(
        changes({
          upserts: [profile('known', { version: 2 })],
          deletes: [
            { workspaceId: 'w', profileId: 'a2' },
            { workspaceId: 'w', profileId: 'a1' },
          ],
        }),
      )
      assert.equal(await stores.profiles.getProfile('w', 'a1'), undefined)
      assert.equal(await stores.profiles.getProfile('w', 'a2'), undefined)
      assert.equal((await stores.profiles.getProfile('w', 'known'))?.version, 2)
    })

    test('seen messageIds are answered per workspace, and one seen twice is stored once', async () => {
      const ids = [
        { workspaceId: 'w', messageId: 'm1' },
        { workspaceId: 'w', messageId: 'm1' },
        { workspaceId: 'w2', messageId: 'm2' },
      ]
      await stores.profiles.commit(changes({ messageIds: ids }))
      const seen = await stores.profiles.seenMessageIds([
        { workspaceId: 'w', messageId: 'm1' },
        { workspaceId: 'w', messageId: 'm2' },
        { workspaceId: 'w2', messageId: 'm2' },
        { workspaceId: 'w3', messageId: 'm1' },
      ])
      assert.deepEqual([...seen].sort(), [dedupeKey('w', 'm1'), dedupeKey('w2', 'm2')])
      assert.equal((await stores.profiles.seenMessageIds([])).size, 0)
      assert.equal(await stores.profiles.pruneDedupe(T0 + 1), 2, 'two records, not three')
    })

    test('pruning forgets the dedupe records first seen before the cutoff, and only those', async () => {
      await stores.profiles.commit(changes({ messageIds: [{ workspaceId: 'w', messageId: 'old' }] }))
      clock.t = T0 + 60_000
      await stores.profiles.commit(changes({ messageIds: [{ workspaceId: 'w', messageId: 'new' }] }))
      await stores.profiles.commit(changes({ messageIds: [{ workspaceId: 'w', messageId: 'old' }] }))
      assert.equal(await stores.profiles.pruneDedupe(T0 + 60_000), 1)
      const seen = await stores.profiles.seenMessageIds([
        { workspaceId: 'w', messageId: 'old' },
        { workspaceId: 'w', messageId: 'new' },
      ])
      assert.deepEqual([...seen], [dedupeKey('w', 'new')], 'a repeat does not refresh the first sighting')
    })

    test('applied offsets are kept per group and partition, and a later commit replaces them', async () => {
      assert.deepEqual(await stores.profiles.appliedOffsets('profiles'), new Map())
      const big = 2 ** 40 + 7
      await stores.profiles.commit(
        changes({
          offsets: [
            { group: 'profiles', partition: 0, offset: 10 },
            { group: 'profiles', partition: 3, offset: big },
            { group: 'other', partition: 0, offset: 99 },
          ],
        }),
      )
      await stores.profiles.commit(changes({ offsets: [{ group: 'profiles', partition: 0, offset: 12 }] }))
      assert.deepEqual(
        await stores.profiles.appliedOffsets('profiles'),
        new Map([
          [0, 12],
          [3, big],
        ]),
      )
      assert.deepEqual(await stores.profiles.appliedOffsets('other'), new Map([[0, 99]]))
    })

    test('a commit that fails midway leaves nothing behind', async () => {
      await stores.segments.put('w', 'all', { condition: {} })
      await stores.profiles.commit(changes({ offsets: [{ group: 'profiles', partition: 0, offset: 1 }] }))
      const failing = changes({
        upserts: [profile('p1', { userId: 'u1' })],
        identities: [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'p1' }],
        messageIds: [{ workspaceId: 'w', messageId: 'm1' }],
        offsets: [{ group: 'profiles', partition: 0, offset: 2 }],
        memberships: [
          {
            workspaceId: 'w',
            segmentId: 'all',
            version: 1,
            profileId: 'p1',
            userId: 'u1',
            email: null,
            member: true,
          },
        ],
        // The last operation of the commit is invalid: an event time that is not a number.
        triggerJobs: [
          {
            kind: 'insert',
            job: {
              workspaceId: 'w',
              triggerId: 't',
              jobId: 'j1',
              profileId: 'p1',
              userId: 'u1',
              eventAt: Number.NaN,
              dueAt: T0,
              event: {},
            },
          },
        ],
      })
      await assert.rejects(stores.profiles.commit(failing))
      assert.equal(await stores.profiles.getProfile('w', 'p1'), undefined)
      assert.equal(await stores.profiles.findProfileId('w', 'userId', 'u1'), undefined)
      assert.equal((await stores.profiles.seenMessageIds([{ workspaceId: 'w', messageId: 'm1' }])).size, 0)
      assert.deepEqual(await stores.profiles.appliedOffsets('profiles'), new Map([[0, 1]]))
      assert.equal(await stores.segments.isMember('w', 'all', 'p1'), false)
      assert.equal(await stores.triggers.getJob('w', 'j1'), undefined)
    })

    test('a commit that touches no profile fails as a whole too', async () => {
      await stores.profiles.commit(changes({ offsets: [{ group: 'profiles', partition: 0, offset: 1 }] }))
      const failing = changes({
        messageIds: [{ workspaceId: 'w', messageId: 'm1' }],
        offsets: [{ group: 'profiles', partition: 0, offset: 2 }],
        triggerJobs: [
          {
            kind: 'insert',
            job: {
              workspaceId: 'w',
              triggerId: 't',
              jobId: 'j1',
              profileId: 'p1',
              userId: 'u1',
              eventAt: Number.NaN,
              dueAt: T0,
              event: {},
            },
          },
        ],
      })
      await assert.rejects(stores.profiles.commit(failing))
      assert.equal((await stores.profiles.seenMessageIds([{ workspaceId: 'w', messageId: 'm1' }])).size, 0)
      assert.deepEqual(await stores.profiles.appliedOffsets('profiles'), new Map([[0, 1]]))
    })

    test('membership is written only at the version it was evaluated against; a merged-away profile loses it', async () => {
      await stores.segments.put('w', 'a', { condition: {} })
      await stores.segments.put('w', 'b', { condition: { x: 1 } })
      await stores.segments.put('w', 'b', { condition: { x: 2 } })
      const member = (segmentId: string, version: number, profileId: string, isMember = true) => ({
        workspaceId: 'w',
        segmentId,
        version,
        profileId,
        userId: null,
        email: `${profileId}@x.io`,
        member: isMember,
      })
      await stores.profiles.commit(
        changes({
          upserts: [profile('p1'), profile('p2')],
          memberships: [
            member('a', 1, 'p1'),
            member('a', 1, 'p2'),
            member('b', 1, 'p1'),
            member('b', 2, 'p2'),
          ],
        }),
      )
      assert.deepEqual(await stores.segments.members('w', 'a', { limit: 10 }), [
        { profileId: 'p1', userId: null, email: 'p1@x.io' },
        { profileId: 'p2', userId: null, email: 'p2@x.io' },
      ])
      assert.equal(await stores.segments.isMember('w', 'b', 'p1'), false, 'version 1 is stale')
      assert.equal(await stores.segments.isMember('w', 'b', 'p2'), true)
      await stores.profiles.commit(
        changes({
          upserts: [profile('p2', { version: 2 })],
          deletes: [{ workspaceId: 'w', profileId: 'p1' }],
          memberships: [member('a', 1, 'p2', false), member('b', 2, 'p2')],
        }),
      )
      assert.deepEqual(await stores.segments.members('w', 'a', { limit: 10 }), [])
      assert.equal(await stores.segments.isMember('w', 'b', 'p2'), true)
    })

    test('a NUL character in an id or a trait does not fail the batch', async () => {
      const odd = 'u\u0000x'
      await stores.profiles.commit(
        changes({
          upserts: [profile('p1', { userId: odd, state: { ...emptyState(), traits: { [`k${odd}`]: odd } } })],
          identities: [{ workspaceId: 'w', kind: 'userId', value: odd, profileId: 'p1' }],
          messageIds: [{ workspaceId: 'w', messageId: odd }],
        }),
      )
      assert.equal(await stores.profiles.findProfileId('w', 'userId', odd), 'p1')
      const seen = await stores.profiles.seenMessageIds([{ workspaceId: 'w', messageId: odd }])
      assert.deepEqual([...seen], [dedupeKey('w', odd)])
      const traits = (await stores.profiles.getProfile('w', 'p1'))?.state.traits ?? {}
      assert.equal(Object.keys(traits).length, 1)
    })

    test('two stores on one database commit different users at the same time and lose neither', async () => {
      const other = await stores.peer()
      const batch = (i: number) =>
        changes({
          upserts: [profile(`p${i}`, { userId: `u${i}`, version: i })],
          identities: [{ workspaceId: 'w', kind: 'userId', value: `u${i}`, profileId: `p${i}` }],
          messageIds: [{ workspaceId: 'w', messageId: `m${i}` }],
          offsets: [{ group: 'profiles', partition: i, offset: i * 10 }],
        })
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? stores : other).profiles.commit(batch(i))),
      )
      for (let i = 0; i < 20; i++) {
        const reader = i % 2 === 0 ? other : stores
        assert.equal(await reader.profiles.findProfileId('w', 'userId', `u${i}`), `p${i}`)
        assert.equal((await reader.profiles.getProfile('w', `p${i}`))?.version, i)
      }
      const offsets = await other.profiles.appliedOffsets('profiles')
      assert.deepEqual(
        [...offsets].sort(([a], [b]) => a - b),
        Array.from({ length: 20 }, (_, i) => [i, i * 10]),
      )
      const ids = Array.from({ length: 20 }, (_, i) => ({ workspaceId: 'w', messageId: `m${i}` }))
      assert.equal((await stores.profiles.seenMessageIds(ids)).size, 20)
    })
  })

  processorSuite(name, open, opts)
  batchReadsSuite(name, open, opts)
}
