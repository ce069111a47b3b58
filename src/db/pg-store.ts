/**
 * The preamble every PostgreSQL store shares: it migrates its tables when constructed, reports a
 * failed migration from `ready()` and from the first call (never as an unhandled rejection), and
 * runs each query or transaction only once the tables exist. It does not own the pool.
 *
 *   export class PgThingStore extends PgStore implements ThingStore {
 *     constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
 *       super(pool, (p) => migratePg(p, 'pg-thing-store', MIGRATIONS), opts.clock)
 *     }
 *     async get(id: string) { return (await this.query<Row>('SELECT … WHERE id = $1', [id])).rows[0] }
 *   }
 */
import type pg from 'pg'
import { type Clock, systemClock } from '../core/types.ts'
import { inTransaction, type PgClient, type PgPool } from './pg.ts'

export abstract class PgStore {
  protected readonly pool: PgPool
  protected readonly clock: Clock
  readonly #ready: Promise<void>

  constructor(pool: PgPool, migrate: (pool: PgPool) => Promise<void>, clock: Clock = systemClock) {
    this.pool = pool
    this.clock = clock
    this.#ready = migrate(pool)
    // Reported by the first call (and by ready()), not as an unhandled rejection.
    this.#ready.catch(() => {})
  }

  /** Resolves once the tables exist; every query and transaction waits for it too. */
  ready(): Promise<void> {
    return this.#ready
  }

  /** One statement on the pool (autocommit); `count` is the rows it returned or changed. */
  protected async query<R extends object = Record<string, unknown>>(
    text: string | pg.QueryConfig,
    values?: unknown[],
  ): Promise<{ rows: R[]; count: number }> {
    await this.#ready
    const { rows, rowCount } =
      typeof text === 'string' ? await this.pool.query<R>(text, values) : await this.pool.query<R>(text)
    return { rows, count: rowCount ?? 0 }
  }

  /** `fn` in one transaction on one client (see inTransaction); `begin` may take locks too. */
  protected async transaction<T>(fn: (client: PgClient) => Promise<T>, begin?: string): Promise<T> {
    await this.#ready
    return inTransaction(this.pool, fn, begin)
  }

  async close(): Promise<void> {}
}
