/**
 * The TriggerStore seam suite: definitions, and jobs as the processor commits them (with the
 * profile changes) and the dispatcher claims and finishes them. SQLite and PostgreSQL run it.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { InkEvent } from '../../src/core/types.ts'
import type { TriggerInput } from '../../src/triggers/trigger-def.ts'
import { type TriggerJob, type TriggerJobOp, triggerJobId } from '../../src/triggers/trigger-jobs.ts'
import { TriggerMatcher } from '../../src/triggers/trigger-matcher.ts'
import { changes } from '../pipeline/batch-store-suite.ts'
import type { OpenStores, Stores } from '../profiles/store-set.ts'

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

const CART: TriggerInput = {
  event: 'Product Added',
  unless: { event: 'Order Completed', withinMs: 1000 },
  templateId: 't',
  from: 'a@b.example',
  delayMs: 0,
}

const jobOf = (jobId: string, dueAt: number, j: Partial<TriggerJob> = {}): TriggerJob => ({
  workspaceId: 'ws',
  triggerId: 'cart',
  jobId,
  profileId: 'p1',
  userId: 'u1',
  eventAt: dueAt - 1000,
  dueAt,
  event: { name: 'Product Added', messageId: jobId },
  ...j,
})
const job = (jobId: string, dueAt: number, j: Partial<TriggerJob> = {}): TriggerJobOp => ({
  kind: 'insert',
  job: jobOf(jobId, dueAt, j),
})

export function triggerStoreSuite(name: string, open: OpenStores, opts: { skip?: string | false } = {}) {
  describe(`TriggerStore seam: ${name}`, { skip: opts.skip ?? false }, () => {
    let stores: Stores
    const clock = { t: T0, now: () => clock.t }
    beforeEach(async () => {
      clock.t = T0
      stores = await open(clock)
    })
    afterEach(() => stores.close())

    const matcher = async () => {
      await stores.triggers.put('ws', 'cart', CART)
      const m = new TriggerMatcher(stores.triggers)
      await m.reload()
      return m
    }

    test('a job is due after the abandonment window, and a redelivered event makes no second job', async () => {
      const { profiles, triggers } = stores
      const m = await matcher()
      const ops: TriggerJobOp[] = []
      assert.equal(m.match(event('Product Added', 'm1', T0), 'p1', ops), T0 + 1000)
      assert.equal(m.match(event('Product Added', 'm1', T0), 'p1', ops), T0 + 1000)
      assert.equal(m.match(event('Page Viewed', 'm2', T0), 'p1', ops), undefined)
      await profiles.commit(changes({ triggerJobs: ops }))
      await profiles.commit(changes({ triggerJobs: ops }))
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
      const { profiles, triggers } = stores
      const m = await matcher()
      const ops: TriggerJobOp[] = []
      m.match(event('Product Added', 'old', T0), 'p1', ops)
      m.match(event('Product Added', 'recent', T0 + 5000), 'p1', ops)
      m.match(event('Product Added', 'later', T0 + 5600), 'p1', ops)
      // Same batch: the cancel sees the inserts before it.
      m.match(event('Order Completed', 'order', T0 + 5500), 'p1', ops)
      await profiles.commit(changes({ triggerJobs: ops }))
      const jobs = await triggers.due(T0 + 10_000, 10)
      assert.equal(jobs.length, 2)
      assert.deepEqual(
        jobs.map((j) => j.event.messageId),
        ['old', 'later'],
      )
    })

    test('clock abuse: an add dated 10 years back waits for the window and is cancelled by the order 1 s later', async () => {
      const { profiles, triggers } = stores
      const m = await matcher()
      const TEN_YEARS = 3653 * 86_400_000
      const received = (e: InkEvent, at: number): InkEvent => ({
        ...e,
        receivedAt: new Date(at).toISOString(),
      })
      const ops: TriggerJobOp[] = []
      const due = m.match(received(event('Product Added', 'past', T0 - TEN_YEARS), T0), 'p1', ops)
      assert.equal(due, T0 + 1000, 'due one window after the server received it')
      await profiles.commit(changes({ triggerJobs: ops }))
      assert.deepEqual(await triggers.due(T0 + 999, 10), [], 'not due at once')
      const cancel: TriggerJobOp[] = []
      m.match(received(event('Order Completed', 'order', T0 + 1000), T0 + 1000), 'p1', cancel)
      await profiles.commit(changes({ triggerJobs: cancel }))
      assert.deepEqual(await triggers.due(T0 + TEN_YEARS, 10), [], 'cancelled by the order')
      const past = await triggers.getJob('ws', triggerJobId('ws', 'cart', 'past'))
      assert.equal(past?.state, 'cancelled')
      assert.equal(
        past?.event.timestamp,
        new Date(T0 - TEN_YEARS).toISOString(),
        'the template sees what was sent',
      )
    })

    test('clock abuse: an add dated 10 years ahead is due one window after its arrival, not in 3,653 days', async () => {
      const { profiles, triggers } = stores
      const m = await matcher()
      const ops: TriggerJobOp[] = []
      const ahead = {
        ...event('Product Added', 'ahead', T0 + 3653 * 86_400_000),
        receivedAt: new Date(T0).toISOString(),
      }
      assert.equal(m.match(ahead, 'p1', ops), T0 + 1000)
      // Within the 60 s tolerance the client's time is kept (sentAt-corrected times are that precise).
      const near = { ...event('Product Added', 'near', T0 + 30_000), receivedAt: new Date(T0).toISOString() }
      assert.equal(m.match(near, 'p1', ops), T0 + 31_000)
      await profiles.commit(changes({ triggerJobs: ops }))
      assert.deepEqual(
        (await triggers.due(T0 + 1000, 10)).map((j) => [j.event.messageId, j.eventAt, j.dueAt]),
        [['ahead', T0, T0 + 1000]],
      )
    })

    test('definitions are saved, replaced, listed per workspace and deleted', async () => {
      const { triggers } = stores
      const saved = await triggers.put('ws', 'cart', CART)
      assert.deepEqual(saved, { ...CART, workspaceId: 'ws', triggerId: 'cart', updatedAt: T0 })
      assert.deepEqual(await triggers.get('ws', 'cart'), saved)
      clock.t += 5
      await triggers.put('ws', 'cart', {
        ...CART,
        delayMs: 60_000,
        frequencyCap: { max: 1, perMs: 86_400_000 },
      })
      const { unless: _, ...welcome } = CART
      await triggers.put('ws', 'a-welcome', { ...welcome, event: 'Signed Up' })
      await triggers.put('other', 'x', CART)
      const got = await triggers.get('ws', 'cart')
      assert.deepEqual(
        [got?.delayMs, got?.frequencyCap, got?.updatedAt],
        [60_000, { max: 1, perMs: 86_400_000 }, T0 + 5],
      )
      assert.deepEqual(
        (await triggers.list('ws')).map((t) => t.triggerId),
        ['a-welcome', 'cart'],
      )
      assert.equal((await triggers.allDefinitions()).length, 3)
      assert.equal(await triggers.delete('ws', 'cart'), true)
      assert.equal(await triggers.delete('ws', 'cart'), false)
      assert.equal(await triggers.get('ws', 'cart'), undefined)
    })

    test('due lists pending jobs oldest first up to the limit, nextDueAt is the earliest pending, countDue counts the due ones', async () => {
      const { profiles, triggers } = stores
      assert.equal(await triggers.nextDueAt(), undefined)
      await profiles.commit(
        changes({ triggerJobs: [job('c', T0 + 30), job('a', T0 + 10), job('b', T0 + 20)] }),
      )
      assert.equal(await triggers.nextDueAt(), T0 + 10)
      assert.equal(await triggers.countDue(T0 + 20), 2)
      assert.deepEqual(
        (await triggers.due(T0 + 100, 2)).map((j) => j.jobId),
        ['a', 'b'],
      )
      await triggers.claim('ws', 'a')
      assert.equal(await triggers.nextDueAt(), T0 + 20)
      assert.deepEqual([await triggers.countDue(T0 + 19), await triggers.countDue(T0 + 30)], [0, 2])
      assert.deepEqual(
        (await triggers.due(T0 + 25, 10)).map((j) => j.jobId),
        ['b'],
      )
      const stored = await triggers.getJob('ws', 'a')
      assert.deepEqual(stored, {
        ...jobOf('a', T0 + 10),
        state: 'sending',
        detail: null,
        sentAt: null,
        attempts: 0,
        firstFailedAt: null,
        reason: null,
      })
    })

    test('finish records a final state once, from sending only, and sentSince counts what was sent', async () => {
      const { profiles, triggers } = stores
      await profiles.commit(changes({ triggerJobs: [job('a', T0), job('b', T0), job('c', T0)] }))
      await triggers.finish('ws', 'a', 'sent', 'not claimed')
      assert.equal((await triggers.getJob('ws', 'a'))?.state, 'pending', 'finish needs a claim')
      for (const id of ['a', 'b', 'c']) await triggers.claim('ws', id)
      clock.t = T0 + 100
      await triggers.finish('ws', 'a', 'sent', '250 OK')
      await triggers.finish('ws', 'b', 'suppressed', 'unsubscribed')
      clock.t = T0 + 200
      await triggers.finish('ws', 'c', 'sent', '250 OK')
      await triggers.finish('ws', 'c', 'failed', 'again')
      const a = await triggers.getJob('ws', 'a')
      assert.deepEqual([a?.state, a?.detail, a?.sentAt], ['sent', '250 OK', T0 + 100])
      assert.equal((await triggers.getJob('ws', 'b'))?.sentAt, null)
      assert.equal((await triggers.getJob('ws', 'c'))?.state, 'sent')
      assert.equal(await triggers.sentSince('ws', 'cart', 'u1', T0), 2)
      assert.equal(await triggers.sentSince('ws', 'cart', 'u1', T0 + 101), 1)
      assert.equal(await triggers.sentSince('ws', 'cart', 'u2', T0), 0)
      assert.equal(await triggers.recoverInterrupted(), 0)
    })

    test('a job event keeps its properties in the order the event had them', async () => {
      const props = { zeta: 1, alpha: 2, mid: { b: 1, a: 2 } }
      await stores.profiles.commit(
        changes({ triggerJobs: [job('a', T0, { event: { name: 'x', properties: props } })] }),
      )
      const stored = await stores.triggers.getJob('ws', 'a')
      assert.equal(JSON.stringify(stored?.event.properties), JSON.stringify(props))
    })

    test('settle ends a pending job without a claim, once; a claimed job is not settled', async () => {
      const { profiles, triggers } = stores
      await profiles.commit(changes({ triggerJobs: [job('a', T0), job('b', T0)] }))
      clock.t = T0 + 100
      assert.equal(
        await triggers.settle('ws', 'a', 'skipped', 'frequency cap: 1 sent', 'frequency_cap'),
        true,
      )
      assert.equal(await triggers.settle('ws', 'a', 'failed', 'again', 'render_error'), false)
      await triggers.claim('ws', 'b')
      assert.equal(await triggers.settle('ws', 'b', 'suppressed', 'the address is suppressed'), false)
      const a = await triggers.getJob('ws', 'a')
      assert.deepEqual(
        [a?.state, a?.detail, a?.reason, a?.sentAt],
        ['skipped', 'frequency cap: 1 sent', 'frequency_cap', null],
      )
      assert.equal((await triggers.getJob('ws', 'b'))?.state, 'sending')
      await triggers.finish('ws', 'b', 'bounced', '550 5.1.1 no such user')
      const b = await triggers.getJob('ws', 'b')
      assert.deepEqual([b?.state, b?.reason, b?.sentAt], ['bounced', null, null])
      assert.equal(await triggers.sentSince('ws', 'cart', 'u1', T0), 0, 'a bounce is not a sent message')
    })

    test('retryLater puts a job back to pending with a later due time, from the state the caller holds only', async () => {
      const { profiles, triggers } = stores
      await profiles.commit(changes({ triggerJobs: [job('a', T0), job('b', T0)] }))
      // From pending (the profile could not be read before the claim).
      clock.t = T0 + 50
      const first = { dueAt: T0 + 30_050, attempts: 1, firstFailedAt: T0 + 50 }
      assert.equal(
        await triggers.retryLater('ws', 'a', 'sending', {
          ...first,
          detail: 'x',
          reason: 'profile_unreadable',
        }),
        false,
        'a pending job is not taken from sending',
      )
      assert.equal(
        await triggers.retryLater('ws', 'a', 'pending', {
          ...first,
          detail: 'the profile could not be read: timeout',
          reason: 'profile_unreadable',
        }),
        true,
      )
      assert.deepEqual(
        (await triggers.due(T0 + 30_049, 10)).map((j) => j.jobId),
        ['b'],
      )
      assert.equal(await triggers.nextDueAt(), T0)
      const a = await triggers.getJob('ws', 'a')
      assert.deepEqual(
        [a?.state, a?.dueAt, a?.attempts, a?.firstFailedAt, a?.reason, a?.detail],
        ['pending', T0 + 30_050, 1, T0 + 50, 'profile_unreadable', 'the profile could not be read: timeout'],
      )
      // From sending (the transport refused after the claim): claimable again once due.
      assert.equal(await triggers.claim('ws', 'a'), true)
      assert.equal(
        await triggers.retryLater('ws', 'a', 'sending', {
          dueAt: T0 + 90_000,
          attempts: 2,
          firstFailedAt: T0 + 50,
          detail: 'no reply ECONNREFUSED',
          reason: 'transport_deferred',
        }),
        true,
      )
      assert.deepEqual(
        (await triggers.due(T0 + 90_000, 10)).map((j) => [j.jobId, j.state, j.attempts]),
        [
          ['b', 'pending', 0],
          ['a', 'pending', 2],
        ],
      )
      assert.equal(await triggers.recoverInterrupted(), 0, 'nothing left in sending')
      assert.equal(await triggers.claim('ws', 'a'), true)
    })

    test('two dispatchers claiming the same jobs: each job is claimed exactly once', async () => {
      const other = await stores.peer()
      const ids = Array.from({ length: 20 }, (_, i) => `j${i}`)
      await stores.profiles.commit(changes({ triggerJobs: ids.map((id) => job(id, T0)) }))
      const claims = await Promise.all(
        ids.flatMap((id) => [stores.triggers.claim('ws', id), other.triggers.claim('ws', id)]),
      )
      assert.equal(claims.filter(Boolean).length, ids.length)
      for (let i = 0; i < ids.length; i++) assert.notEqual(claims[2 * i], claims[2 * i + 1])
    })
  })
}
