/** The bounce policy suite over PostgreSQL: the batch store and the suppression list in one schema. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { PgSuppressionStore } from '../../src/delivery/pg-suppression-store.ts'
import { type BatchChanges, ProfileConflictError } from '../../src/pipeline/batch-store.ts'
import { PgBatchStore } from '../../src/pipeline/pg-batch-store.ts'
import { PgTopicStore } from '../../src/topics/pg-topic-store.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { bouncePolicySuite } from './bounce-policy-suite.ts'

bouncePolicySuite(
  'PostgreSQL',
  async (now) => {
    const schema = await freshSchema()
    // Two pools, as the processor and the api/sender roles have.
    const batch = new PgBatchStore(schema.connect(), { clock: { now } })
    await batch.ready()
    const suppressions = new PgSuppressionStore(schema.connect(), { clock: { now } })
    await suppressions.ready()
    const topics = new PgTopicStore(schema.connect(), { clock: { now } })
    await topics.ready()
    return { batch, suppressions, topics, close: () => schema.drop() }
  },
  { skip: await pgSkip() },
)

describe('bounce policy over PostgreSQL: a refused commit', { skip: await pgSkip() }, () => {
  test('a batch refused for a conflict writes no suppression; applied again, it writes one', async () => {
    const schema = await freshSchema()
    try {
      const now = () => Date.parse('2026-11-28T12:00:00Z')
      const batch = new PgBatchStore(schema.connect(), { clock: { now } })
      const suppressions = new PgSuppressionStore(schema.connect(), { clock: { now } })
      await Promise.all([batch.ready(), suppressions.ready()])
      const entry = {
        workspaceId: 'w',
        email: 'ann@example.com',
        reason: 'bounced' as const,
        source: 'campaign:spring',
        createdAt: now(),
      }
      const profile = (version: number) => ({
        workspaceId: 'w',
        profileId: 'p1',
        userId: 'ann',
        state: emptyState(),
        version,
        createdAt: now(),
        updatedAt: now(),
        lastEventReceivedAt: now(),
      })
      const changes = (expected: number): BatchChanges => ({
        upserts: [profile(expected + 1)],
        deletes: [],
        identities: [],
        messageIds: [{ workspaceId: 'w', messageId: 'b1' }],
        offsets: [],
        memberships: [],
        suppressions: [entry],
        // The batch read the profile at version 1, but the store lacks it (another processor merged
        // it away): the commit is refused. Version 0: a new profile, nothing expected.
        expectedProfiles: expected === 0 ? [] : [{ workspaceId: 'w', profileId: 'p1', version: expected }],
      })
      await assert.rejects(batch.commit(changes(1)), ProfileConflictError)
      assert.equal(await suppressions.isSuppressed('w', 'ann@example.com'), false)
      await batch.commit(changes(0))
      assert.deepEqual(
        (await suppressions.get('w', 'ann@example.com')).map((e) => e.reason),
        ['bounced'],
      )
    } finally {
      await schema.drop()
    }
  })
})
