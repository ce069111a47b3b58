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
    // The keys a workspace has are read in the write transaction, not from the list this store
    // loaded: another process (or store) may have created the workspace since, and its keys stay.
    const ws = this.db
      .transaction((): Workspace => {
        const existing = this.db
          .prepare('SELECT write_key AS writeKey, admin_key AS adminKey FROM workspaces WHERE id = ?')
          .get(id) as Omit<Workspace, 'id'> | undefined
        const next: Workspace = {
          id,
          writeKey: keys.writeKey ?? existing?.writeKey ?? newKey('wk'),
          adminKey: keys.adminKey ?? existing?.adminKey ?? newKey('ak'),
        }
        this.db
          .prepare(
            `INSERT INTO workspaces (id, write_key, admin_key, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET write_key = excluded.write_key, admin_key = excluded.admin_key`,
          )
          .run(next.id, next.writeKey, next.adminKey, Date.now())
        return next
      })
      .immediate()
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
