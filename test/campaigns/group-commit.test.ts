/** GroupCommit: the writes of one turn share a transaction, and each settles only with its commit. */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { GroupCommit } from '../../src/campaigns/group-commit.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { tempDir } from '../helpers/app.ts'

function setup() {
  const dir = tempDir('inkstream-group-commit-')
  const db = openSqlite(join(dir, 'g.db'), 'normal')
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)')
  const peer = openSqlite(join(dir, 'g.db'), 'normal')
  return {
    db,
    peer,
    close: () => {
      db.close()
      peer.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

test('writes queued in one turn run in one transaction, and another connection sees each once its promise settles', async () => {
  const { db, peer, close } = setup()
  try {
    const group = new GroupCommit(db)
    const insert = db.prepare('INSERT INTO t (k) VALUES (?)')
    const inTx: boolean[] = []
    const writes = ['a', 'b', 'c'].map((k) =>
      group.run(() => {
        inTx.push(db.inTransaction)
        return insert.run(k).changes
      }),
    )
    // Queued, not written yet: nothing runs before the group's turn.
    assert.equal(inTx.length, 0)
    assert.deepEqual(await Promise.all(writes), [1, 1, 1])
    assert.deepEqual(inTx, [true, true, true])
    assert.deepEqual(peer.prepare('SELECT k FROM t ORDER BY k').pluck().all(), ['a', 'b', 'c'])
  } finally {
    close()
  }
})

test('a write that throws rejects alone; the others of its group commit', async () => {
  const { db, peer, close } = setup()
  try {
    const group = new GroupCommit(db)
    const insert = db.prepare('INSERT INTO t (k) VALUES (?)')
    const [a, dup, b] = await Promise.allSettled([
      group.run(() => insert.run('a')),
      group.run(() => insert.run('a')),
      group.run(() => insert.run('b')),
    ])
    assert.equal(a.status, 'fulfilled')
    assert.equal(dup.status, 'rejected')
    assert.equal(b.status, 'fulfilled')
    assert.deepEqual(peer.prepare('SELECT k FROM t ORDER BY k').pluck().all(), ['a', 'b'])
  } finally {
    close()
  }
})

test('a commit that fails rejects every write of the group and keeps none', async () => {
  const { db, peer, close } = setup()
  try {
    db.pragma('busy_timeout = 0')
    const group = new GroupCommit(db)
    const insert = db.prepare('INSERT INTO t (k) VALUES (?)')
    // The peer holds the write lock through every try: the group's transaction cannot start.
    peer.exec('BEGIN IMMEDIATE')
    const results = await Promise.allSettled([
      group.run(() => insert.run('a')),
      group.run(() => insert.run('b')),
    ])
    peer.exec('ROLLBACK')
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    )
    assert.deepEqual(peer.prepare('SELECT k FROM t').pluck().all(), [])
  } finally {
    close()
  }
})

test('a group that finds the database busy is tried again and commits once the lock is free', async () => {
  const { db, peer, close } = setup()
  try {
    db.pragma('busy_timeout = 0')
    const group = new GroupCommit(db)
    const insert = db.prepare('INSERT INTO t (k) VALUES (?)')
    peer.exec('BEGIN IMMEDIATE')
    const writes = Promise.all([group.run(() => insert.run('a')), group.run(() => insert.run('b'))])
    // The first try fails busy; the peer lets go before the next.
    await new Promise((r) => setImmediate(r))
    peer.exec('ROLLBACK')
    await writes
    assert.deepEqual(peer.prepare('SELECT k FROM t ORDER BY k').pluck().all(), ['a', 'b'])
  } finally {
    close()
  }
})

test('a group waits for the write lock without blocking the event loop', async () => {
  const { db, peer, close } = setup()
  try {
    // The connection's own busy_timeout (openSqlite's 5 s) is the budget, not a sleep in this thread.
    assert.equal(db.pragma('busy_timeout', { simple: true }), 5000)
    const group = new GroupCommit(db)
    const insert = db.prepare('INSERT INTO t (k) VALUES (?)')
    // Another writer holds the lock; it lets go on a timer of this thread, which must get to run.
    peer.exec('BEGIN IMMEDIATE')
    const t0 = performance.now()
    let ticks = 0
    const ticker = setInterval(() => {
      ticks += 1
    }, 10)
    setTimeout(() => peer.exec('ROLLBACK'), 100)
    await group.run(() => insert.run('a'))
    const waited = performance.now() - t0
    clearInterval(ticker)
    // SQLite's busy handler would have slept here for busy_timeout (5 s), the peer's timer with it.
    assert.ok(waited >= 95 && waited < 1000, `committed after ${Math.round(waited)} ms`)
    assert.ok(ticks >= 5, `the event loop ran ${ticks} ticks of 10 ms while the group waited`)
    assert.equal(db.pragma('busy_timeout', { simple: true }), 5000, 'the connection keeps its busy_timeout')
    assert.deepEqual(peer.prepare('SELECT k FROM t').pluck().all(), ['a'])
  } finally {
    close()
  }
})
