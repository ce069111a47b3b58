/** The token-key store suite over SQLite. */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openSqlite } from '../../src/db/sqlite.ts'
import { loadTokenKeys } from '../../src/delivery/sqlite-token-keys.ts'
import { tempDir } from '../helpers/app.ts'
import { tokenKeysSuite } from './token-keys-suite.ts'

const withDb = <T>(dir: string, fn: (db: ReturnType<typeof openSqlite>) => T): T => {
  const db = openSqlite(join(dir, 'store.db'), 'normal')
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

tokenKeysSuite({
  name: 'SQLite',
  load: async (dir, now) => withDb(dir, (db) => loadTokenKeys(db, now)),
  addKey: async (dir, kid, secret, createdAt) =>
    withDb(dir, (db) => {
      db.prepare('INSERT INTO token_keys (kid, secret, created_at) VALUES (?, ?, ?)').run(
        kid,
        secret,
        createdAt,
      )
    }),
  location: async () => tempDir('inkstream-token-keys-'),
  cleanup: async (dir) => rmSync(dir, { recursive: true, force: true }),
})
