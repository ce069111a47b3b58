/**
 * Workspaces over PostgreSQL. As in SQLite, the keys are held in memory (the collector checks
 * one per request): loaded when the store is opened and after each `ensure`. It does not own
 * the pool.
 */
import type { Clock } from '../core/types.ts'
import { migratePg, type PgPool } from '../db/pg.ts'
import { PgStore } from '../db/pg-store.ts'
import { newKey, type Workspace, WorkspaceKeyring, type WorkspaceStore } from './workspace-store.ts'

const MIGRATIONS = [
  `CREATE TABLE workspaces (
     id text COLLATE "C" PRIMARY KEY,
     write_key text NOT NULL UNIQUE,
     admin_key text NOT NULL UNIQUE,
     created_at bigint NOT NULL
   );`,
]

const SELECT = 'SELECT id, write_key AS "writeKey", admin_key AS "adminKey" FROM workspaces'

export class PgWorkspaceStore extends PgStore implements WorkspaceStore {
  readonly #keys = new WorkspaceKeyring()
  readonly #loaded: Promise<void>

  /** Keys are looked up in memory: await `ready()` (or use `open`) before the first lookup. */
  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    super(pool, (p) => migratePg(p, 'pg-workspace-store', MIGRATIONS), opts.clock)
    this.#loaded = this.#reload()
    this.#loaded.catch(() => {})
  }

  /** Opens the store and loads every workspace's keys. */
  static async open(pool: PgPool, opts: { clock?: Clock } = {}): Promise<PgWorkspaceStore> {
    const store = new PgWorkspaceStore(pool, opts)
    await store.ready()
    return store
  }

  /** Resolves once the table exists and the keys are loaded. */
  override ready(): Promise<void> {
    return this.#loaded
  }

  async #reload(): Promise<void> {
    this.#keys.replace((await this.query<Workspace>(`${SELECT} ORDER BY id`)).rows)
  }

  async ensure(
    id: string,
    keys: { writeKey?: string | undefined; adminKey?: string | undefined },
  ): Promise<Workspace> {
    await this.#loaded
    // Decided by the database, not by what this process loaded: another process may have
    // created the workspace meanwhile, and its keys are kept unless new ones are given.
    const { rows } = await this.query<Workspace>(
      `INSERT INTO workspaces AS w (id, write_key, admin_key, created_at)
       VALUES ($1, COALESCE($2::text, $4::text), COALESCE($3::text, $5::text), $6)
       ON CONFLICT (id) DO UPDATE SET write_key = COALESCE($2::text, w.write_key),
         admin_key = COALESCE($3::text, w.admin_key)
       RETURNING id, write_key AS "writeKey", admin_key AS "adminKey"`,
      [id, keys.writeKey ?? null, keys.adminKey ?? null, newKey('wk'), newKey('ak'), this.clock.now()],
    )
    await this.#reload()
    return rows[0]!
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
}
