import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { InkEvent } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import type { ProfileChanges } from '../../src/profiles/profile-store.ts'
import { SqliteProfileStore } from '../../src/profiles/sqlite-profile-store.ts'
import { SqliteTriggerStore } from '../../src/triggers/sqlite-trigger-store.ts'
import type { TriggerJobOp } from '../../src/triggers/trigger-jobs.ts'
import { TriggerMatcher } from '../../src/triggers/trigger-matcher.ts'

const T0 = Date.parse('2026-01-01T00:00:00Z')

const event = (name: string, messageId: string, atMs: number): InkEvent => ({
  type: 'track',
  event: name,
  messageId,
  workspaceId: 'ws',
  userId: 'u1',
  properties: { sku: 'K-1' },
  timestamp: new Date(atMs).toISOString(),
  receivedAt: new Date(atMs).toISOString(),
})

const changes = (triggerJobs: TriggerJobOp[]): ProfileChanges => ({
  upserts: [],
  deletes: [],
  identities: [],
  messageIds: [],
  offsets: [],
  memberships: [],
  triggerJobs,
})

async function setup() {
  const db = openSqlite(':memory:')
  const profiles = new SqliteProfileStore(db)
  const triggers = new SqliteTriggerStore(db)
  await triggers.put('ws', 'cart', {
    event: 'Product Added',
    unless: { event: 'Order Completed', withinMs: 1000 },
    templateId: 't',
    from: 'a@b.example',
    delayMs: 0,
  })
  const matcher = new TriggerMatcher(triggers)
  await matcher.reload()
  return { db, profiles, triggers, matcher }
}

describe('trigger jobs from the processor', () => {
  test('a job is due after the abandonment window, and a redelivered event makes no second job', async () => {
    const { profiles, triggers, matcher } = await setup()
    const ops: TriggerJobOp[] = []
    assert.equal(matcher.match(event('Product Added', 'm1', T0), 'p1', ops), T0 + 1000)
    assert.equal(matcher.match(event('Product Added', 'm1', T0), 'p1', ops), T0 + 1000)
    assert.equal(matcher.match(event('Page Viewed', 'm2', T0), 'p1', ops), undefined)
    await profiles.commit(changes(ops))
    await profiles.commit(changes(ops))
    assert.equal((await triggers.due(T0 + 999, 10)).length, 0)
    const due = await triggers.due(T0 + 1000, 10)
    assert.equal(due.length, 1)
    assert.deepEqual(due[0]?.event.properties, { sku: 'K-1' })
    assert.equal(due[0]?.userId, 'u1')
    assert.equal(await triggers.claim('ws', due[0]!.jobId), true)
    assert.equal(await triggers.claim('ws', due[0]!.jobId), false, 'claimed at most once')
    assert.equal(await triggers.recoverInterrupted(), 1)
    assert.equal((await triggers.getJob('ws', due[0]!.jobId))?.state, 'unknown')
  })

  test('the unless event cancels only jobs whose trigger event is within the window before it', async () => {
    const { profiles, triggers, matcher } = await setup()
    const ops: TriggerJobOp[] = []
    matcher.match(event('Product Added', 'old', T0), 'p1', ops)
    matcher.match(event('Product Added', 'recent', T0 + 5000), 'p1', ops)
    matcher.match(event('Product Added', 'later', T0 + 5600), 'p1', ops)
    // Same batch: the cancel sees the inserts before it.
    matcher.match(event('Order Completed', 'order', T0 + 5500), 'p1', ops)
    await profiles.commit(changes(ops))
    const jobs = await triggers.due(T0 + 10_000, 10)
    assert.equal(jobs.length, 2)
    assert.deepEqual(
      jobs.map((j) => j.event.messageId),
      ['old', 'later'],
    )
  })
})
