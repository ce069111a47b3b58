/** Workspaces in the embedded SQLite database. */
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
import { newKey, type Workspace, WorkspaceKeyring, type WorkspaceStore } from './workspace-store.ts'

const MIGRATIONS = [
  `CREATE TABLE workspaces (
     id TEXT PRIMARY KEY,
     write_key TEXT NOT NULL UNIQUE,
     admin_key TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL
   );`,
]

const SELECT = 'SELECT id, write_key AS writeKey, admin_key AS adminKey FROM workspaces'

/** Keys are loaded into memory once, and again after each `ensure`. */
export class SqliteWorkspaceStore implements WorkspaceStore {
  readonly #keys = new WorkspaceKeyring()
  readonly #s

  constructor(db: SqliteDatabase) {
    migrate(db, 'sqlite-workspace-store', MIGRATIONS)
    this.#s = {
      all: db.prepare(`${SELECT} ORDER BY id`),
      // Decided by the database, not by what this store loaded: another process (or store) may
      // have created the workspace meanwhile, and its keys are kept unless new ones are given.
      ensure: db.prepare(
        `INSERT INTO workspaces AS w (id, write_key, admin_key, created_at)
         VALUES (@id, COALESCE(@writeKey, @newWriteKey), COALESCE(@adminKey, @newAdminKey), @now)
         ON CONFLICT (id) DO UPDATE SET write_key = COALESCE(@writeKey, w.write_key),
           admin_key = COALESCE(@adminKey, w.admin_key)
         RETURNING id, write_key AS writeKey, admin_key AS adminKey`,
      ),
    }
    this.#reload()
  }

  #reload(): void {
    this.#keys.replace(this.#s.all.all() as Workspace[])
  }

  async ensure(
    id: string,
    keys: { writeKey?: string | undefined; adminKey?: string | undefined },
  ): Promise<Workspace> {
    const ws = this.#s.ensure.get({
      id,
      writeKey: keys.writeKey ?? null,
      adminKey: keys.adminKey ?? null,
      newWriteKey: newKey('wk'),
      newAdminKey: newKey('ak'),
      now: Date.now(),
    }) as Workspace
    this.#reload()
    return ws
  }

  byWriteKey(key: string): Workspace | undefined {
    return this.#keys.byWriteKey(key)
  }

  byAdminKey(key: string): Workspace | undefined {
    return this.#keys.byAdminKey(key)
  }

  byId(id: string): Workspace | undefined {
    return this.#keys.byId(id)
  }

  async close(): Promise<void> {}
}
