/**
 * The SegmentStore seam suite: definitions and membership reads, and membership maintained by
 * the processor (committed with the profile changes, backfilled in chunks). Every
 * implementation runs it, SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { isInkError } from '../../src/core/errors.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'
import { changes, profile } from '../pipeline/batch-store-suite.ts'
import type { OpenStores, Stores } from '../profiles/store-set.ts'
import { segmentMembershipSuite } from './segment-membership-suite.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')

const badRequest = (pattern: RegExp) => (err: unknown) =>
  isInkError(err) && err.code === 'INK_ERR_BAD_REQUEST' && pattern.test(err.message)

export function segmentStoreSuite(name: string, open: OpenStores, opts: { skip?: string | false } = {}) {
  describe(`SegmentStore seam: ${name}`, { skip: opts.skip ?? false }, () => {
    let stores: Stores
    const clock = { t: NOW, now: () => clock.t }
    beforeEach(async () => {
      clock.t = NOW
      stores = await open(clock)
    })
    afterEach(() => stores.close())

    test('the store validates a condition when it is saved and saves nothing when invalid', async () => {
      const { segments } = stores
      await assert.rejects(segments.put('w', 's', { condition: { x: { $nope: 1 } } }), badRequest(/\$nope/))
      assert.deepEqual(await segments.list('w'), [])
      const s = await segments.put('w', 's', { condition: { x: 1 } })
      assert.equal(s.name, 's')
      assert.equal(s.version, 1)
    })

    test('a new condition is a new version and the name is kept unless given; the same condition is not', async () => {
      const { segments } = stores
      const first = await segments.put('w', 's', { name: 'Pro users', condition: { plan: 'pro' } })
      assert.deepEqual(first, {
        workspaceId: 'w',
        segmentId: 's',
        name: 'Pro users',
        condition: { plan: 'pro' },
        version: 1,
        membersVersion: null,
        updatedAt: NOW,
      })
      clock.t += 1000
      const same = await segments.put('w', 's', { condition: { plan: 'pro' } })
      assert.deepEqual([same.version, same.name, same.updatedAt], [1, 'Pro users', NOW + 1000])
      const changed = await segments.put('w', 's', { name: 'Paying', condition: { plan: { $in: ['pro'] } } })
      assert.deepEqual([changed.version, changed.name], [2, 'Paying'])
      assert.deepEqual(await segments.get('w', 's'), changed)
      assert.equal(await segments.get('w', 'nope'), undefined)
    })

    test('a condition reads back exactly as it was saved, key order included', async () => {
      const condition = { zeta: 1, alpha: { $gte: 2, $lt: 10 }, address: { street: 'Main', city: 'X' } }
      await stores.segments.put('w', 's', { condition })
      const def = await stores.segments.get('w', 's')
      assert.equal(JSON.stringify(def?.condition), JSON.stringify(condition))
    })

    test('list is per workspace and by segmentId; allDefinitions spans workspaces', async () => {
      for (const id of ['b', 'a', 'c']) await stores.segments.put('w', id, { condition: {} })
      await stores.segments.put('w2', 'z', { condition: {} })
      assert.deepEqual(
        (await stores.segments.list('w')).map((s) => s.segmentId),
        ['a', 'b', 'c'],
      )
      assert.deepEqual(
        (await stores.segments.allDefinitions()).map((s) => `${s.workspaceId}/${s.segmentId}`).sort(),
        ['w/a', 'w/b', 'w/c', 'w2/z'],
      )
    })

    test('the definitions stamp moves with every save and delete, and not otherwise', async () => {
      const stamps = [await stores.segments.definitionsStamp()]
      await stores.segments.put('w', 's', { condition: {} })
      stamps.push(await stores.segments.definitionsStamp())
      await stores.segments.put('w', 's', { condition: {} })
      stamps.push(await stores.segments.definitionsStamp())
      await stores.segments.delete('w', 's')
      stamps.push(await stores.segments.definitionsStamp())
      assert.equal(await stores.segments.delete('w', 's'), false)
      stamps.push(await stores.segments.definitionsStamp())
      assert.equal(new Set(stamps.slice(0, 4)).size, 4, `stamps ${stamps}`)
      assert.equal(stamps[4], stamps[3])
    })

    test('members are paged by profileId in byte order; deleting the segment removes them', async () => {
      await stores.segments.put('w', 'all', { condition: {} })
      const ids = ['p1', 'P2', 'a', 'B', 'é', '~']
      await stores.profiles.commit(
        changes({
          upserts: ids.map((id) => profile(id)),
          memberships: ids.map((id) => ({
            workspaceId: 'w',
            segmentId: 'all',
            version: 1,
            profileId: id,
            userId: `u-${id}`,
            email: id === 'a' ? null : `${id}@x.io`,
            member: true,
          })),
        }),
      )
      const first = await stores.segments.members('w', 'all', { limit: 4 })
      assert.deepEqual(
        first.map((m) => m.profileId),
        ['B', 'P2', 'a', 'p1'],
      )
      assert.deepEqual(first[2], { profileId: 'a', userId: 'u-a', email: null })
      const rest = await stores.segments.members('w', 'all', { after: 'p1', limit: 4 })
      assert.deepEqual(
        rest.map((m) => m.profileId),
        ['~', 'é'],
      )
      assert.equal(await stores.segments.isMember('w', 'all', 'é'), true)
      assert.equal(await stores.segments.isMember('w2', 'all', 'é'), false)
      // Counted from the member rows, at most `max`; per workspace and segment.
      assert.equal(await stores.segments.countMembers('w', 'all'), 6)
      assert.equal(await stores.segments.countMembers('w', 'all', 10), 6)
      assert.equal(await stores.segments.countMembers('w', 'all', 4), 4)
      assert.equal(await stores.segments.countMembers('w2', 'all'), 0)
      assert.equal(await stores.segments.countMembers('w', 'nope'), 0)
      assert.equal(await stores.segments.delete('w', 'all'), true)
      assert.equal(await stores.segments.countMembers('w', 'all'), 0)
      assert.equal(await stores.segments.isMember('w', 'all', 'é'), false)
      assert.deepEqual(await stores.segments.members('w', 'all', { limit: 10 }), [])
    })

    test('a backfill step evaluates the next chunk of profiles, and the last one finishes the version', async () => {
      await stores.profiles.commit(
        changes({
          upserts: ['p1', 'p2', 'p3'].map((id) =>
            profile(id, { state: { ...emptyState(), traits: { n: Number(id.slice(1)) } } }),
          ),
        }),
      )
      await stores.segments.put('w', 'odd', { condition: { n: { $in: [1, 3] } } })
      const evaluate = (_: unknown, p: { state: { traits: Record<string, unknown> } }) =>
        [1, 3].includes(p.state.traits.n as number) ? { email: null } : null
      const first = await stores.segments.backfillStep(2, evaluate)
      assert.deepEqual(first, { workspaceId: 'w', segmentId: 'odd', version: 1, processed: 2, done: false })
      assert.equal((await stores.segments.get('w', 'odd'))?.membersVersion, null)
      const second = await stores.segments.backfillStep(2, evaluate)
      assert.deepEqual(second, { workspaceId: 'w', segmentId: 'odd', version: 1, processed: 1, done: true })
      assert.equal((await stores.segments.get('w', 'odd'))?.membersVersion, 1)
      assert.equal(await stores.segments.backfillStep(2, evaluate), undefined)
      assert.deepEqual(
        (await stores.segments.members('w', 'odd', { limit: 10 })).map((m) => m.profileId),
        ['p1', 'p3'],
      )
    })

    test('two stores saving a new segment at once make versions 1 and 2', async () => {
      const other = await stores.peer()
      const saved = await Promise.all([
        stores.segments.put('w', 's', { condition: { a: 1 } }),
        other.segments.put('w', 's', { condition: { a: 2 } }),
      ])
      assert.deepEqual(saved.map((s) => s.version).sort(), [1, 2])
      assert.equal((await stores.segments.get('w', 's'))?.version, 2)
    })
  })

  segmentMembershipSuite(name, open, opts)
}
