/**
 * The workspace's keys as the server stored them, for `inkstream keys` and as the admin key of
 * `inkstream send`. Read-only: a data folder (or database) without an Inkstream store is reported,
 * never created, so the keys printed are always ones a server knows.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { DATABASE_FILE } from '../app.ts'
import type { Config } from '../config.ts'
import { InkError } from '../core/errors.ts'
import { openPg } from '../db/pg.ts'

export interface WorkspaceKeys {
  writeKey: string
  adminKey: string
}

const noStore = (where: string, hint: string) =>
  new InkError('INK_ERR_NOT_FOUND', `no Inkstream database at ${where}; ${hint}`)

/** Reads the keys of config.workspaceId from the server's store (SQLite file or PostgreSQL). */
export async function readWorkspaceKeys(config: Config): Promise<WorkspaceKeys> {
  if (config.databaseUrl !== undefined) return readPg(config.databaseUrl, config.workspaceId)
  const file = resolve(join(config.dataDir, DATABASE_FILE))
  const hint =
    'the server creates it on its first start ("inkstream start"); set INKSTREAM_DATA_DIR to the server\'s data folder'
  if (!existsSync(file)) throw noStore(file, hint)
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    db.pragma('busy_timeout = 5000')
    const row = db
      .prepare('SELECT write_key AS writeKey, admin_key AS adminKey FROM workspaces WHERE id = ?')
      .get(config.workspaceId) as WorkspaceKeys | undefined
    if (row === undefined) throw missingWorkspace(config.workspaceId, file)
    return row
  } catch (err) {
    if (err instanceof Error && /no such table/.test(err.message)) throw noStore(file, hint)
    throw err
  } finally {
    db.close()
  }
}

async function readPg(url: string, workspaceId: string): Promise<WorkspaceKeys> {
  const pool = openPg(url, { max: 1 })
  const where = url.replace(/\/\/[^@/]*@/, '//')
  try {
    const { rows } = await pool.query<WorkspaceKeys>(
      'SELECT write_key AS "writeKey", admin_key AS "adminKey" FROM workspaces WHERE id = $1',
      [workspaceId],
    )
    if (rows[0] === undefined) throw missingWorkspace(workspaceId, where)
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
  } finally {
    await pool.end()
  }
}

const missingWorkspace = (id: string, where: string) =>
  new InkError(
    'INK_ERR_NOT_FOUND',
    `workspace "${id}" is not in ${where}; the server creates it on start (check INKSTREAM_WORKSPACE)`,
  )
