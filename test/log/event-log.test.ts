/**
 * The EventLog seam suite. Every implementation runs it: the SQLite log (with and without its
 * writer thread) and the Kafka log against the broker of `npm run services:up` (KAFKA_BROKERS, default
 * 127.0.0.1:9092), skipped when there is none unless INKSTREAM_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import type { Consumer, EventLog } from '../../src/log/event-log.ts'
import { GroupCommit } from '../../src/log/group-commit.ts'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { LogWriterThread } from '../../src/log/log-writer.ts'
import { SqliteEventLog } from '../../src/log/sqlite-event-log.ts'
import { tempDir } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'

interface LogFactory {
  name: string
  /** A reason to skip this implementation (its service is absent), or false. */
  skip?: string | false
  /** Opens the log on a location; opening the same location again must see the same data. */
  open(location: string): EventLog | Promise<EventLog>
  location(): string
  cleanup(location: string): void
}

const sqlite: LogFactory = {
  name: 'SqliteEventLog',
  open(dir) {
    const db = openSqlite(join(dir, 'log.db'))
    const log = new SqliteEventLog(db, { pollMs: 20 })
    const close = log.close.bind(log)
    return Object.assign(log, {
      close: async () => {
        await close()
        db.close()
      },
    })
  },
  location: () => tempDir('inkstream-log-'),
  cleanup: (dir) => rmSync(dir, { recursive: true, force: true }),
}

/** The same log, with appends committed by a writer thread on its own connection (as the app runs it). */
const sqliteWithWriter: LogFactory = {
  name: 'SqliteEventLog with a writer thread',
  open(dir) {
    const db = openSqlite(join(dir, 'log.db'))
    const writer = new LogWriterThread({ file: join(dir, 'log.db'), synchronous: 'full' })
    const log = new SqliteEventLog(db, { pollMs: 20, writer })
    const close = log.close.bind(log)
    return Object.assign(log, {
      close: async () => {
        await close()
        await writer.close()
        db.close()
      },
    })
  },
  location: () => tempDir('inkstream-log-'),
  cleanup: (dir) => rmSync(dir, { recursive: true, force: true }),
}

const kafkaSkip = await kafkaMissing()
const kafka: LogFactory = {
  name: 'KafkaEventLog',
  skip: kafkaSkip,
  open: (topic) => KafkaEventLog.open({ brokers: kafkaBrokers(), topic, partitions: 4 }),
  location: () => KafkaEventLog.uniqueTopic('inkstream-log-test'),
  cleanup: () => {},
}

const event = (i: number, user = `u${i % 7}`): InkEvent => ({
  type: 'track',
  event: 'Tested',
  messageId: `m${i}`,
  workspaceId: 'w',
  userId: user,
  properties: { i },
  timestamp: new Date(1_800_000_000_000 + i).toISOString(),
  receivedAt: new Date(1_800_000_000_000 + i).toISOString(),
})

function collect(log: EventLog, group: string, until: number) {
  const seen: LogRecord[] = []
  let done!: () => void
  const finished = new Promise<void>((r) => {
    done = r
  })
  const consumer = log.consume(group, async (records) => {
    seen.push(...records)
    if (seen.length >= until) done()
  })
  return { seen, finished, consumer }
}

for (const impl of [sqlite, sqliteWithWriter, kafka]) {
  describe(`EventLog: ${impl.name}`, { skip: impl.skip ?? false }, () => {
    test('events appended concurrently are all consumed, each once, in append order per user', async () => {
      const dir = impl.location()
      const log = await impl.open(dir)
      try {
        await Promise.all(
          Array.from({ length: 50 }, (_, r) =>
            log.append(Array.from({ length: 20 }, (_, k) => event(r * 20 + k))),
          ),
        )
        const { seen, finished, consumer } = collect(log, 'g', 1000)
        await finished
        await consumer.close()
        assert.equal(seen.length, 1000)
        assert.equal(new Set(seen.map((r) => r.event.messageId)).size, 1000)
        const perUser = new Map<string, number[]>()
        for (const r of seen)
          perUser.set(r.event.userId!, [...(perUser.get(r.event.userId!) ?? []), r.offset])
        for (const offsets of perUser.values())
          assert.deepEqual(
            offsets,
            [...offsets].sort((a, b) => a - b),
          )
      } finally {
        await log.close()
        impl.cleanup(dir)
      }
    })

    test('events appended already encoded (as the collector does) are consumed as the events they encode, each user on one partition', async () => {
      const dir = impl.location()
      const log = await impl.open(dir)
      try {
        const encode = (e: InkEvent) => {
          const json = JSON.stringify(e)
          return { event: e, json, bytes: Buffer.byteLength(json) }
        }
        // Plain and encoded events of the same users, in one append and in separate ones.
        await log.append(Array.from({ length: 14 }, (_, i) => (i % 2 === 0 ? event(i) : encode(event(i)))))
        await log.append(Array.from({ length: 14 }, (_, i) => encode(event(14 + i))))
        const { seen, finished, consumer } = collect(log, 'g', 28)
        await finished
        await consumer.close()
        const byId = new Map(seen.map((r) => [r.event.messageId, r]))
        for (let i = 0; i < 28; i++) assert.deepEqual(byId.get(`m${i}`)?.event, event(i), `m${i}`)
        const partitions = new Map<string, Set<number>>()
        for (const r of seen)
          partitions.set(r.event.userId!, (partitions.get(r.event.userId!) ?? new Set()).add(r.partition))
        for (const [user, ps] of partitions) assert.equal(ps.size, 1, `${user} is on one partition`)
      } finally {
        await log.close()
        impl.cleanup(dir)
      }
    })

    test('a consumer resumes after its committed offset when the log is reopened', async () => {
      const dir = impl.location()
      let log = await impl.open(dir)
      try {
        await log.append([event(1), event(2), event(3)])
        const first = collect(log, 'g', 3)
        await first.finished
        await first.consumer.close()
        await log.close()

        log = await impl.open(dir)
        await log.append([event(4), event(5)])
        const second = collect(log, 'g', 2)
        await second.finished
        await second.consumer.close()
        assert.deepEqual(
          second.seen.map((r) => r.event.messageId),
          ['m4', 'm5'],
        )
        assert.equal(await log.lag('g'), 0)
      } finally {
        await log.close()
        impl.cleanup(dir)
      }
    })

    test('a batch whose handler fails is delivered again and its offset is not committed', async () => {
      const dir = impl.location()
      const log = await impl.open(dir)
      try {
        // One user: one partition, so both records come in one batch on every implementation.
        await log.append([event(1, 'u'), event(2, 'u')])
        let calls = 0
        let delivered: string[] = []
        const pauses: string[] = []
        const ok = new Promise<void>((resolve) => {
          const consumer = log.consume(
            'g',
            async (records) => {
              calls++
              if (calls === 1) throw new Error('transient')
              delivered = records.map((r) => r.event.messageId)
              resolve()
              void consumer
            },
            {
              onError: () => {},
              retryDelayMs: (err) => {
                pauses.push((err as Error).message)
                return 10
              },
            },
          )
        })
        await ok
        assert.equal(calls, 2)
        assert.deepEqual(delivered, ['m1', 'm2'])
        assert.deepEqual(pauses, ['transient'], 'the pause before the retry was asked for with the error')
      } finally {
        await log.close()
        impl.cleanup(dir)
      }
    })

    test('groups consume independently and lag counts what a group has not committed', async () => {
      const dir = impl.location()
      const log = await impl.open(dir)
      try {
        await log.append([event(1), event(2), event(3)])
        assert.equal(await log.lag('a'), 3)
        const a = collect(log, 'a', 3)
        await a.finished
        await a.consumer.close()
        assert.equal(await log.lag('a'), 0)
        assert.equal(await log.lag('b'), 3)
      } finally {
        await log.close()
        impl.cleanup(dir)
      }
    })

    test('an event that cannot be serialized fails its own append with a 400; the appends it would have shared a commit with are durable', async () => {
      const dir = impl.location()
      const log = await impl.open(dir)
      try {
        // As in the issue: a batch-level context nested 5,000 deep, merged into an event.
        let deep: Record<string, unknown> = {}
        for (let i = 0; i < 5_000; i++) deep = { c: deep }
        const nested = { ...event(100, 'u'), context: deep }
        const bigint = { ...event(101, 'u'), properties: { n: 1n } } as unknown as InkEvent
        const cyclic = event(102, 'u') as InkEvent & { properties: Record<string, unknown> }
        cyclic.properties.self = cyclic
        // All in one tick: without the per-request check they would share one commit.
        const results = await Promise.allSettled([
          log.append([event(1, 'u'), event(2, 'u')]),
          log.append([event(3, 'u'), nested]),
          log.append([event(4, 'u')]),
          log.append([bigint]),
          log.append([cyclic, event(5, 'u')]),
          log.append([event(6, 'u')]),
        ])
        assert.deepEqual(
          results.map((r) => r.status),
          ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
        )
        for (const [i, r] of results.entries()) {
          if (r.status !== 'rejected') continue
          assert.equal(r.reason.code, 'INK_ERR_EVENT_UNSERIALIZABLE', `append ${i}: ${r.reason}`)
          assert.equal(r.reason.statusCode, 400)
        }
        assert.match(
          String((results[1] as PromiseRejectedResult).reason.message),
          /event 1 \(messageId m100\).*nested too deeply/,
        )
        // One user, one partition: m7, appended last, is consumed after anything stored before it.
        await log.append([event(7, 'u')])
        const { seen, consumer } = collect(log, 'g', 5)
        while (!seen.some((r) => r.event.messageId === 'm7')) await new Promise((r) => setTimeout(r, 10))
        await consumer.close()
        // Nothing of a refused request was stored, not even its good events (m3, m5).
        assert.deepEqual(
          seen.map((r) => r.event.messageId),
          ['m1', 'm2', 'm4', 'm6', 'm7'],
        )
      } finally {
        await log.close()
        impl.cleanup(dir)
      }
    })

    test('while the handler has not resolved, the batch is not committed: lag still counts it', async () => {
      const dir = impl.location()
      const log = await impl.open(dir)
      try {
        await log.append([event(1, 'u'), event(2, 'u')])
        let entered!: () => void
        const inHandler = new Promise<void>((r) => {
          entered = r
        })
        let release!: () => void
        const gate = new Promise<void>((r) => {
          release = r
        })
        const consumer = log.consume('g', async () => {
          entered()
          await gate
        })
        await inHandler
        // A consumer that committed its position before calling the handler would lose this
        // batch in a crash now: after a restart it would resume past it.
        assert.equal(await log.lag('g'), 2)
        release()
        while ((await log.lag('g')) > 0) await new Promise((r) => setTimeout(r, 20))
        await consumer.close()
      } finally {
        await log.close()
        impl.cleanup(dir)
      }
    })

    test('appending after close is refused rather than acknowledged', async () => {
      const dir = impl.location()
      const log = await impl.open(dir)
      await log.close()
      await assert.rejects(log.append([event(1)]), { code: 'INK_ERR_LOG_UNAVAILABLE' })
      impl.cleanup(dir)
    })
  })
}

describe('SQLite log retention', () => {
  test('pruning deletes only what every consumer group has passed, however old the rest is', async () => {
    const dir = tempDir('inkstream-log-')
    const db = openSqlite(join(dir, 'log.db'))
    // Every event is far older than the retention: only the groups' positions hold them back.
    const log = new SqliteEventLog(db, { pollMs: 20, clock: { now: () => 1_900_000_000_000 } })
    try {
      await log.append([event(1), event(2), event(3), event(4)])
      const ahead = collect(log, 'ahead', 4)
      await ahead.finished
      await ahead.consumer.close()
      // 'behind' handles one record and stops: its position is 1.
      let behind: Consumer | undefined
      await new Promise<void>((resolve) => {
        behind = log.consume(
          'behind',
          async () => {
            void behind?.close()
            resolve()
          },
          { maxBatch: 1 },
        )
      })
      await behind?.close()
      assert.equal(await log.lag('behind'), 3)
      assert.equal(log.prune(0), 1, 'only the record every group has passed is deleted')
      const rest = collect(log, 'behind', 3)
      await rest.finished
      await rest.consumer.close()
      assert.deepEqual(
        rest.seen.map((r) => r.event.messageId),
        ['m2', 'm3', 'm4'],
      )
    } finally {
      await log.close()
      db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('group commit', () => {
  test('appends issued in the same tick share one commit, and every caller waits for it', async () => {
    const commits: number[] = []
    const gc = new GroupCommit<number>((items) => {
      commits.push(items.length)
    })
    const settled: number[] = []
    await Promise.all(
      Array.from({ length: 100 }, (_, r) =>
        gc.add(Array.from({ length: 10 }, () => r)).then(() => settled.push(r)),
      ),
    )
    assert.deepEqual(commits, [1000])
    assert.equal(settled.length, 100)
  })

  test('a failed commit rejects exactly the callers it carried, and the next commit works', async () => {
    let fail = true
    const gc = new GroupCommit<number>(() => {
      if (fail) throw new Error('disk full')
    })
    const first = Promise.allSettled([gc.add([1]), gc.add([2])])
    const results = await first
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    )
    fail = false
    await gc.add([3])
  })

  test('with an asynchronous commit, what arrives while one is in flight forms the next group', async () => {
    const commits: number[] = []
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const gc = new GroupCommit<number>(async (items) => {
      commits.push(items.length)
      if (commits.length === 1) await gate
    })
    const first = gc.add([1, 2])
    await new Promise((r) => setImmediate(r))
    const later = [gc.add([3]), gc.add([4]), gc.add([5])]
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(commits, [2], 'nothing else commits while the first is in flight')
    release()
    await Promise.all([first, ...later])
    assert.deepEqual(commits, [2, 3])
  })

  test('a commit never carries more than maxItems events, but never splits one caller', async () => {
    const commits: number[] = []
    const gc = new GroupCommit<number>(
      (items) => {
        commits.push(items.length)
      },
      { maxItems: 25 },
    )
    await Promise.all([
      gc.add(Array(10).fill(0)),
      gc.add(Array(10).fill(0)),
      gc.add(Array(10).fill(0)),
      gc.add(Array(40).fill(0)),
    ])
    assert.deepEqual(commits, [20, 10, 40])
  })

  test('a caller whose deadline passes while it waits behind the commit in flight is rejected then, and its items are never committed', async () => {
    const commits: number[][] = []
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const gc = new GroupCommit<number>(async (items) => {
      commits.push([...items])
      if (commits.length === 1) await gate
    })
    const first = gc.add([1])
    await new Promise((r) => setImmediate(r))
    const late = gc.add([2], { timeoutMs: 5, onTimeout: () => new Error('deadline') })
    const onTime = gc.add([3])
    // The first commit is still in flight (gated): the deadline alone rejects the second caller.
    await assert.rejects(late, /deadline/)
    assert.deepEqual(commits, [[1]])
    release()
    await Promise.all([first, onTime])
    assert.deepEqual(commits, [[1], [3]], 'the timed-out items were dropped from the queue')
  })

  test('a caller in flight when its deadline passes is rejected then, whatever the commit does later', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const gc = new GroupCommit<number>(() => gate)
    const pending = gc.add([1], { timeoutMs: 5, onTimeout: () => new Error('deadline') })
    await assert.rejects(pending, /deadline/)
    release()
    await gc.drain()
  })

  test('a commit stays under maxSize, except a single caller larger than it', async () => {
    const commits: number[][] = []
    const gc = new GroupCommit<number>(
      (items) => {
        commits.push([...items])
      },
      { maxSize: 10, sizeOf: (n) => n },
    )
    await Promise.all([gc.add([3, 3]), gc.add([4]), gc.add([2]), gc.add([20]), gc.add([1])])
    assert.deepEqual(commits, [[3, 3, 4], [2], [20], [1]])
  })
})
