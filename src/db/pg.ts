/**
 * PostgreSQL for the scale-out Store (DESIGN.md §3): opening a pool, numbered migrations that
 * several processes may run at once, transactions on one client, and the conversions every PG
 * store needs (BIGINT columns arrive as strings; text cannot hold NUL).
 */
import { createHash } from 'node:crypto'
import pg from 'pg'

export type PgPool = pg.Pool
export type PgClient = pg.PoolClient
/** Anything that runs a query: the pool (autocommit) or a client inside a transaction. */
export type PgQueryable = Pick<pg.Pool, 'query'>

export interface OpenPgOptions {
  /** Connections in the pool (default 10). */
  max?: number
  /** Server options, e.g. `-c search_path=ink_test_1` (tests run in their own schema). */
  options?: string
  /** An idle connection failed (server restart); the next query reconnects. Default: ignored. */
  onError?: (err: Error) => void
}

/** Opens a pool on `connectionString`; the caller owns it and ends it after closing the stores. */
export function openPg(connectionString: string, opts: OpenPgOptions = {}): PgPool {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    ...(opts.options === undefined ? {} : { options: opts.options }),
  })
  // Without a listener, an idle client's error (the server went away) would crash the process.
  pool.on('error', opts.onError ?? (() => {}))
  return pool
}

/** Runs `fn` in one transaction on one client: COMMIT if it resolves, ROLLBACK if it throws. */
export async function inTransaction<T>(
  pool: PgPool,
  fn: (client: PgClient) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query(begin)
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch((e: unknown) => {
      // A connection that cannot even roll back is not handed to the next caller.
      broken = e instanceof Error ? e : new Error(String(e))
    })
    throw err
  } finally {
    client.release(broken)
  }
}

/**
 * A 64-bit advisory lock key for `name`, as an SQL literal. Locks are database-wide, not per
 * schema; a collision only makes two unrelated callers wait for each other.
 */
export function lockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString()
}

/**
 * Applies numbered migrations once each, recording them in `schema_migrations` (the mirror of
 * `migrate()` in sqlite.ts). Several processes may start at once: the steps run in one
 * transaction that first takes an advisory lock for the schema, then re-reads what is applied.
 */
export async function migratePg(pool: PgPool, name: string, steps: readonly string[]): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(
      "SELECT pg_advisory_xact_lock(hashtextextended('inkstream.migrate\n' || current_schema(), 0))",
    )
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         name text COLLATE "C" NOT NULL, step integer NOT NULL, PRIMARY KEY (name, step))`,
    )
    const { rows } = await client.query<{ step: number }>(
      'SELECT step FROM schema_migrations WHERE name = $1',
      [name],
    )
    const done = new Set(rows.map((r) => r.step))
    for (const [step, sql] of steps.entries()) {
      if (done.has(step)) continue
      await client.query(sql)
      await client.query('INSERT INTO schema_migrations (name, step) VALUES ($1, $2)', [name, step])
    }
  })
}

/**
 * A BIGINT (or COUNT) column as a number. node-postgres hands int8 over as a string so that no
 * precision is lost silently; epoch milliseconds and log offsets fit a double exactly, and a
 * value that does not is an error here rather than a wrong number later.
 */
export function toInt(v: string | number | bigint): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n)) throw new RangeError(`${String(v)} is not a safe integer`)
  return n
}

export const toIntOrNull = (v: string | number | null): number | null => (v === null ? null : toInt(v))

/**
 * PostgreSQL text cannot hold U+0000 (jsonb neither). Events may carry it; a value the database
 * rejects would fail its batch forever, so NUL is stored as U+FFFD instead.
 */
export const pgText = (s: string): string => (s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s)

export const pgTextOrNull = (s: string | null): string | null => (s === null ? null : pgText(s))

/** JSON text for a jsonb parameter, with every escaped NUL (`\u0000`) turned into U+FFFD. */
export function pgJson(value: unknown): string {
  const text = JSON.stringify(value)
  if (!text.includes('\\u0000')) return text
  // An escape is `\u0000` after an even number of other backslashes (`\\` is an escaped backslash).
  return text.replace(/(\\+)u0000/g, (m, slashes: string) =>
    slashes.length % 2 === 1 ? `${slashes.slice(1)}\\ufffd` : m,
  )
}

/**
 * Rows as one array per field, in the order given: the parameters of an `unnest($1::text[], …)`
 * that writes many rows in one statement.
 */
export function columns<T, K extends keyof T>(rows: readonly T[], ...keys: K[]): T[K][][] {
  return keys.map((k) => rows.map((r) => r[k]))
}
