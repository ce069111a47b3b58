/**
 * OffsetCommits: the Kafka consumer's group offsets, committed one request at a time. The case
 * that stalled the scale-out test: a commit failing slowly while later ones succeed must not put
 * its older offsets back over them.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { OffsetCommits } from '../../src/log/offset-commits.ts'

/** A fake group coordinator: each commit request waits until the test answers it. */
function coordinator() {
  const committed = new Map<number, number>()
  const requests: { offsets: { partition: number; offset: number }[]; ok(): void; fail(): void }[] = []
  const send = (offsets: readonly { partition: number; offset: number }[]) =>
    new Promise<void>((resolve, reject) => {
      requests.push({
        offsets: [...offsets],
        ok: () => {
          for (const o of offsets) committed.set(o.partition, o.offset)
          resolve()
        },
        fail: () => reject(new Error('The coordinator is loading')),
      })
    })
  return { committed, requests, send }
}
const turn = () => new Promise<void>((r) => setImmediate(r))

test('a commit that fails after a later one succeeded never moves the group offset back', async () => {
  const c = coordinator()
  const commits = new OffsetCommits(c.send)
  commits.set(0, 100)
  const first = commits.commit()
  await turn()
  commits.set(0, 250)
  const second = commits.commit()
  await turn()
  // The first request is still unanswered; a second one may not overtake it.
  assert.equal(c.requests.length, 1, 'one commit request in flight at a time')
  c.requests[0]!.fail()
  await assert.rejects(first, /loading/)
  await turn()
  c.requests[1]?.ok()
  await second
  // Idle commits keep running after the last batch: nothing older may be pending.
  const idle = commits.commit()
  await turn()
  c.requests[2]?.ok()
  await idle
  assert.equal(c.committed.get(0), 250)
  assert.equal(commits.size, 0)
})

test('a failed commit keeps its offsets for the next try and says since when commits fail', async () => {
  const c = coordinator()
  let now = 1_000
  const commits = new OffsetCommits(c.send, () => now)
  commits.set(1, 7)
  commits.set(2, 9)
  const first = commits.commit()
  await turn()
  c.requests[0]!.fail()
  await assert.rejects(first)
  assert.equal(commits.failingSince, 1_000)
  now = 5_000
  const retry = commits.commit()
  await turn()
  assert.deepEqual(c.requests[1]!.offsets, [
    { partition: 1, offset: 7 },
    { partition: 2, offset: 9 },
  ])
  c.requests[1]!.fail()
  await assert.rejects(retry)
  assert.equal(commits.failingSince, 1_000, 'the streak started at the first failure')
  const third = commits.commit()
  await turn()
  c.requests[2]!.ok()
  await third
  assert.equal(commits.failingSince, undefined)
  assert.deepEqual(
    [...c.committed],
    [
      [1, 7],
      [2, 9],
    ],
  )
})

test('offsets of partitions handed to another member are not committed', async () => {
  const c = coordinator()
  const commits = new OffsetCommits(c.send)
  commits.set(0, 5)
  commits.set(3, 8)
  commits.retain(new Set([3]))
  const done = commits.commit()
  await turn()
  c.requests[0]!.ok()
  await done
  assert.deepEqual([...c.committed], [[3, 8]])
})

test('a commit that fails after a rebalance does not put back the offsets of partitions now owned by another member', async () => {
  const c = coordinator()
  const commits = new OffsetCommits(c.send)
  commits.retain(new Set([0, 1]))
  commits.set(0, 40)
  commits.set(1, 60)
  const first = commits.commit()
  await turn()
  // The group rebalanced while the request was in flight: partition 0 went to the other processor.
  commits.retain(new Set([1]))
  c.requests[0]!.fail()
  await assert.rejects(first)
  const next = commits.commit()
  await turn()
  assert.deepEqual(c.requests[1]!.offsets, [{ partition: 1, offset: 60 }])
  c.requests[1]!.ok()
  await next
})

test('busy while a commit request is in flight; nothing pending sends no request', async () => {
  const c = coordinator()
  const commits = new OffsetCommits(c.send)
  await commits.commit()
  assert.equal(c.requests.length, 0, 'no request for nothing pending')
  assert.equal(commits.busy, false)
  commits.set(0, 3)
  const done = commits.commit()
  await turn()
  assert.equal(commits.busy, true)
  c.requests[0]!.ok()
  await done
  assert.equal(commits.busy, false)
  assert.deepEqual([...c.committed], [[0, 3]])
})

test('a send that throws at once keeps its offsets pending, like one that rejects', async () => {
  let calls = 0
  const sent: { partition: number; offset: number }[][] = []
  const commits = new OffsetCommits((offsets) => {
    calls += 1
    if (calls === 1) throw new Error('not connected')
    sent.push([...offsets])
    return Promise.resolve()
  })
  commits.set(0, 5)
  commits.set(1, 7)
  await assert.rejects(commits.commit(), /not connected/)
  assert.equal(commits.size, 2)
  assert.equal(commits.busy, false)
  await commits.commit()
  assert.deepEqual(sent, [
    [
      { partition: 0, offset: 5 },
      { partition: 1, offset: 7 },
    ],
  ])
  assert.equal(commits.size, 0)
})
