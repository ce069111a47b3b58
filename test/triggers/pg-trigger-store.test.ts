/** The TriggerStore seam suite over PostgreSQL, and the LISTEN/NOTIFY wake-up of sender processes. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import { inTransaction } from '../../src/db/pg.ts'
import { applyJobOps } from '../../src/triggers/pg-trigger-schema.ts'
import { PgTriggerStore } from '../../src/triggers/pg-trigger-store.ts'
import type { TriggerJob } from '../../src/triggers/trigger-jobs.ts'
import { freshSchema, PG_URL, pgSkip } from '../helpers/pg.ts'
import { pgStores } from '../profiles/store-set.ts'
import { triggerStoreSuite } from './trigger-store-suite.ts'

const skip = await pgSkip()

triggerStoreSuite('PgTriggerStore', pgStores, { skip })

const job = (n: number, dueAt: number): TriggerJob => ({
  workspaceId: 'w',
  triggerId: 't',
  jobId: `tj.${n}`,
  profileId: `p${n}`,
  userId: `u${n}`,
  eventAt: dueAt,
  dueAt,
  event: { event: 'Product Viewed' },
})

/** Resolves with the next value pushed, or rejects after timeoutMs. */
function queue<T>() {
  const items: T[] = []
  const waiters: ((v: T) => void)[] = []
  return {
    push(v: T) {
      const w = waiters.shift()
      if (w) w(v)
      else items.push(v)
    },
    next(timeoutMs = 5000): Promise<T> {
      if (items.length > 0) return Promise.resolve(items.shift()!)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nothing within ${timeoutMs} ms`)), timeoutMs)
        waiters.push((v) => {
          clearTimeout(timer)
          resolve(v)
        })
      })
    },
    get size() {
      return items.length
    },
  }
}

describe('PgTriggerStore.listen', { skip }, () => {
  test('hears commits of new jobs from another pool (earliest due time), not duplicates, not other schemas', async () => {
    const schema = await freshSchema()
    const other = await freshSchema()
    const listener = new PgTriggerStore(schema.connect(), { clock: { now: () => 1 } })
    const writerPool = schema.connect()
    const otherPool = other.connect()
    await Promise.all([listener.ready(), new PgTriggerStore(otherPool).ready()])
    const heard = queue<number>()
    const stop = await listener.listen((at) => heard.push(at))
    try {
      assert.equal(await heard.next(), 1, 'a wake-up at connect (notifications may have been missed)')
      await inTransaction(writerPool, (c) =>
        applyJobOps(
          c,
          [
            { kind: 'insert', job: job(1, 5000) },
            { kind: 'insert', job: job(2, 3000) },
          ],
          10,
        ),
      )
      assert.equal(await heard.next(), 3000)
      // The same jobs again (a redelivered batch) insert nothing and notify nothing; a new one does.
      await inTransaction(writerPool, (c) => applyJobOps(c, [{ kind: 'insert', job: job(1, 5000) }], 10))
      await inTransaction(otherPool, (c) => applyJobOps(c, [{ kind: 'insert', job: job(9, 9000) }], 10))
      await inTransaction(writerPool, (c) => applyJobOps(c, [{ kind: 'insert', job: job(3, 7000) }], 10))
      assert.equal(await heard.next(), 7000)
      // A rolled-back batch notifies nothing.
      await assert.rejects(
        inTransaction(writerPool, async (c) => {
          await applyJobOps(c, [{ kind: 'insert', job: job(4, 8000) }], 10)
          throw new Error('the batch failed')
        }),
      )
      await inTransaction(writerPool, (c) => applyJobOps(c, [{ kind: 'insert', job: job(5, 6000) }], 10))
      assert.equal(await heard.next(), 6000)
      assert.equal(heard.size, 0)
    } finally {
      await stop()
      await schema.drop()
      await other.drop()
    }
  })

  test('a dropped connection is reported and reopened, with a wake-up for what it may have missed', async () => {
    const schema = await freshSchema()
    const store = new PgTriggerStore(schema.connect(), { clock: { now: () => 42 } })
    const writerPool = schema.connect()
    await store.ready()
    const heard = queue<number>()
    const errors: Error[] = []
    const stop = await store.listen((at) => heard.push(at), {
      retryMs: 50,
      onError: (err) => errors.push(err),
    })
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    try {
      assert.equal(await heard.next(), 42)
      // The server ends the listening session (a failover, an idle-session killer, a DBA).
      const { rowCount } = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE query = 'LISTEN "ink_jobs_' || left(md5($1), 16) || '"'`,
        [schema.name],
      )
      assert.ok((rowCount ?? 0) >= 1)
      assert.equal(await heard.next(), 42, 'the wake-up after reconnecting')
      assert.ok(errors.length >= 1, 'the loss was reported')
      await inTransaction(writerPool, (c) => applyJobOps(c, [{ kind: 'insert', job: job(1, 1234) }], 10))
      assert.equal(await heard.next(), 1234, 'notifications arrive again')
    } finally {
      await admin.end()
      await stop()
      await schema.drop()
    }
  })
})
