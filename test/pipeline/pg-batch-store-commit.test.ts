/**
 * PgBatchStore's commit as one of several processors (scale-out): what only a multi-writer
 * store does, so not in the shared seam suite. The expectations (what the batch read) refuse a
 * stale commit with ProfileConflictError and write nothing; the workspace advisory lock orders a
 * commit against a backfill step; the statements are prepared once per connection.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import pg from 'pg'
import { openPg, type PgPool } from '../../src/db/pg.ts'
import { dedupeKey, ProfileConflictError } from '../../src/pipeline/batch-store.ts'
import { PgBatchStore } from '../../src/pipeline/pg-batch-store.ts'
import { workspaceLock } from '../../src/segments/pg-segment-schema.ts'
import { PgSegmentStore } from '../../src/segments/pg-segment-store.ts'
import { freshSchema, PG_URL, type PgSchema, pgSkip } from '../helpers/pg.ts'
import { changes, profile } from './batch-store-suite.ts'

const skip = await pgSkip()
const T0 = 1_800_000_000_000

/** Rejects with a ProfileConflictError about `what`. */
const conflict = (what: string) => (err: unknown) => {
  assert.ok(err instanceof ProfileConflictError, String(err))
  assert.equal(err.what, what)
  return true
}

describe('PgBatchStore commit with several writers', { skip }, () => {
  let schema: PgSchema
  let pool: PgPool
  let store: PgBatchStore
  const clock = { now: () => T0 }
  beforeEach(async () => {
    schema = await freshSchema()
    // One connection: the prepared statements test looks at that session's statements.
    pool = schema.connect(1)
    store = new PgBatchStore(pool, { clock })
    await store.ready()
  })
  afterEach(() => schema.drop())

  test('a stale upsert is refused as "a profile" and writes nothing, applied offsets included', async () => {
    await store.commit(changes({ upserts: [profile('p1')] }))
    // Another processor moved p1 to version 2 since this batch read version 1.
    await store.commit(changes({ upserts: [profile('p1', { version: 2, userId: 'theirs' })] }))
    await assert.rejects(
      store.commit(
        changes({
          upserts: [profile('p1', { version: 2, userId: 'mine' })],
          offsets: [{ group: 'profiles', partition: 0, offset: 5 }],
          expectedProfiles: [{ workspaceId: 'w', profileId: 'p1', version: 1 }],
        }),
      ),
      conflict('a profile'),
    )
    assert.equal((await store.getProfile('w', 'p1'))?.userId, 'theirs')
    assert.deepEqual(await store.appliedOffsets('profiles'), new Map())
  })

  test('a merge whose merged-away profile changed or vanished since the batch read it is refused', async () => {
    await store.commit(changes({ upserts: [profile('anon'), profile('known')] }))
    const merge = (anonVersion: number) =>
      changes({
        upserts: [profile('known', { version: 2 })],
        deletes: [{ workspaceId: 'w', profileId: 'anon' }],
        offsets: [{ group: 'profiles', partition: 0, offset: 9 }],
        expectedProfiles: [
          { workspaceId: 'w', profileId: 'known', version: 1 },
          { workspaceId: 'w', profileId: 'anon', version: anonVersion },
        ],
      })
    // Another processor applied an event to the anonymous profile: version 2.
    await store.commit(changes({ upserts: [profile('anon', { version: 2 })] }))
    await assert.rejects(store.commit(merge(1)), conflict('profile anon'))
    assert.equal((await store.getProfile('w', 'anon'))?.version, 2)
    assert.equal((await store.getProfile('w', 'known'))?.version, 1)
    assert.deepEqual(await store.appliedOffsets('profiles'), new Map())
    // Read again: the merge goes through.
    await store.commit(merge(2))
    assert.equal(await store.getProfile('w', 'anon'), undefined)
    assert.equal((await store.getProfile('w', 'known'))?.version, 2)
    // A profile another processor already merged away (deleted) is refused too.
    await store.commit(changes({ upserts: [profile('other')] }))
    await assert.rejects(
      store.commit(
        changes({
          upserts: [profile('other', { version: 2 })],
          deletes: [{ workspaceId: 'w', profileId: 'anon' }],
          expectedProfiles: [
            { workspaceId: 'w', profileId: 'other', version: 1 },
            { workspaceId: 'w', profileId: 'anon', version: 2 },
          ],
        }),
      ),
      conflict('profile anon'),
    )
    assert.equal((await store.getProfile('w', 'other'))?.version, 1)
  })

  test('an identity bound to another profile since the batch read it refuses the commit', async () => {
    await store.commit(
      changes({
        upserts: [profile('p1'), profile('p2')],
        identities: [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'p1' }],
      }),
    )
    // Another processor rebound u1 to p2.
    await store.commit(
      changes({ identities: [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'p2' }] }),
    )
    await assert.rejects(
      store.commit(
        changes({
          upserts: [profile('p1', { version: 2 })],
          identities: [{ workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'p1' }],
          offsets: [{ group: 'profiles', partition: 0, offset: 3 }],
          expectedProfiles: [{ workspaceId: 'w', profileId: 'p1', version: 1 }],
          expectedIdentities: [
            { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: null },
            { workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'p1' },
          ],
        }),
      ),
      conflict('the profile of userId "u1"'),
    )
    assert.equal(await store.findProfileId('w', 'userId', 'u1'), 'p2')
    assert.equal(await store.findProfileId('w', 'anonymousId', 'a1'), undefined)
    assert.equal((await store.getProfile('w', 'p1'))?.version, 1)
    assert.deepEqual(await store.appliedOffsets('profiles'), new Map())
  })

  test('an identity another processor bound since the batch saw it unbound refuses the commit', async () => {
    await store.commit(
      changes({
        upserts: [profile('theirs')],
        identities: [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'theirs' }],
      }),
    )
    await assert.rejects(
      store.commit(
        changes({
          upserts: [profile('mine')],
          identities: [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'mine' }],
          expectedProfiles: [],
          expectedIdentities: [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: null }],
        }),
      ),
      conflict('a new identity'),
    )
    assert.equal(await store.findProfileId('w', 'userId', 'u1'), 'theirs')
    assert.equal(await store.getProfile('w', 'mine'), undefined)
  })

  test('two asked messageIds stored as one (a NUL replaced) are both answered as seen', async () => {
    await store.commit(changes({ messageIds: [{ workspaceId: 'w', messageId: 'a\u0000b' }] }))
    const seen = await store.seenMessageIds([
      { workspaceId: 'w', messageId: 'a\u0000b' },
      { workspaceId: 'w', messageId: 'a\uFFFDb' },
    ])
    assert.deepEqual([...seen].sort(), [dedupeKey('w', 'a\u0000b'), dedupeKey('w', 'a\uFFFDb')].sort())
  })

  test('a commit waits while a backfill step holds the lock of a workspace it touches', async () => {
    const backfill = new pg.Client({ connectionString: PG_URL })
    await backfill.connect()
    try {
      await backfill.query('BEGIN')
      const key = BigInt(workspaceLock('w2'))
      await backfill.query(`SELECT pg_advisory_xact_lock(${key})`)
      const committing = store.commit(
        changes({
          upserts: [
            profile('p1'),
            profile('p2', { workspaceId: 'w2' }),
            profile('p3', { workspaceId: 'w3' }),
          ],
        }),
      )
      // Either the commit finishes (it took no lock) or it shows up waiting on an advisory lock.
      let done = false
      const finished = committing.then(() => 'committed' as const)
      const stop = () => {
        done = true
      }
      committing.then(stop, stop)
      const waiting = (async () => {
        while (!done) {
          const { rows } = await backfill.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
               AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1`,
            [Number((key >> 32n) & 0xffffffffn), Number(key & 0xffffffffn)],
          )
          if (rows[0]!.n > 0) return 'waiting' as const
        }
        return 'committed' as const
      })()
      assert.equal(await Promise.race([finished, waiting]), 'waiting')
      assert.equal(done, false)
      await backfill.query('COMMIT')
      await committing
      assert.equal((await store.getProfile('w2', 'p2'))?.version, 1)
      assert.equal((await store.getProfile('w3', 'p3'))?.version, 1)
    } finally {
      await backfill.end()
    }
  })

  test('a commit writes its profiles in key order, whatever the order of the batch (two commits wait, never deadlock)', async () => {
    await store.commit(changes({ upserts: [profile('p1'), profile('p2'), profile('p3')] }))
    const other = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema.name}` })
    await other.connect()
    try {
      // Another transaction holds p3.
      await other.query('BEGIN')
      await other.query("SELECT 1 FROM profiles WHERE profile_id = 'p3' FOR UPDATE")
      const { rows } = await other.query<{ xid: string }>('SELECT txid_current()::text AS xid')
      const committing = store.commit(
        changes({
          upserts: [
            profile('p1', { version: 2 }),
            profile('p3', { version: 2 }),
            profile('p2', { version: 2 }),
          ],
        }),
      )
      let done = false
      void committing.then(
        () => {
          done = true
        },
        () => {
          done = true
        },
      )
      // Until the commit waits for that transaction.
      for (;;) {
        const w = await other.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted
             AND transactionid::text = $1`,
          [rows[0]!.xid],
        )
        if (w.rows[0]!.n > 0 || done) break
      }
      assert.equal(done, false)
      // In key order, the commit already holds p1 and p2 while it waits for p3.
      await other.query('SAVEPOINT s')
      for (const id of ['p1', 'p2']) {
        await assert.rejects(
          other.query(`SELECT 1 FROM profiles WHERE profile_id = '${id}' FOR UPDATE NOWAIT`),
          /could not obtain lock/,
        )
        await other.query('ROLLBACK TO SAVEPOINT s')
      }
      await other.query('COMMIT')
      await committing
      assert.deepEqual(
        await Promise.all(['p1', 'p2', 'p3'].map(async (id) => (await store.getProfile('w', id))?.version)),
        [2, 2, 2],
      )
    } finally {
      await other.end()
    }
  })

  test('a commit takes its workspace locks in key order, as a backfill step expects', async () => {
    // Key order is neither name order nor its reverse: workspaceLock('w2') < ('w') < ('w3').
    const [w, w2, w3] = [BigInt(workspaceLock('w')), BigInt(workspaceLock('w2')), BigInt(workspaceLock('w3'))]
    assert.ok(w2 < w && w < w3)
    const backfill = new pg.Client({ connectionString: PG_URL })
    await backfill.connect()
    try {
      await backfill.query('BEGIN')
      await backfill.query(`SELECT pg_advisory_xact_lock(${w})`)
      const committing = store.commit(
        changes({
          upserts: [
            profile('p1'),
            profile('p2', { workspaceId: 'w2' }),
            profile('p3', { workspaceId: 'w3' }),
          ],
        }),
      )
      const locks = (key: bigint, granted: boolean) =>
        backfill
          .query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted = $3
               AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1 AND pid <> pg_backend_pid()`,
            [Number((key >> 32n) & 0xffffffffn), Number(key & 0xffffffffn), granted],
          )
          .then((r) => r.rows[0]!.n)
      let done = false
      const stop = () => {
        done = true
      }
      committing.then(stop, stop)
      while (!done && (await locks(w, false)) === 0) {}
      assert.equal(done, false, 'the commit waits for the backfill step')
      // Waiting for w, the commit holds w2 (the lower key), shared, and not yet w3.
      assert.equal(await locks(w2, true), 1)
      assert.equal(await locks(w3, true), 0)
      await backfill.query('COMMIT')
      await committing
      assert.equal((await store.getProfile('w2', 'p2'))?.version, 1)
    } finally {
      await backfill.end()
    }
  })

  test('an upsert without membership rows queues rescans; membership rows without upserts are written', async () => {
    const segments = new PgSegmentStore(pool, { clock })
    await segments.put('w', 'all', { condition: {} })
    await store.commit(changes({ upserts: [profile('p1')] }))
    const { rows } = await pool.query('SELECT workspace_id, segment_id, profile_id FROM segment_rescans')
    assert.deepEqual(rows, [{ workspace_id: 'w', segment_id: 'all', profile_id: 'p1' }])
    await store.commit(
      changes({
        memberships: [
          {
            workspaceId: 'w',
            segmentId: 'all',
            version: 1,
            profileId: 'p1',
            userId: null,
            email: 'a@x.io',
            member: true,
          },
        ],
      }),
    )
    assert.equal(await segments.isMember('w', 'all', 'p1'), true)
  })

  test('the store runs its statements as named prepared statements and records its migration', async () => {
    await store.commit(
      changes({
        upserts: [profile('p1'), profile('gone')],
        identities: [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'p1' }],
      }),
    )
    await store.commit(
      changes({
        upserts: [profile('p1', { version: 2 })],
        deletes: [{ workspaceId: 'w', profileId: 'gone' }],
        identities: [{ workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'p1' }],
        expectedProfiles: [
          { workspaceId: 'w', profileId: 'p1', version: 1 },
          { workspaceId: 'w', profileId: 'gone', version: 1 },
        ],
        expectedIdentities: [
          { workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'p1' },
          { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: null },
        ],
      }),
    )
    await store.findProfileId('w', 'userId', 'u1')
    await store.getProfile('w', 'p1')
    await store.seenMessageIds([{ workspaceId: 'w', messageId: 'm' }])
    const { rows } = await pool.query<{ name: string }>(
      "SELECT name FROM pg_prepared_statements WHERE name LIKE 'ink-profiles-%' OR name LIKE 'ink-identities-%' ORDER BY name",
    )
    assert.deepEqual(
      rows.map((r) => r.name),
      [
        'ink-identities-check',
        'ink-identities-claim',
        'ink-profiles-check',
        'ink-profiles-commit',
        'ink-profiles-delete',
        'ink-profiles-find',
        'ink-profiles-get',
        'ink-profiles-move-events',
        'ink-profiles-seen',
      ],
    )
    const migrations = await pool.query(
      "SELECT step FROM schema_migrations WHERE name = 'pg-profile-store' ORDER BY step",
    )
    assert.deepEqual(migrations.rows, [{ step: 0 }, { step: 1 }, { step: 2 }])
  })
})

test('ready() rejects when the database cannot be reached', async () => {
  const pool = openPg('postgres://postgres@127.0.0.1:1/test', { max: 1 })
  try {
    await assert.rejects(new PgBatchStore(pool).ready(), /ECONNREFUSED|connect/)
  } finally {
    await pool.end()
  }
})
