/** Workspaces and their keys: a write key for the collector, an admin key for the API. */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'

export interface Workspace {
  id: string
  writeKey: string
  adminKey: string
}

export interface WorkspaceStore {
  /** Creates the workspace with the given keys (or fresh random ones) if it does not exist; updates given keys. */
  ensure(
    id: string,
    keys: { writeKey?: string | undefined; adminKey?: string | undefined },
  ): Promise<Workspace>
  byWriteKey(key: string): Workspace | undefined
  byAdminKey(key: string): Workspace | undefined
  close(): Promise<void>
}

export const newKey = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url')}`

/** Compares two keys in constant time for equal lengths. */
export function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const MIGRATIONS = [
  `CREATE TABLE workspaces (
     id TEXT PRIMARY KEY,
     write_key TEXT NOT NULL UNIQUE,
     admin_key TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL
   );`,
]

/** Keys are loaded into memory once: the collector checks a key per request. */
export class SqliteWorkspaceStore implements WorkspaceStore {
  #all: Workspace[] = []

  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'sqlite-workspace-store', MIGRATIONS)
    this.#reload()
  }

  #reload(): void {
    this.#all = this.db
      .prepare('SELECT id, write_key AS writeKey, admin_key AS adminKey FROM workspaces ORDER BY id')
      .all() as Workspace[]
  }

  async ensure(
    id: string,
    keys: { writeKey?: string | undefined; adminKey?: string | undefined },
  ): Promise<Workspace> {
    const existing = this.#all.find((w) => w.id === id)
    const ws: Workspace = {
      id,
      writeKey: keys.writeKey ?? existing?.writeKey ?? newKey('wk'),
      adminKey: keys.adminKey ?? existing?.adminKey ?? newKey('ak'),
    }
    this.db
      .prepare(
        `INSERT INTO workspaces (id, write_key, admin_key, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET write_key = excluded.write_key, admin_key = excluded.admin_key`,
      )
      .run(ws.id, ws.writeKey, ws.adminKey, Date.now())
    this.#reload()
    return ws
  }

  byWriteKey(key: string): Workspace | undefined {
    return this.#all.find((w) => sameKey(w.writeKey, key))
  }

  byAdminKey(key: string): Workspace | undefined {
    return this.#all.find((w) => sameKey(w.adminKey, key))
  }

  async close(): Promise<void> {}
}
