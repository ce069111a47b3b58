/**
 * WorkerPool (src/core/pool.ts): tasks run in worker threads, many at once per worker; workers ask
 * the pool's thread through host handlers; an InkError crosses with its code; a worker that dies
 * fails its tasks with INK_ERR_WORKER_LOST and is replaced; a silent one times out.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { threadId } from 'node:worker_threads'
import { InkError } from '../../src/core/errors.ts'
import { WorkerPool } from '../../src/core/pool.ts'

const gates = new Map<string, (v: string) => void>()
const asked: string[] = []
let pool: WorkerPool

before(async () => {
  pool = new WorkerPool({
    name: 'test pool',
    module: new URL('./pool-worker-fixture.ts', import.meta.url),
    size: 1,
    host: {
      gate: (name: string) => {
        asked.push(name)
        return new Promise<string>((resolve) => gates.set(name, resolve))
      },
    },
  })
  await pool.whenReady()
})

after(() => pool.close())

const codeOf = (err: unknown) => (err instanceof InkError ? err.code : String(err))

/** Resolves once the worker has asked the host for `name`. */
async function askedFor(name: string): Promise<void> {
  while (!asked.includes(name)) await new Promise((r) => setImmediate(r))
}

describe('WorkerPool', () => {
  test('a task runs in a worker thread, not this one', async () => {
    const r = await pool.run<{ threadId: number; p: unknown }>('echo', { a: [1, 2] })
    assert.notEqual(r.threadId, threadId)
    assert.ok(pool.threadIds.includes(r.threadId))
    assert.deepEqual(r.p, { a: [1, 2] })
  })

  test('one worker runs tasks at once: the second finishes while the first waits for the host', async () => {
    const first = pool.run<{ gate: string }>('gated', 'first')
    const second = pool.run<{ gate: string }>('gated', 'second')
    await askedFor('first')
    await askedFor('second')
    gates.get('second')?.('two')
    assert.equal((await second).gate, 'two')
    let firstDone = false
    void first.then(() => {
      firstDone = true
    })
    await new Promise((r) => setImmediate(r))
    assert.equal(firstDone, false)
    gates.get('first')?.('one')
    assert.equal((await first).gate, 'one')
  })

  test('an InkError thrown in the worker comes back with its code and details', async () => {
    const err = await pool.run('refuse', null).catch((e: unknown) => e)
    assert.ok(err instanceof InkError)
    assert.equal(err.code, 'INK_ERR_NOT_FOUND')
    assert.deepEqual(err.details, ['x'])
  })

  test('a worker that dies fails its tasks with INK_ERR_WORKER_LOST and a new worker takes the next', async () => {
    const before = pool.threadIds
    const waiting = pool.run('gated', 'orphan')
    await askedFor('orphan')
    const crashed = pool.run('crash', null)
    assert.equal(await crashed.catch(codeOf), 'INK_ERR_WORKER_LOST')
    assert.equal(await waiting.catch(codeOf), 'INK_ERR_WORKER_LOST')
    const r = await pool.run<{ threadId: number }>('echo', 1)
    assert.ok(!before.includes(r.threadId), 'answered by the replacement')
  })

  test('a task not answered in time fails with INK_ERR_WORKER_TIMEOUT; the worker goes on', async () => {
    assert.equal(await pool.run('hang', null, { timeoutMs: 50 }).catch(codeOf), 'INK_ERR_WORKER_TIMEOUT')
    assert.equal((await pool.run<{ p: number }>('echo', 7)).p, 7)
  })

  test('an unknown method fails its task', async () => {
    await assert.rejects(pool.run('nope', null), /no task method "nope"/)
  })

  test('tasks with one key go to one worker while it keeps up', async () => {
    const two = new WorkerPool({
      name: 'two',
      module: new URL('./pool-worker-fixture.ts', import.meta.url),
      size: 2,
    })
    try {
      await two.whenReady()
      while (two.stats().some((w) => !w.ready)) await new Promise((r) => setTimeout(r, 20))
      const threads = new Set<number>()
      for (let i = 0; i < 6; i++)
        threads.add((await two.run<{ threadId: number }>('echo', i, { key: 'v1' })).threadId)
      assert.equal(threads.size, 1)
      const unkeyed = await Promise.all([
        two.run<{ threadId: number }>('echo', 1),
        two.run<{ threadId: number }>('echo', 2),
      ])
      assert.equal(new Set(unkeyed.map((r) => r.threadId)).size, 2, 'without a key, the least busy worker')
    } finally {
      await two.close()
    }
  })

  test('a closed pool fails new tasks with INK_ERR_WORKER_LOST', async () => {
    const p = new WorkerPool({
      name: 'closed',
      module: new URL('./pool-worker-fixture.ts', import.meta.url),
      size: 1,
    })
    await p.close()
    assert.equal(await p.run('echo', 1).catch(codeOf), 'INK_ERR_WORKER_LOST')
  })
})
