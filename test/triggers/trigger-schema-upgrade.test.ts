/**
 * The trigger-job columns of issue 10 (attempts, first_failed_at, reason) reach databases created
 * before them: a store opened on a database at the previous schema step keeps its pending jobs,
 * reads them with no attempts yet, and can put them back to pending with a backoff.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { migratePg } from '../../src/db/pg.ts'
import { migrate, openSqlite } from '../../src/db/sqlite.ts'
import { MIGRATIONS as PG_STEPS } from '../../src/triggers/pg-trigger-schema.ts'
import { PgTriggerStore } from '../../src/triggers/pg-trigger-store.ts'
import { MIGRATIONS as SQLITE_STEPS } from '../../src/triggers/sqlite-trigger-schema.ts'
import { SqliteTriggerStore } from '../../src/triggers/sqlite-trigger-store.ts'
import type { TriggerStore } from '../../src/triggers/trigger-store.ts'
import { tempDir } from '../helpers/app.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'

const INSERT = `INSERT INTO trigger_jobs (workspace_id, job_id, trigger_id, profile_id, user_id, event_at, due_at,
  event, state, created_at, updated_at) VALUES ('ws', 'old', 'cart', 'p1', 'u1', 10, 20, '{"name":"x"}', 'pending', 10, 10)`

async function checkUpgraded(store: TriggerStore): Promise<void> {
  const [old] = await store.due(100, 10)
  assert.deepEqual(
    [old?.jobId, old?.state, old?.attempts, old?.firstFailedAt, old?.reason, old?.event],
    ['old', 'pending', 0, null, null, { name: 'x' }],
  )
  assert.equal(
    await store.retryLater('ws', 'old', 'pending', {
      dueAt: 30_100,
      attempts: 1,
      firstFailedAt: 100,
      detail: 'the profile could not be read',
      reason: 'profile_unreadable',
    }),
    true,
  )
  const got = await store.getJob('ws', 'old')
  assert.deepEqual([got?.dueAt, got?.attempts, got?.reason], [30_100, 1, 'profile_unreadable'])
}

const skip = await pgSkip()

describe('trigger job columns on an existing database', () => {
  test('SQLite: a database at the previous step is upgraded in place', async () => {
    const dir = tempDir()
    try {
      const db = openSqlite(join(dir, 'store.db'), 'normal')
      migrate(db, 'sqlite-triggers', SQLITE_STEPS.slice(0, SQLITE_STEPS.length - 1))
      db.exec(INSERT)
      await checkUpgraded(new SqliteTriggerStore(db))
      db.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('PostgreSQL: a database at the previous step is upgraded in place', { skip }, async () => {
    const schema = await freshSchema()
    try {
      const pool = schema.connect()
      await migratePg(pool, 'pg-triggers', PG_STEPS.slice(0, PG_STEPS.length - 1))
      await pool.query(INSERT)
      const store = new PgTriggerStore(pool)
      await store.ready()
      await checkUpgraded(store)
    } finally {
      await schema.drop()
    }
  })
})
