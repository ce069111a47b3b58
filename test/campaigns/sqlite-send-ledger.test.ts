/** SqliteSendLedger: one claim per recipient, final states, and crash recovery to `unknown`. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SqliteSendLedger } from '../../src/campaigns/sqlite-send-ledger.ts'
import { openSqlite } from '../../src/db/sqlite.ts'

const ledger = () => {
  let now = 1000
  return new SqliteSendLedger(openSqlite(':memory:'), { clock: { now: () => now++ } })
}
const key = (recipient: string) => ({ workspaceId: 'ws', campaignId: 'c1', recipient })

test('a recipient can be claimed once; every later claim or record answers false', async () => {
  const l = ledger()
  assert.equal(await l.claim(key('ann'), 'ann@example.com', 'm1'), true)
  assert.equal(await l.claim(key('ann'), 'ann@example.com', 'm1'), false)
  assert.equal(await l.record(key('ann'), 'ann@example.com', 'm1', 'suppressed'), false)
  assert.equal(await l.claim({ ...key('ann'), campaignId: 'c2' }, 'ann@example.com', 'm2'), true)
  assert.equal((await l.get(key('ann')))?.state, 'sending')
})

test('finish sets the final state, attempts and detail of a claimed row, and only of a claimed row', async () => {
  const l = ledger()
  await l.claim(key('ann'), 'ann@example.com', 'm1')
  await l.attempt(key('ann'))
  await l.attempt(key('ann'))
  await l.finish(key('ann'), 'sent', '250 OK')
  const entry = await l.get(key('ann'))
  assert.deepEqual(
    [entry?.state, entry?.attempts, entry?.detail, entry?.messageId, entry?.email],
    ['sent', 2, '250 OK', 'm1', 'ann@example.com'],
  )
  await assert.rejects(l.finish(key('ann'), 'failed'), /finish needs a claim/)
  await assert.rejects(l.finish(key('bob'), 'failed'), /finish needs a claim/)
  assert.equal((await l.get(key('ann')))?.state, 'sent')
})

test('rows left in sending by a crash become unknown, and the others keep their state', async () => {
  const l = ledger()
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
  })
})

test('a closed ledger refuses to work', async () => {
  const l = ledger()
  await l.close()
  await assert.rejects(l.claim(key('ann'), 'ann@example.com', 'm1'), /closed/)
})
