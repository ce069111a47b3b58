/** The link-signing keys (see token-keys.ts) in the embedded SQLite database. */
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
import { firstTokenKey, type TokenKeyRow, type TokenKeys, tokenKeysFromRows } from './token-keys.ts'

const MIGRATIONS = [
  `CREATE TABLE token_keys (kid TEXT PRIMARY KEY, secret BLOB NOT NULL, created_at INTEGER NOT NULL);`,
]

/** Loads every key; creates one if there is none. */
export function loadTokenKeys(db: SqliteDatabase, now = Date.now()): TokenKeys {
  migrate(db, 'token-keys', MIGRATIONS)
  const read = () =>
    db.prepare('SELECT kid, secret FROM token_keys ORDER BY created_at, kid').all() as TokenKeyRow[]
  let rows = read()
  if (rows.length === 0) {
    const k = firstTokenKey(now)
    db.prepare('INSERT INTO token_keys (kid, secret, created_at) VALUES (?, ?, ?)').run(
      k.kid,
      k.secret,
      k.createdAt,
    )
    rows = read()
  }
  return tokenKeysFromRows(rows)
}
