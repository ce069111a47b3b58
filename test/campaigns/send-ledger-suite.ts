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
