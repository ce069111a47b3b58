/** src/db/pg.ts: migrations several processes run at once, transactions, and the value conversions. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { inTransaction, migratePg, pgJson, toInt } from '../../src/db/pg.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'

const skip = await pgSkip()

describe('PostgreSQL migrations and transactions', { skip }, () => {
  test('processes migrating at once apply each step exactly once', async () => {
    const schema = await freshSchema()
    try {
      const steps = [
        'CREATE TABLE t (id integer PRIMARY KEY)',
        'INSERT INTO t VALUES (1)',
        'ALTER TABLE t ADD x text',
      ]
      const pools = Array.from({ length: 5 }, () => schema.connect(1))
      await Promise.all(pools.map((p) => migratePg(p, 'demo', steps)))
      await Promise.all(pools.map((p) => migratePg(p, 'demo', steps)))
      const pool = pools[0]!
      assert.deepEqual((await pool.query('SELECT id, x FROM t')).rows, [{ id: 1, x: null }])
      const applied = await pool.query('SELECT step FROM schema_migrations WHERE name = $1 ORDER BY step', [
        'demo',
      ])
      assert.deepEqual(
        applied.rows.map((r) => r.step),
        [0, 1, 2],
      )
      await migratePg(pool, 'demo', [...steps, 'INSERT INTO t VALUES (2)'])
      assert.equal(
        (await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n,
        2,
        'a new step is applied',
      )
    } finally {
      await schema.drop()
    }
  })

  test('a failed migration step leaves nothing of its run applied', async () => {
    const schema = await freshSchema()
    try {
      const pool = schema.connect(1)
      await assert.rejects(migratePg(pool, 'bad', ['CREATE TABLE u (id integer)', 'SELECT nope']))
      assert.equal((await pool.query("SELECT to_regclass('u') AS t")).rows[0].t, null)
      await migratePg(pool, 'bad', ['CREATE TABLE u (id integer)'])
      assert.equal((await pool.query("SELECT to_regclass('u')::text AS t")).rows[0].t, 'u')
    } finally {
      await schema.drop()
    }
  })

  test('a transaction commits what its function did, or rolls all of it back', async () => {
    const schema = await freshSchema()
    try {
      const pool = schema.connect(1)
      await pool.query('CREATE TABLE v (id integer)')
      await inTransaction(pool, (c) => c.query('INSERT INTO v VALUES (1)'))
      await assert.rejects(
        inTransaction(pool, async (c) => {
          await c.query('INSERT INTO v VALUES (2)')
          throw new Error('boom')
        }),
        /boom/,
      )
      assert.deepEqual((await pool.query('SELECT id FROM v')).rows, [{ id: 1 }])
      assert.equal(pool.idleCount + pool.waitingCount, pool.totalCount, 'the client was released')
    } finally {
      await schema.drop()
    }
  })
})

describe('PostgreSQL value conversions', () => {
  test('BIGINT strings become numbers, and a value a double cannot hold is an error', () => {
    assert.equal(toInt('1800000000000'), 1_800_000_000_000)
    assert.equal(toInt(-5), -5)
    assert.throws(() => toInt('9007199254740993'), RangeError)
  })

  test('NUL escapes in JSON become U+FFFD; an escaped backslash before u0000 is left alone', () => {
    assert.equal(pgJson({ a: 'x\u0000y' }), '{"a":"x\\ufffdy"}')
    assert.deepEqual(JSON.parse(pgJson({ 'k\u0000': ['\u0000'] })), { 'k\ufffd': ['\ufffd'] })
    const literal = { a: '\\u0000' }
    assert.deepEqual(JSON.parse(pgJson(literal)), literal)
    assert.deepEqual(JSON.parse(pgJson({ a: '\\\u0000' })), { a: '\\\ufffd' })
  })
})
