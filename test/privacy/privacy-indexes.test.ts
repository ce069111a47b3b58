/**
 * The queries erasure-resume.ts runs every minute read indexes on both backends, not the whole
 * audit (every export and erasure ever made) with a JSON predicate per row.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { openSqlite } from '../../src/db/sqlite.ts'
import { PENDING_ERASURES_PG } from '../../src/privacy/pg-privacy-store.ts'
import { migratePgPrivacy, migratePrivacy } from '../../src/privacy/privacy-schema.ts'
import { SQL } from '../../src/privacy/privacy-store.ts'
import { PENDING_ERASURES_SQLITE } from '../../src/privacy/sqlite-privacy-store.ts'
import { tempDir } from '../helpers/app.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'

const numbered = (sql: string) => {
  let i = 0
  return sql.replace(/\?/g, () => `$${++i}`)
}

describe('the indexes of the pending-erasure look-up', () => {
  test('SQLite: the pending erasures through privacy_audit_pending, their tombstones by workspace and time', () => {
    const db = openSqlite(join(tempDir('inkstream-privacy-idx-'), 'store.db'))
    try {
      migratePrivacy(db)
      const plan = (sql: string, ...args: unknown[]) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[])
          .map((r) => r.detail)
          .join('; ')
      assert.match(plan(PENDING_ERASURES_SQLITE, 0), /USING INDEX privacy_audit_pending\b/)
      assert.match(plan(SQL.erasureHashes, 'w', 0), /USING INDEX privacy_tombstones_by_erasure\b/)
    } finally {
      db.close()
    }
  })

  test('PostgreSQL: the same, usable by the planner', async (t) => {
    const skip = await pgSkip()
    if (skip) return t.skip(skip)
    const schema = await freshSchema()
    try {
      const pool = schema.connect(1)
      await migratePgPrivacy(pool)
      const client = await pool.connect()
      try {
        // Empty tables read fastest without an index: forbid the scan to see whether one is usable.
        await client.query('SET enable_seqscan = off')
        const plan = async (sql: string, params: unknown[]) =>
          (await client.query(`EXPLAIN ${sql}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n')
        const pending = await plan(PENDING_ERASURES_PG, [0])
        assert.match(pending, /privacy_audit_pending\b/)
        // The index holds the pending ones only: no row of it is read to be filtered out by its JSON.
        assert.doesNotMatch(pending, /Filter:.*details/)
        assert.match(await plan(numbered(SQL.erasureHashes), ['w', 0]), /privacy_tombstones_by_erasure\b/)
      } finally {
        client.release()
      }
    } finally {
      await schema.drop()
    }
  })
})
