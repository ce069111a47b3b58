/**
 * The erasure's guarantees below the API: deleting a person's events from the SQLite log neither
 * makes a consumer skip nor re-read anyone else's; a processor's commit that raced an erasure is
 * refused on both store backends; an erased profile's cached copy is deleted, not kept as a fallback.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { MemoryCache } from '../../src/content/cache/memory-cache.ts'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteEventLog } from '../../src/log/sqlite-event-log.ts'
import { type BatchStore, ProfileConflictError } from '../../src/pipeline/batch-store.ts'
import { PgBatchStore } from '../../src/pipeline/pg-batch-store.ts'
import { SqliteBatchStore } from '../../src/pipeline/sqlite-batch-store.ts'
import { identityHash } from '../../src/privacy/erasure-plan.ts'
import { ProfileReader } from '../../src/profiles/profile-reader.ts'
import type { StoredProfile } from '../../src/profiles/profile-store.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'
import { tempDir } from '../helpers/app.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { changes } from '../pipeline/batch-store-suite.ts'

const event = (i: number, userId: string): InkEvent => ({
  type: 'track',
  event: 'Viewed',
  messageId: `m${i}`,
  workspaceId: 'w',
  userId,
  timestamp: new Date(1_800_000_000_000 + i).toISOString(),
  receivedAt: new Date(1_800_000_000_000 + i).toISOString(),
})

/** Consumes `group` until it has read everything appended; answers the records it was handed. */
async function drain(log: SqliteEventLog, group: string, stopAfter?: number): Promise<LogRecord[]> {
  const got: LogRecord[] = []
  let resolve: () => void = () => {}
  const done = new Promise<void>((r) => {
    resolve = r
  })
  const consumer = log.consume(
    group,
    async (records) => {
      got.push(...records)
      if (stopAfter !== undefined && got.length >= stopAfter) resolve()
    },
    { maxBatch: 5 },
  )
  const poll = setInterval(async () => {
    if (stopAfter === undefined && (await log.lag(group)) === 0) resolve()
  }, 10)
  await done
  clearInterval(poll)
  await consumer.close()
  return got
}

test("erasing a person's events from the SQLite log: no consumer skips or re-reads anyone else's", async () => {
  const dir = tempDir('inkstream-erase-log-')
  const db = openSqlite(join(dir, 'log.db'))
  // Chunks of 4 offsets: the erasure runs as several statements, across chunk boundaries.
  const log = new SqliteEventLog(db, { pollMs: 10, eraseChunk: 4 })
  try {
    const users = ['ann', 'bob', 'cy']
    await log.append(Array.from({ length: 30 }, (_, i) => event(i, users[i % 3]!)))
    // Group `a` has read (and committed) the first 10; group `b` has read nothing yet.
    const first = await drain(log, 'a', 10)
    assert.equal(first.length, 10)
    const erased = await log.eraseEvents('w', ['ann'])
    assert.equal(erased, 10)
    await log.append([event(30, 'bob'), event(31, 'cy')])
    const rest = await drain(log, 'a')
    const all = await drain(log, 'b')
    const ids = (rs: LogRecord[]) => rs.map((r) => r.event.messageId)
    const notAnn = (from: number) =>
      Array.from({ length: 32 }, (_, i) => i)
        .filter((i) => i >= from && (i >= 30 || i % 3 !== 0))
        .map((i) => `m${i}`)
    // `a` goes on right after what it had read: every other event once, in order, none of ann's.
    assert.deepEqual(ids(rest), notAnn(first.length))
    assert.deepEqual(ids(all), notAnn(0))
    const offsets = rest.map((r) => r.offset)
    assert.deepEqual(
      offsets,
      [...offsets].sort((x, y) => x - y),
    )
    assert.ok(offsets[0]! > first.at(-1)!.offset)
    assert.equal(await log.lag('a'), 0)
  } finally {
    await log.close()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

/** A processor batch that read before an erasure: its commit is refused; one that saw it commits. */
async function raceSuite(
  open: () => Promise<{ store: BatchStore; tombstone(): Promise<void>; close(): Promise<void> }>,
) {
  const { store, tombstone, close } = await open()
  try {
    assert.deepEqual(await store.tombstonesAfter?.(0), [])
    await tombstone()
    const seen = await store.tombstonesAfter!(0)
    assert.equal(seen.length, 1)
    assert.equal(seen[0]!.idHash, identityHash('w', 'ann'))
    await assert.rejects(store.commit(changes({ erasureSeq: 0 })), ProfileConflictError)
    await store.commit(changes({ erasureSeq: seen[0]!.seq }))
    // A store user that does not take part (no erasureSeq) is not checked.
    await store.commit(changes({}))
    assert.deepEqual(await store.tombstonesAfter!(seen[0]!.seq), [])
  } finally {
    await close()
  }
}

const pgSkipped = await pgSkip()

const TOMBSTONE = 'INSERT INTO privacy_tombstones (workspace_id, id_hash, erased_at) VALUES'

describe('a commit that raced an erasure is refused', () => {
  test('SqliteBatchStore', async () => {
    const dir = tempDir('inkstream-erase-race-')
    const db = openSqlite(join(dir, 'store.db'))
    await raceSuite(async () => ({
      store: new SqliteBatchStore(db),
      tombstone: async () => {
        db.prepare(`${TOMBSTONE} (?, ?, ?)`).run('w', identityHash('w', 'ann'), Date.now())
      },
      close: async () => {
        db.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }))
  })

  test('PgBatchStore', { skip: pgSkipped }, async () => {
    const schema = await freshSchema()
    const pool = schema.connect()
    await raceSuite(async () => {
      const store = new PgBatchStore(pool)
      await store.ready()
      return {
        store,
        tombstone: async () => {
          await pool.query(`${TOMBSTONE} ($1, $2, $3)`, ['w', identityHash('w', 'ann'), Date.now()])
        },
        close: () => schema.drop(),
      }
    })
  })
})

test('an erased profile is deleted from the profile cache: a failing store then serves nothing, not a stale copy', async () => {
  const clock = { now: () => 1_800_000_000_000 }
  const cache = new MemoryCache({ clock })
  let gone = false
  let failing = false
  const profile: StoredProfile = {
    workspaceId: 'w',
    profileId: 'p1',
    userId: 'ann',
    state: { ...emptyState(), traits: { email: 'ann@example.com' } },
    version: 1,
    createdAt: 0,
    updatedAt: 0,
    lastEventReceivedAt: 0,
  }
  const store = {
    findProfileId: async (_ws: string, kind: string, value: string) => {
      if (failing) throw new Error('store down')
      return !gone && kind === 'userId' && value === 'ann' ? 'p1' : undefined
    },
    getProfile: async () => (gone ? undefined : profile),
    identities: async () => [],
    close: async () => {},
  }
  // ttl 0: every read asks the store; the cached copy is only the fallback.
  const reader = new ProfileReader({ store, traits: [], cache, clock, ttlMs: 0, staleMs: 600_000 })
  assert.equal((await reader.read('w', 'ann', { timeoutMs: 1000 })).outcome, 'live')
  assert.equal((await cache.get('profile:w:ann'))?.value !== undefined, true)
  gone = true
  await reader.forget('w', ['ann'])
  failing = true
  const after = await reader.read('w', 'ann', { timeoutMs: 1000 })
  assert.equal(after.outcome, 'error')
  assert.equal(after.traits, undefined)
  assert.equal(await cache.get('profile:w:ann'), undefined)
})

test('a profile the store no longer has loses its cached copy at the next read (another process erased it)', async () => {
  const clock = { now: () => 1_800_000_000_000 }
  const cache = new MemoryCache({ clock })
  let gone = false
  let failing = false
  const store = {
    findProfileId: async () => {
      if (failing) throw new Error('store down')
      return gone ? undefined : 'p1'
    },
    getProfile: async (): Promise<StoredProfile | undefined> =>
      gone
        ? undefined
        : {
            workspaceId: 'w',
            profileId: 'p1',
            userId: 'ann',
            state: { ...emptyState(), traits: { email: 'ann@example.com' } },
            version: 1,
            createdAt: 0,
            updatedAt: 0,
            lastEventReceivedAt: 0,
          },
    identities: async () => [],
    close: async () => {},
  }
  const reader = new ProfileReader({ store, traits: [], cache, clock, ttlMs: 0, staleMs: 600_000 })
  assert.equal((await reader.read('w', 'ann', { timeoutMs: 1000 })).outcome, 'live')
  gone = true
  assert.equal((await reader.read('w', 'ann', { timeoutMs: 1000 })).outcome, 'not-found')
  failing = true
  assert.equal((await reader.read('w', 'ann', { timeoutMs: 1000 })).outcome, 'error')
})
