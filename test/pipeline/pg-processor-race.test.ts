/**
 * Two processors on one PostgreSQL database (Kafka mode) can read the same profile: an anonymous
 * visitor's events and the identify that ties them to a user travel on different partitions. The
 * second commit of a race is refused (ProfileConflictError) and the batch, applied again on fresh
 * reads, loses nothing. Each race is staged by running the other processor's whole batch between a
 * batch's reads and its commit.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type BatchChanges, ProfileConflictError } from '../../src/pipeline/batch-store.ts'
import { materialize } from '../../src/traits/computed-traits.ts'
import { loadTraitsConfig } from '../../src/traits/traits-config.ts'
import { pgSkip } from '../helpers/pg.ts'
import { pgStores } from '../profiles/store-set.ts'
import { identify, order, segmentProcessor } from '../segments/segment-membership-suite.ts'

const skip = await pgSkip()
const traits = loadTraitsConfig().traits
const NOW = Date.parse('2026-11-28T12:00:00Z')

describe('two processors racing on one profile (PostgreSQL)', { skip }, () => {
  test('anonymous orders and the identify that merges them: the late commit is refused, its retry loses nothing', async () => {
    const a = await pgStores({ now: () => NOW })
    try {
      const b = await a.peer()
      const pa = segmentProcessor(a)
      const pb = segmentProcessor(b)
      // The visitor ordered once anonymously, then the user exists with one order of their own.
      await pa.handle([order({ anonymousId: 'anon-1' }, 10)])
      await pb.handle([order({ userId: 'u1' }, 1)])
      // A (anonymousId partition) applies a second anonymous order; before it commits, B
      // (userId partition) merges the anonymous profile into u1.
      const commit = a.profiles.commit.bind(a.profiles)
      let raced = false
      a.profiles.commit = async (changes: BatchChanges) => {
        if (!raced) {
          raced = true
          await pb.handle([identify({ userId: 'u1', anonymousId: 'anon-1' })])
        }
        return commit(changes)
      }
      const second = [order({ anonymousId: 'anon-1' }, 100)]
      await assert.rejects(pa.handle(second), ProfileConflictError)
      // What the log consumer does with a failed batch: hand it over again.
      await pa.handle(second)
      const u1 = await a.profiles.findProfileId('w', 'userId', 'u1')
      assert.equal(await a.profiles.findProfileId('w', 'anonymousId', 'anon-1'), u1)
      const profile = await a.profiles.getProfile('w', u1!)
      const t = materialize(profile!.state, traits, NOW)
      assert.equal(t.orders_total, 3, JSON.stringify(t))
      assert.equal(t.revenue_total, 111, JSON.stringify(t))
    } finally {
      await a.close()
    }
  })

  test('the same new user seen by two processors at once ends as one profile', async () => {
    const a = await pgStores({ now: () => NOW })
    try {
      const b = await a.peer()
      const pa = segmentProcessor(a)
      const pb = segmentProcessor(b)
      const commit = a.profiles.commit.bind(a.profiles)
      let raced = false
      a.profiles.commit = async (changes: BatchChanges) => {
        if (!raced) {
          raced = true
          await pb.handle([order({ userId: 'new-user' }, 5)])
        }
        return commit(changes)
      }
      const batch = [order({ userId: 'new-user' }, 7)]
      await assert.rejects(pa.handle(batch), ProfileConflictError)
      await pa.handle(batch)
      const id = await a.profiles.findProfileId('w', 'userId', 'new-user')
      const t = materialize((await a.profiles.getProfile('w', id!))!.state, traits, NOW)
      assert.equal(t.orders_total, 2, JSON.stringify(t))
      assert.equal(t.revenue_total, 12, JSON.stringify(t))
    } finally {
      await a.close()
    }
  })
})
