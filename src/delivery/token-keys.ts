/**
 * The keys that sign tracking and unsubscribe links, kept in the store so links keep working
 * across restarts. The embedded default generates the first key on first start. Rotation: add a
 * newer key (it signs from then on); old keys keep verifying until removed.
 */
import { randomBytes } from 'node:crypto'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'

const MIGRATIONS = [
  `CREATE TABLE token_keys (kid TEXT PRIMARY KEY, secret BLOB NOT NULL, created_at INTEGER NOT NULL);`,
]

export interface TokenKeys {
  keys: Record<string, Buffer>
  currentKid: string
}

/** Loads every key; creates one if there is none. The newest key signs. */
export function loadTokenKeys(db: SqliteDatabase, now = Date.now()): TokenKeys {
  migrate(db, 'token-keys', MIGRATIONS)
  const read = () =>
    db.prepare('SELECT kid, secret FROM token_keys ORDER BY created_at, kid').all() as {
      kid: string
      secret: Buffer
    }[]
  let rows = read()
  if (rows.length === 0) {
    db.prepare('INSERT INTO token_keys (kid, secret, created_at) VALUES (?, ?, ?)').run(
      `k${now.toString(36)}`,
      randomBytes(32),
      now,
    )
    rows = read()
  }
  return {
    keys: Object.fromEntries(rows.map((r) => [r.kid, r.secret])),
    currentKid: rows[rows.length - 1]!.kid,
  }
}
