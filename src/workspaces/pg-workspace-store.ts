/**
 * Workspaces over PostgreSQL. As in SQLite, the keys are held in memory (the collector checks
 * one per request): loaded when the store is opened and after each `ensure`. It does not own
 * the pool.
 */
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import { migratePg, type PgPool } from '../db/pg.ts'
import { newKey, sameKey, type Workspace, type WorkspaceStore } from './workspace-store.ts'

const MIGRATIONS = [
  `CREATE TABLE workspaces (
     id text COLLATE "C" PRIMARY KEY,
     write_key text NOT NULL UNIQUE,
     admin_key text NOT NULL UNIQUE,
     created_at bigint NOT NULL
   );`,
]

const SELECT = 'SELECT id, write_key AS "writeKey", admin_key AS "adminKey" FROM workspaces'

export class PgWorkspaceStore implements WorkspaceStore {
  readonly #pool: PgPool
  readonly #clock: Clock
  readonly #ready: Promise<void>
  #all: Workspace[] = []

  /** Keys are looked up in memory: await `ready()` (or use `open`) before the first lookup. */
  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    this.#pool = pool
    this.#clock = opts.clock ?? systemClock
    this.#ready = (async () => {
      await migratePg(pool, 'pg-workspace-store', MIGRATIONS)
      await this.#reload()
    })()
    this.#ready.catch(() => {})
  }

  /** Opens the store and loads every workspace's keys. */
  static async open(pool: PgPool, opts: { clock?: Clock } = {}): Promise<PgWorkspaceStore> {
    const store = new PgWorkspaceStore(pool, opts)
    await store.ready()
    return store
  }

  /** Resolves once the table exists and the keys are loaded. */
  ready(): Promise<void> {
    return this.#ready
  }

  async #reload(): Promise<void> {
    this.#all = (await this.#pool.query<Workspace>(`${SELECT} ORDER BY id`)).rows
  }

  async ensure(
    id: string,
    keys: { writeKey?: string | undefined; adminKey?: string | undefined },
  ): Promise<Workspace> {
    await this.#ready
    // Decided by the database, not by what this process loaded: another process may have
    // created the workspace meanwhile, and its keys are kept unless new ones are given.
    const { rows } = await this.#pool.query<Workspace>(
      `INSERT INTO workspaces AS w (id, write_key, admin_key, created_at)
       VALUES ($1, COALESCE($2::text, $4::text), COALESCE($3::text, $5::text), $6)
       ON CONFLICT (id) DO UPDATE SET write_key = COALESCE($2::text, w.write_key),
         admin_key = COALESCE($3::text, w.admin_key)
       RETURNING id, write_key AS "writeKey", admin_key AS "adminKey"`,
      [id, keys.writeKey ?? null, keys.adminKey ?? null, newKey('wk'), newKey('ak'), this.#clock.now()],
    )
    await this.#reload()
    return rows[0]!
  }

  byWriteKey(key: string): Workspace | undefined {
    return this.#all.find((w) => sameKey(w.writeKey, key))
  }

  byAdminKey(key: string): Workspace | undefined {
    return this.#all.find((w) => sameKey(w.adminKey, key))
  }

  async close(): Promise<void> {}
}
