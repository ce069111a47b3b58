/**
 * The SQLite log's own options and commit points, case by case, beyond the shared EventLog suite:
 * a consumer's offset commits (interval, idle, close), onAssigned, retries, retention on a mocked
 * interval and an injected clock, wake-ups (with a poll interval too long to ever fire), the writer
 * path, failpoints at the commit boundaries, and record limits.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, test } from 'node:test'
import { ArmedFailpoints } from '../../src/core/failpoints.ts'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import type { LogRow } from '../../src/log/log-writer.ts'
import { SqliteEventLog, type SqliteEventLogOptions } from '../../src/log/sqlite-event-log.ts'
import { tempDir } from '../helpers/app.ts'

const T = 1_800_000_000_000
const event = (i: number, receivedAt = T + i, extra: Record<string, unknown> = {}): InkEvent => ({
  type: 'track',
  event: 'Tested',
  messageId: `m${i}`,
  workspaceId: 'w',
  userId: 'u',
  properties: { i, ...extra },
  timestamp: new Date(receivedAt).toISOString(),
  receivedAt: new Date(receivedAt).toISOString(),
})

const dirs: string[] = []
const dbs: SqliteDatabase[] = []
function openDb(dir = tempDir('inkstream-sqlite-log-')): { db: SqliteDatabase; dir: string } {
  if (!dirs.includes(dir)) dirs.push(dir)
  const db = openSqlite(join(dir, 'log.db'))
  dbs.push(db)
  return { db, dir }
}
function openLog(opts: SqliteEventLogOptions = {}, dir?: string) {
  const { db, dir: d } = openDb(dir)
  return { log: new SqliteEventLog(db, { pollMs: 20, ...opts }), db, dir: d }
}
afterEach(() => {
  for (const db of dbs.splice(0)) if (db.open) db.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const nextTurn = () => new Promise((r) => setImmediate(r))
/** Waits (bounded) until `check` holds; fails with `what` otherwise. Asserts no duration. */
async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 5))
  }
  assert.fail(`never happened: ${what}`)
}
const ids = (records: readonly LogRecord[]) => records.map((r) => r.event.messageId)
const rowIds = (db: SqliteDatabase) =>
  (db.prepare('SELECT message_id FROM log_events ORDER BY offset').pluck().all() as string[]).join(',')

describe('SQLite log consumer offsets', { timeout: 20_000 }, () => {
  test('within commitIntervalMs a handled batch is not committed; the idle consumer then commits its position', async () => {
    const { log } = openLog()
    await log.append([event(1), event(2), event(3)])
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const seen: string[] = []
    const consumer = log.consume(
      'g',
      async (records) => {
        seen.push(...ids(records))
        if (seen.length === 3) await gate
      },
      { maxBatch: 1, commitIntervalMs: 1_000_000_000 },
    )
    await eventually('the third batch reached the handler', () => seen.length === 3)
    // m1 was committed (first commit), m2 handled but within the interval, m3 in the handler.
    assert.equal(await log.lag('g'), 2)
    release()
    await eventually('the idle consumer committed m3', async () => (await log.lag('g')) === 0)
    await consumer.close()
    await log.close()
  })

  test('a consumer closed right after a batch commits the position it reached', async () => {
    const { log } = openLog()
    await log.append([event(1), event(2)])
    let closing: Promise<void> | undefined
    const consumer = log.consume(
      'g',
      async (records) => {
        if (ids(records)[0] === 'm2') closing = consumer.close()
      },
      { maxBatch: 1, commitIntervalMs: 1_000_000_000 },
    )
    await eventually('close was called', () => closing !== undefined)
    await closing
    assert.equal(await log.lag('g'), 0)
    await log.close()
  })

  test('a position commit that finds the database locked is tried again later; the consumer neither stops nor throws', async () => {
    const { log, db, dir } = openLog()
    await log.append([event(1), event(2)])
    // Another connection holds the write lock, and the log's own gives up at once (in production
    // after its 5 s busy_timeout, seen under heavy load): the commit of the position fails.
    db.pragma('busy_timeout = 0')
    const other = openSqlite(join(dir, 'log.db'))
    dbs.push(other)
    other.exec('BEGIN IMMEDIATE')
    const seen: string[] = []
    const consumer = log.consume('g', async (records) => {
      seen.push(...ids(records))
    })
    await eventually('the batch was handled', () => seen.length === 2)
    await eventually('a position commit found the lock', () => log.busyPositionCommits >= 2)
    assert.equal(await log.lag('g'), 2)
    other.exec('COMMIT')
    // The idle consumer stores the position it kept in memory; nothing is delivered twice.
    await eventually('the position was stored', async () => (await log.lag('g')) === 0)
    assert.deepEqual(seen, ['m1', 'm2'])
    await consumer.close()
    await log.close()
  })

  test('with lingerMs, a consumer that lingered after a small batch goes on to the next one', async () => {
    const { log } = openLog()
    await log.append([event(1)])
    const seen: string[] = []
    const consumer = log.consume('g', async (records) => void seen.push(...ids(records)), { lingerMs: 1 })
    await eventually('the first batch was handled', () => seen.length === 1)
    await log.append([event(2)])
    await eventually('the batch after the linger was handled', () => seen.length === 2)
    await consumer.close()
    await log.close()
  })

  test('lingerMs is a least interval between reads: appends within it make one batch, one after a longer spell is read at once', async () => {
    const { log } = openLog()
    const batches: string[][] = []
    const handled = new Map<string, number>()
    let slow = true
    const consumer = log.consume(
      'g',
      async (records) => {
        batches.push(ids(records))
        for (const id of ids(records)) handled.set(id, performance.now())
        // The first batch takes longer than the interval: the next read is not held back at all.
        if (slow) {
          slow = false
          await new Promise((r) => setTimeout(r, 1_200))
        }
      },
      { lingerMs: 1_000 },
    )
    await log.append([event(1)])
    await eventually('the first batch was handled', () => handled.has('m1'))
    // Appended while the first batch's handler still runs, 1.2 s long, past the interval.
    await new Promise((r) => setTimeout(r, 1_300))
    const appendedAt = performance.now()
    await log.append([event(2)])
    await eventually('m2 was handled', () => handled.has('m2'))
    // A sleep after each small batch (what lingerMs was) would have held m2 for the whole second.
    assert.ok(
      handled.get('m2')! - appendedAt < 500,
      `m2 read ${handled.get('m2')! - appendedAt} ms after its append`,
    )
    // Two appends right after a read: the second read waits for the interval and takes both.
    await log.append([event(3)])
    await log.append([event(4)])
    await eventually('m3 and m4 were handled', () => handled.has('m4'))
    await consumer.close()
    await log.close()
    assert.deepEqual(batches.slice(2), [['m3', 'm4']], `batches: ${JSON.stringify(batches)}`)
  })

  test('onAssigned runs once, before the first batch', async () => {
    const { log } = openLog()
    await log.append([event(1), event(2)])
    const order: string[] = []
    const consumer = log.consume('g', async (records) => void order.push(...ids(records)), {
      maxBatch: 1,
      onAssigned: async () => void order.push('assigned'),
    })
    await eventually('both batches handled', () => order.length === 3)
    await consumer.close()
    assert.deepEqual(order, ['assigned', 'm1', 'm2'])
    await log.close()
  })

  test('a failing handler without onError or retryDelayMs gets the batch again', async () => {
    const { log } = openLog()
    await log.append([event(1)])
    const seen: string[] = []
    const consumer = log.consume('g', async (records) => {
      seen.push(...ids(records))
      if (seen.length === 1) throw new Error('handler failed once')
    })
    await eventually('the batch was delivered again', () => seen.length === 2)
    assert.deepEqual(seen, ['m1', 'm1'])
    await consumer.close()
    await log.close()
  })

  test('a failure between the handler and the offset commit redelivers the batch', async () => {
    const failpoints = new ArmedFailpoints({ 'log.consume.before-offset-commit': 'throw' })
    const { log } = openLog({ failpoints })
    await log.append([event(1)])
    const seen: string[] = []
    const consumer = log.consume(
      'g',
      async (records) => {
        seen.push(...ids(records))
      },
      { retryDelayMs: () => 0, onError: () => failpoints.disarm('log.consume.before-offset-commit') },
    )
    await eventually('the batch was delivered again', () => seen.length === 2)
    assert.deepEqual(seen, ['m1', 'm1'])
    await consumer.close()
    await log.close()
  })
})

describe('SQLite log retention on its timer', () => {
  test('the retention timer prunes passed events older than retentionMs, and keeps newer ones', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const { log, db } = openLog({ retentionMs: 1000, clock: { now: () => T } })
    await log.append([event(1, T - 2000), event(2, T - 500)])
    const consumer = log.consume('g', async () => {})
    await eventually('the group passed both events', async () => (await log.lag('g')) === 0)
    await consumer.close()
    t.mock.timers.tick(999)
    assert.equal(rowIds(db), 'm1,m2')
    t.mock.timers.tick(1)
    assert.equal(rowIds(db), 'm2')
    await log.close()
  })

  test('by default, passed events are kept seven days and pruned within ten minutes after', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const day = 24 * 3600_000
    const { log, db } = openLog({ clock: { now: () => T } })
    await log.append([event(1, T - 8 * day), event(2, T - 6.9 * day)])
    const consumer = log.consume('g', async () => {})
    await eventually('the group passed both events', async () => (await log.lag('g')) === 0)
    await consumer.close()
    t.mock.timers.tick(600_000)
    assert.equal(rowIds(db), 'm2')
    await log.close()
  })
})

describe('SQLite log wake-ups and close', { timeout: 20_000 }, () => {
  // pollMs is far longer than the test may run: only a wake-up can deliver the events.
  const never = 1_000_000_000

  test('an append wakes an idle consumer and calls onAppend once per commit', async () => {
    let appends = 0
    const { log } = openLog({ pollMs: never, onAppend: () => void appends++ })
    const seen: string[] = []
    const consumer = log.consume('g', async (records) => void seen.push(...ids(records)))
    await nextTurn()
    await log.append([event(1), event(2)])
    assert.equal(appends, 1)
    await eventually('the idle consumer was woken', () => seen.length === 2)
    await consumer.close()
    await log.close()
  })

  test('notify wakes an idle consumer for events another connection appended; close does not wait for a poll', async () => {
    const { log, dir } = openLog({ pollMs: never })
    const other = openLog({ pollMs: never }, dir).log
    const seen: string[] = []
    log.consume('g', async (records) => void seen.push(...ids(records)))
    await nextTurn()
    await other.append([event(1)])
    for (let i = 0; i < 20; i++) await nextTurn()
    assert.deepEqual(seen, [])
    log.notify()
    await eventually('notify woke the consumer', () => seen.length === 1)
    await other.close()
    await log.close() // closes the idle consumer: hangs here if it has to wait for the poll
    assert.deepEqual(seen, ['m1'])
  })

  test('after close, an append is refused even while the database is still open', async () => {
    const { log, db } = openLog()
    await log.close()
    await assert.rejects(log.append([event(1)]), { code: 'INK_ERR_LOG_UNAVAILABLE' })
    assert.equal(rowIds(db), '')
  })
})

describe('SQLite log commit path', { timeout: 20_000 }, () => {
  test('with a writer, append hands it the rows and resolves only once the writer has', async () => {
    const writes: (readonly LogRow[])[] = []
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const { log, db } = openLog({
      writer: {
        write: async (rows) => {
          writes.push(rows)
          await gate
        },
      },
    })
    let acked = false
    const appended = log.append([event(1)]).then(() => {
      acked = true
    })
    await eventually('the writer got the rows', () => writes.length === 1)
    for (let i = 0; i < 10; i++) await nextTurn()
    assert.equal(acked, false)
    assert.equal(rowIds(db), '', 'the log connection itself writes nothing')
    const [row] = writes[0] ?? []
    assert.deepEqual(row?.slice(0, 3), ['w', 'm1', T + 1])
    assert.equal(JSON.parse(String(row?.[3])).messageId, 'm1')
    release()
    await appended
    await log.close()
  })

  test('a writer failure and a database failure both reject the append as INK_ERR_LOG_UNAVAILABLE', async () => {
    const broken = openLog({ writer: { write: async () => Promise.reject(new Error('writer thread died')) } })
    await assert.rejects(broken.log.append([event(1)]), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'INK_ERR_LOG_UNAVAILABLE')
      assert.match(String((err.cause as Error).message), /writer thread died/)
      return true
    })
    const { log, db } = openLog()
    db.close()
    await assert.rejects(log.append([event(2)]), { code: 'INK_ERR_LOG_UNAVAILABLE' })
  })

  for (const withWriter of [false, true]) {
    const how = withWriter ? 'with a writer' : 'on its own connection'
    test(`${how}: a hang before the commit writes nothing; a hang after it leaves the events durable but unacknowledged`, async () => {
      for (const point of ['log.append.before-commit', 'log.append.after-commit'] as const) {
        const failpoints = new ArmedFailpoints({ [point]: 'hang' })
        const written: string[] = []
        const { log, db } = openLog({
          failpoints,
          ...(withWriter
            ? { writer: { write: async (rows) => void written.push(...rows.map((r) => r[1])) } }
            : {}),
        })
        let acked = false
        log.append([event(1)]).then(() => {
          acked = true
        })
        for (let i = 0; i < 10; i++) await nextTurn()
        assert.equal(acked, false, point)
        const durable = withWriter ? written.join(',') : rowIds(db)
        assert.equal(durable, point === 'log.append.before-commit' ? '' : 'm1', point)
      }
    })
  }
})

describe('SQLite log record limit', () => {
  test('maxRecordBytes refuses a larger event with a 400; the default refuses one over 8 MiB', async () => {
    const small = openLog({ maxRecordBytes: 300 })
    await assert.rejects(small.log.append([event(1, T, { pad: 'x'.repeat(400) })]), {
      code: 'INK_ERR_EVENT_UNSERIALIZABLE',
      statusCode: 400,
    })
    const dflt = openLog()
    await dflt.log.append([event(2, T, { pad: 'x'.repeat(8 * 1024 * 1024 - 400) })])
    await assert.rejects(dflt.log.append([event(3, T, { pad: 'x'.repeat(8 * 1024 * 1024) })]), {
      code: 'INK_ERR_EVENT_UNSERIALIZABLE',
    })
    assert.equal(rowIds(dflt.db), 'm2')
    await small.log.close()
    await dflt.log.close()
  })
})
