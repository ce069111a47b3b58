/**
 * The SegmentStore seam suite over PostgreSQL, and what only PostgreSQL needs: with several
 * processors (or a backfill between a batch's load and its commit), a batch can commit profiles
 * after a backfill of a newer definition read them; those profiles are rescanned.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { pgSkip } from '../helpers/pg.ts'
import { pgStores } from '../profiles/store-set.ts'
import { identify, segmentProcessor } from './segment-membership-suite.ts'
import { segmentStoreSuite } from './segment-store-suite.ts'

const skip = await pgSkip()

segmentStoreSuite('PgSegmentStore', pgStores, { skip })

describe('PgSegmentStore with backfills between a batch and its commit', { skip }, () => {
  test('a profile committed after a backfill of a newer definition read it is rescanned', async () => {
    const stores = await pgStores({ now: () => Date.now() })
    try {
      const processor = segmentProcessor(stores)
      await stores.segments.put('w', 'ent', { condition: { plan: 'pro' } })
      await processor.handle([identify({ userId: 'u1' }, { plan: 'pro' })])
      await processor.backfillSegments()
      const u1 = await stores.profiles.findProfileId('w', 'userId', 'u1')
      assert.ok(u1)
      assert.equal(await stores.segments.isMember('w', 'ent', u1), true)
      // Another process changes the definition and backfills it completely while this batch
      // (evaluated against version 1) is on its way to the store.
      const other = await stores.peer()
      const otherProcessor = segmentProcessor(other)
      const commit = stores.profiles.commit.bind(stores.profiles)
      stores.profiles.commit = async (changes) => {
        await other.segments.put('w', 'ent', { condition: { plan: 'enterprise' } })
        await otherProcessor.backfillSegments()
        assert.equal(await other.segments.isMember('w', 'ent', u1), false, 'the backfill read the old plan')
        return commit(changes)
      }
      await processor.handle([identify({ userId: 'u1' }, { plan: 'enterprise' })])
      stores.profiles.commit = commit
      assert.equal((await stores.segments.get('w', 'ent'))?.membersVersion, 2)
      assert.equal(await stores.segments.isMember('w', 'ent', u1), false, 'the version 1 row was skipped')
      await processor.backfillSegments()
      assert.equal(await stores.segments.isMember('w', 'ent', u1), true, 'the rescan saw the new plan')
      assert.equal(await stores.segments.backfillStep(10, () => null), undefined, 'nothing left to rescan')
    } finally {
      await stores.close()
    }
  })
})
