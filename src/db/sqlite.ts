/**
 * Opens the embedded SQLite database that holds both the event log and the store.
 *
 * WAL with synchronous=FULL: every commit fsyncs the WAL before it returns. NORMAL would
 * already survive `kill -9` of the process (the WAL pages are in the OS page cache), but not a
 * power loss or kernel crash; since an acknowledged event must never be lost, we pay the
 * ~0.3 ms fsync per commit and amortise it with group commit.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'

export type SqliteDatabase = Database.Database

export type Synchronous = 'full' | 'normal'

export function openSqlite(file: string, synchronous: Synchronous = 'full'): SqliteDatabase {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
  // Another process (a CLI command, a second role) may hold the write lock briefly.
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  return db
}

/** Applies numbered migrations once each, recording them in `schema_migrations`. */
export function migrate(db: SqliteDatabase, name: string, steps: readonly string[]): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT NOT NULL, step INTEGER NOT NULL, PRIMARY KEY (name, step))',
  )
  const applied = db
    .prepare('SELECT step FROM schema_migrations WHERE name = ?')
    .pluck()
    .all(name) as number[]
  const done = new Set(applied)
  const record = db.prepare('INSERT INTO schema_migrations (name, step) VALUES (?, ?)')
  steps.forEach((sql, step) => {
    if (done.has(step)) return
    db.transaction(() => {
      db.exec(sql)
      record.run(name, step)
    })()
  })
}
