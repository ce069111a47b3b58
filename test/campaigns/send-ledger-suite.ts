/**
 * The SendLedger seam suite: one claim per recipient (also between two processes), final
 * states, and crash recovery to `unknown`. SQLite and PostgreSQL run it.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { SendLedger } from '../../src/campaigns/send-ledger.ts'
import type { Clock } from '../../src/core/types.ts'

export interface OpenedLedger {
  ledger: SendLedger
  /** A second ledger on the same database, with its own connection (another runner process). */
  peer(): Promise<SendLedger>
  /** Closes both and removes the database. */
  close(): Promise<void>
}

export type OpenLedger = (clock: Clock) => Promise<OpenedLedger>

const key = (recipient: string) => ({ workspaceId: 'ws', campaignId: 'c1', recipient })

export function sendLedgerSuite(name: string, open: OpenLedger, opts: { skip?: string | false } = {}) {
  describe(`SendLedger seam: ${name}`, { skip: opts.skip ?? false }, () => {
    let opened: OpenedLedger
    let l: SendLedger
    beforeEach(async () => {
      let now = 1000
      opened = await open({ now: () => now++ })
      l = opened.ledger
    })
    afterEach(() => opened.close())

    test('a recipient can be claimed once; every later claim or record answers false', async () => {
      assert.equal(await l.claim(key('ann'), 'ann@example.com', 'm1'), true)
      assert.equal(await l.claim(key('ann'), 'ann@example.com', 'm1'), false)
      assert.equal(await l.record(key('ann'), 'ann@example.com', 'm1', 'suppressed'), false)
      assert.equal(await l.claim({ ...key('ann'), campaignId: 'c2' }, 'ann@example.com', 'm2'), true)
      assert.equal((await l.get(key('ann')))?.state, 'sending')
    })

    test('finish sets the final state, attempts and detail of a claimed row, and only of a claimed row', async () => {
      await l.claim(key('ann'), 'ann@example.com', 'm1')
      await l.attempt(key('ann'))
      await l.attempt(key('ann'))
      await l.finish(key('ann'), 'sent', '250 OK')
      const entry = await l.get(key('ann'))
      assert.deepEqual(
        [entry?.state, entry?.attempts, entry?.detail, entry?.messageId, entry?.email],
        ['sent', 2, '250 OK', 'm1', 'ann@example.com'],
      )
      const noClaim = { code: 'INK_ERR_INTERNAL', message: /finish needs a claim/ }
      await assert.rejects(l.finish(key('ann'), 'failed'), noClaim)
      await assert.rejects(l.finish(key('bob'), 'failed'), noClaim)
      assert.equal((await l.get(key('ann')))?.state, 'sent')
    })

    test('rows left in sending by a crash become unknown, and the others keep their state', async () => {
      await l.claim(key('ann'), 'ann@example.com', 'm1')
      await l.finish(key('ann'), 'sent')
      await l.claim(key('bob'), 'bob@example.com', 'm2')
      await l.record(key('cat'), 'cat@example.com', 'm3', 'suppressed', 'unsubscribed')
      assert.deepEqual(await l.recoverInterrupted('ws', 'c1'), ['bob'])
      assert.deepEqual(await l.recoverInterrupted('ws', 'c1'), [])
      assert.deepEqual(
        (await l.list('ws', 'c1')).map((e) => [e.recipient, e.state]),
        [
          ['ann', 'sent'],
          ['bob', 'unknown'],
          ['cat', 'suppressed'],
        ],
      )
      assert.deepEqual(await l.counts('ws', 'c1'), {
        sending: 0,
        sent: 1,
        failed: 0,
        unknown: 1,
        suppressed: 1,
        skipped: 0,
        deferred: 0,
      })
    })

    test('a closed ledger refuses to work', async () => {
      await l.close()
      // A bug of ours (use after close), so the internal code: never a client's 4xx.
      await assert.rejects(l.claim(key('ann'), 'ann@example.com', 'm1'), {
        code: 'INK_ERR_INTERNAL',
        message: /closed/,
      })
    })

    test('an entry reads back whole; attempts count only while sending', async () => {
      assert.equal(await l.get(key('ann')), undefined)
      await l.record(key('ann'), 'ann@example.com', 'm1', 'skipped', 'no address')
      await l.attempt(key('ann'))
      const entry = await l.get(key('ann'))
      assert.deepEqual(entry, {
        workspaceId: 'ws',
        campaignId: 'c1',
        recipient: 'ann',
        email: 'ann@example.com',
        state: 'skipped',
        messageId: 'm1',
        attempts: 0,
        detail: 'no address',
        reason: null,
        retryAt: null,
        deferrals: 0,
        updatedAt: 1000,
      })
    })

    test('an address is taken by another recipient of the campaign while sending, sent or unknown', async () => {
      const email = 'shared@example.com'
      assert.equal(await l.addressTaken(key('b'), email), false)
      await l.record(key('a'), email, 'm1', 'failed')
      assert.equal(await l.addressTaken(key('b'), email), false, 'a failure did not send')
      await l.claim(key('c'), email, 'm2')
      assert.equal(await l.addressTaken(key('b'), email), true)
      assert.equal(await l.addressTaken(key('c'), email), false, 'not taken by itself')
      assert.equal(await l.addressTaken({ ...key('b'), campaignId: 'c2' }, email), false)
      await l.finish(key('c'), 'sent')
      assert.equal(await l.addressTaken(key('b'), email), true)
    })

    test('lists and counts are per campaign and workspace, by recipient', async () => {
      for (const r of ['b', 'a', 'c']) await l.claim(key(r), `${r}@x.io`, `m-${r}`)
      await l.claim({ ...key('z'), campaignId: 'c2' }, 'z@x.io', 'm-z')
      await l.claim({ ...key('y'), workspaceId: 'other' }, 'y@x.io', 'm-y')
      assert.deepEqual(
        (await l.list('ws', 'c1')).map((e) => e.recipient),
        ['a', 'b', 'c'],
      )
      assert.equal((await l.counts('ws', 'c1')).sending, 3)
      assert.equal((await l.counts('ws', 'c2')).sending, 1)
      assert.deepEqual(await l.list('other', 'c2'), [])
    })

    test('held rows (local_time) are counted with the last due time, are not retries, and are sent later', async () => {
      assert.deepEqual(await l.held('ws', 'c1'), { count: 0 })
      for (const [who, at] of [
        ['ann', 9000],
        ['bob', 4000],
      ] as const)
        await l.record(key(who), `${who}@x.io`, `m-${who}`, 'deferred', 'held', {
          reason: 'local_time',
          retryAt: at,
        })
      await l.claim(key('cat'), 'cat@x.io', 'm3')
      await l.finish(key('cat'), 'deferred', '421', { reason: 'transport_deferred', retryAt: 20_000 })
      assert.deepEqual(await l.held('ws', 'c1'), { count: 2, until: 9000 })
      assert.deepEqual(await l.held('ws', 'c2'), { count: 0 })
      assert.equal(await l.nextRetryAt('ws', 'c1'), 4000)
      // Held again (a restart before the time): still no deferral counted.
      await l.record(key('ann'), 'ann@x.io', 'm-ann', 'deferred', 'held', {
        reason: 'local_time',
        retryAt: 9000,
      })
      assert.deepEqual(
        (await l.list('ws', 'c1')).map((e) => [e.recipient, e.deferrals]),
        [
          ['ann', 0],
          ['bob', 0],
          ['cat', 1],
        ],
      )
      assert.equal(await l.claim(key('bob'), 'bob@x.io', 'm-bob'), true)
      await l.finish(key('bob'), 'sent', '250 OK')
      assert.deepEqual(await l.held('ws', 'c1'), { count: 1, until: 9000 })
    })

    test('a deferred row: due later, takes its address, is claimed again by a retry or overwritten by a record', async () => {
      await l.claim(key('ann'), 'ann@x.io', 'm1')
      await l.attempt(key('ann'))
      await l.finish(key('ann'), 'deferred', '421 busy', { reason: 'transport_deferred', retryAt: 5000 })
      const deferred = await l.get(key('ann'))
      assert.deepEqual(
        [deferred?.state, deferred?.reason, deferred?.retryAt, deferred?.deferrals, deferred?.attempts],
        ['deferred', 'transport_deferred', 5000, 1, 1],
      )
      assert.equal(await l.addressTaken(key('bob'), 'ann@x.io'), true, 'the deferred recipient will get it')
      assert.equal(await l.nextRetryAt('ws', 'c1'), 5000)
      assert.equal(await l.nextRetryAt('ws', 'c2'), undefined)
      await l.record(key('bob'), 'bob@x.io', 'm2', 'skipped', 'no', { reason: 'no_address' })
      assert.deepEqual([...(await l.handled('ws', 'c1', ['ann', 'bob', 'cat']))].sort(), ['ann', 'bob'])
      const ids = (p: Parameters<SendLedger['page']>[2]) =>
        l.page('ws', 'c1', p).then((r) => r.map((e) => e.recipient))
      assert.deepEqual(await ids({ state: 'deferred', limit: 10 }), ['ann'])
      assert.deepEqual(await ids({ state: 'deferred', dueBy: 4999, limit: 10 }), [])
      assert.deepEqual(await ids({ state: 'deferred', dueBy: 5000, limit: 10 }), ['ann'])
      assert.deepEqual(await ids({ limit: 1 }), ['ann'])
      assert.deepEqual(await ids({ after: 'ann', limit: 1 }), ['bob'])
      // The retry: claimed again, then final; a final row is never claimed again.
      assert.equal(await l.claim(key('ann'), 'ann@x.io', 'm1'), true)
      assert.deepEqual(
        [(await l.get(key('ann')))?.state, (await l.get(key('ann')))?.retryAt],
        ['sending', null],
      )
      await l.finish(key('ann'), 'sent', '250 OK')
      const sent = await l.get(key('ann'))
      assert.deepEqual([sent?.state, sent?.deferrals, sent?.reason], ['sent', 1, null])
      assert.equal(await l.claim(key('ann'), 'ann@x.io', 'm1'), false)
      assert.equal(await l.nextRetryAt('ws', 'c1'), undefined)
      // A retry that ends before the transport (suppressed meanwhile) overwrites the deferred row.
      await l.record(key('cat'), 'cat@x.io', 'm3', 'deferred', 'profile unreadable', {
        reason: 'profile_unreadable',
        retryAt: 7000,
      })
      assert.equal(await l.record(key('cat'), 'cat@x.io', 'm3', 'suppressed', 'suppressed'), true)
      assert.equal(await l.record(key('cat'), 'cat@x.io', 'm3', 'skipped', 'again'), false)
      assert.deepEqual((await l.counts('ws', 'c1')).deferred, 0)
    })

    test('two runners racing for the same recipients: each recipient is claimed exactly once', async () => {
      const other = await opened.peer()
      const recipients = Array.from({ length: 30 }, (_, i) => `r${i}`)
      const wins = await Promise.all(
        recipients.flatMap((r) => [
          l.claim(key(r), `${r}@x.io`, `a-${r}`),
          other.claim(key(r), `${r}@x.io`, `b-${r}`),
        ]),
      )
      assert.equal(wins.filter(Boolean).length, recipients.length)
      for (const [i, r] of recipients.entries()) {
        const winner = wins[2 * i] ? 'a' : 'b'
        assert.notEqual(wins[2 * i], wins[2 * i + 1], r)
        assert.equal((await other.get(key(r)))?.messageId, `${winner}-${r}`)
      }
    })
  })
}
