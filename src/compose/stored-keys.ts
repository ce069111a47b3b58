/**
 * Read-only access to the workspace keys a server stored, for `inkstream keys` and the admin key of
 * `inkstream send`: the SQLite file of INKSTREAM_DATA_DIR, or the PostgreSQL database of
 * INKSTREAM_DATABASE_URL. Never creates a file, a table or a workspace: a missing store is
 * reported (INK_ERR_NOT_FOUND), so the keys printed are always ones a server knows.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import type { Config } from '../config.ts'
import { InkError } from '../core/errors.ts'
import { openPg } from '../db/pg.ts'
import { DATABASE_FILE } from './embedded-files.ts'

export interface WorkspaceKeys {
  writeKey: string
  adminKey: string
}

export interface StoredKeys {
  /** The store, for messages (a file path, or the database URL without credentials). */
  where: string
  /** The keys of a workspace; undefined when the store has no such workspace. */
  keysOf(workspaceId: string): Promise<WorkspaceKeys | undefined>
}

const noStore = (where: string, hint: string) =>
  new InkError('INK_ERR_NOT_FOUND', `no Inkstream database at ${where}; ${hint}`)

/** Runs `read` on the configured store, read-only, and closes it. */
export async function withStoredKeys<T>(config: Config, read: (keys: StoredKeys) => Promise<T>): Promise<T> {
  return config.databaseUrl !== undefined
    ? withPg(config.databaseUrl, read)
    : withSqlite(config.dataDir, read)
}

async function withSqlite<T>(dataDir: string, read: (keys: StoredKeys) => Promise<T>): Promise<T> {
  const file = resolve(join(dataDir, DATABASE_FILE))
  const hint =
    'the server creates it on its first start ("inkstream start"); set INKSTREAM_DATA_DIR to the server\'s data folder'
  if (!existsSync(file)) throw noStore(file, hint)
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    db.pragma('busy_timeout = 5000')
    return await read({
      where: file,
      async keysOf(workspaceId) {
        try {
          return db
            .prepare('SELECT write_key AS writeKey, admin_key AS adminKey FROM workspaces WHERE id = ?')
            .get(workspaceId) as WorkspaceKeys | undefined
        } catch (err) {
          if (err instanceof Error && /no such table/.test(err.message)) throw noStore(file, hint)
          throw err
        }
      },
    })
  } finally {
    db.close()
  }
}

async function withPg<T>(url: string, read: (keys: StoredKeys) => Promise<T>): Promise<T> {
  const pool = openPg(url, { max: 1 })
  const where = url.replace(/\/\/[^@/]*@/, '//')
  try {
    return await read({
      where,
      async keysOf(workspaceId) {
        try {
          const { rows } = await pool.query<WorkspaceKeys>(
            'SELECT write_key AS "writeKey", admin_key AS "adminKey" FROM workspaces WHERE id = $1',
            [workspaceId],
          )
          return rows[0]
        } catch (err) {
          const code: unknown = err instanceof Error ? Reflect.get(err, 'code') : undefined
          if (code === '42P01') throw noStore(where, 'start a server with this INKSTREAM_DATABASE_URL first')
          // Connection-level failures (refused, unknown host, auth): say which database, not a pg stack.
          if (typeof code === 'string' && !/^[0-9A-Z]{5}$/.test(code))
            throw new InkError(
              'INK_ERR_SERVER_UNREACHABLE',
              `cannot reach the PostgreSQL database at ${where} (${code}); check INKSTREAM_DATABASE_URL, or set INKSTREAM_ADMIN_KEY`,
              { cause: err },
            )
          throw err
        }
      },
    })
  } finally {
    await pool.end()
  }
}
