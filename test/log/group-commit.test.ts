/**
 * Group commit and event serialization, case by case: the guarantees the event-log suite reaches
 * only through a log (ack only after a durable commit, deadlines, drain before close, record limits).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { InkEvent } from '../../src/core/types.ts'
import { GroupCommit } from '../../src/log/group-commit.ts'
import { serializeEvents } from '../../src/log/serialize.ts'

/** An asynchronous commit the test settles by hand. */
function gatedCommit() {
  const commits: number[][] = []
  const gates: { resolve: () => void; reject: (err: unknown) => void }[] = []
  const commit = (items: readonly number[]) => {
    commits.push([...items])
    return new Promise<void>((resolve, reject) => gates.push({ resolve, reject }))
  }
  return { commits, gates, commit }
}

const nextTurn = () => new Promise((r) => setImmediate(r))

describe('group commit guarantees', { timeout: 10_000 }, () => {
  test('an asynchronous commit that fails rejects its callers; they are never told it is durable', async () => {
    const c = gatedCommit()
    const gc = new GroupCommit<number>(c.commit)
    const a = gc.add([1])
    await nextTurn()
    c.gates[0]!.reject(new Error('disk full'))
    await assert.rejects(a, /disk full/)
  })

  test('a commit rejected without a reason still rejects its callers', async () => {
    const c = gatedCommit()
    const gc = new GroupCommit<number>(c.commit)
    const a = gc.add([1])
    await nextTurn()
    c.gates[0]!.reject(undefined)
    await assert.rejects(a, /commit failed/)
  })

  test('an asynchronous commit that succeeds resolves its callers, then commits the next group', async () => {
    const c = gatedCommit()
    const gc = new GroupCommit<number>(c.commit)
    const a = gc.add([1])
    await nextTurn()
    const b = gc.add([2])
    c.gates[0]!.resolve()
    await a
    while (c.gates.length < 2) await nextTurn()
    assert.deepEqual(c.commits, [[1], [2]])
    c.gates[1]!.resolve()
    await b
  })

  test('a deadline without onTimeout rejects with a plain error naming the deadline', async () => {
    const c = gatedCommit()
    const gc = new GroupCommit<number>(c.commit)
    gc.add([1])
    await nextTurn()
    await assert.rejects(gc.add([2], { timeoutMs: 1 }), { message: 'not committed within 1 ms' })
    c.gates[0]!.resolve()
    await gc.drain()
    assert.deepEqual(c.commits, [[1]])
  })

  test('the deadline of a caller in flight does not drop another caller queued behind it', async () => {
    const c = gatedCommit()
    const gc = new GroupCommit<number>(c.commit)
    const a = gc.add([1], { timeoutMs: 1 })
    await nextTurn()
    const b = gc.add([2])
    await assert.rejects(a)
    c.gates[0]!.resolve()
    while (c.gates.length < 2) await nextTurn()
    assert.deepEqual(c.commits, [[1], [2]])
    c.gates[1]!.resolve()
    await b
  })

  test('a commit takes callers up to exactly maxItems', async () => {
    const commits: number[][] = []
    const gc = new GroupCommit<number>((items) => void commits.push([...items]), { maxItems: 4 })
    await Promise.all([gc.add([1, 2]), gc.add([3, 4]), gc.add([5])])
    assert.deepEqual(commits, [[1, 2, 3, 4], [5]])
  })

  test('drain waits for the commit in flight to settle', async () => {
    const c = gatedCommit()
    const gc = new GroupCommit<number>(c.commit)
    const order: string[] = []
    gc.add([1]).then(() => order.push('committed'))
    await nextTurn()
    const drained = gc.drain().then(() => order.push('drained'))
    await nextTurn()
    assert.deepEqual(order, [])
    c.gates[0]!.resolve()
    await drained
    assert.deepEqual(order, ['committed', 'drained'])
  })

  test('drain commits what is queued but not yet flushed', async () => {
    const commits: number[][] = []
    const gc = new GroupCommit<number>((items) => void commits.push([...items]))
    const a = gc.add([1])
    await gc.drain()
    assert.deepEqual(commits, [[1]])
    await a
  })
})

const ev = (over: Partial<Record<keyof InkEvent, unknown>> = {}): InkEvent =>
  ({
    type: 'track',
    event: 'E',
    messageId: 'm1',
    workspaceId: 'w',
    userId: 'u',
    receivedAt: new Date(1_800_000_000_000).toISOString(),
    ...over,
  }) as InkEvent

describe('serializeEvents', () => {
  for (const [what, over] of [
    ['workspaceId', { workspaceId: undefined }],
    ['messageId', { messageId: 7 }],
    ['receivedAt', { receivedAt: 'yesterday' }],
  ] as const) {
    test(`an event without a usable ${what} is refused`, () => {
      assert.throws(() => serializeEvents([ev(), ev(over)], 1_000_000), {
        code: 'INK_ERR_EVENT_UNSERIALIZABLE',
        message: /^event 1\b.*lacks a workspaceId, messageId or receivedAt/,
      })
    })
  }

  test('a record of exactly maxRecordBytes is accepted, one byte more is refused', () => {
    const bytes = Buffer.byteLength(JSON.stringify(ev({ properties: { s: 'é' } })))
    const [row] = serializeEvents([ev({ properties: { s: 'é' } })], bytes)
    assert.equal(row?.bytes, bytes)
    assert.throws(() => serializeEvents([ev({ properties: { s: 'é' } })], bytes - 1), {
      code: 'INK_ERR_EVENT_UNSERIALIZABLE',
      message: new RegExp(`it is ${bytes} bytes as JSON, over the log's record limit of ${bytes - 1}`),
    })
  })

  test("an encoded event's JSON is stored as it is, not produced again, and held to the record limit", () => {
    const event = ev({ properties: { s: 'é' } })
    // Not what JSON.stringify(event) gives: proves the given JSON is used, not the event object.
    const json = JSON.stringify({ ...event, marker: 1 })
    const bytes = Buffer.byteLength(json)
    const [row] = serializeEvents([{ event, json, bytes }, ev()], bytes)
    assert.equal(row?.json, json)
    assert.equal(row?.bytes, bytes)
    assert.equal(row?.messageId, event.messageId)
    assert.throws(() => serializeEvents([{ event, json, bytes }], bytes - 1), {
      code: 'INK_ERR_EVENT_UNSERIALIZABLE',
    })
  })

  test('an event JSON cannot represent names the reason', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.throws(() => serializeEvents([ev({ properties: cyclic })], 1_000_000), {
      code: 'INK_ERR_EVENT_UNSERIALIZABLE',
      message: /its JSON could not be produced \(.*circular/i,
    })
  })
})
