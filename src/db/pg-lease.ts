/**
 * Which process is alive, for processes sharing one PostgreSQL database (scale-out mode).
 *
 * A process opens one lease: a connection of its own that holds a session-level advisory lock on a
 * random 64-bit key for as long as the process lives. Rows a process claims (a campaign recipient
 * in `sending`, a trigger job in `sending`) carry that key in `owner_key`; another process that
 * starts and recovers interrupted sends touches only the rows whose owner's lock is no longer held
 * (`ownerGone(column)`): the owner died, its connection closed, PostgreSQL released the lock.
 *
 * The same connection holds named locks (`tryHold`) for work only one process may do at a time,
 * such as running a given campaign; they go away with the process too.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { lockKey, type PgPool } from './pg.ts'

/** What a store needs to stamp its claims: the lease's key, an int8 as a decimal string. */
export interface ProcessOwner {
  readonly key: string
}

/**
 * SQL that is true when no session holds the advisory lock whose int8 key is in `column` (or it is
 * NULL: a row claimed before leases existed). pg_locks splits an int8 key into classid (high 32
 * bits) and objid (low 32 bits), objsubid 1.
 */
export const ownerGone = (column: string): string => `(${column} IS NULL OR NOT EXISTS (
  SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND ((l.classid::bigint << 32) | l.objid::bigint) = ${column}))`

export interface PgProcessLeaseOptions {
  /** A lost lease connection: reported here, then reopened every `retryMs` (default 1000). */
  onError?: (err: Error) => void
  retryMs?: number
}

export class PgProcessLease implements ProcessOwner {
  readonly key: string
  readonly #pool: PgPool
  readonly #opts: PgProcessLeaseOptions
  /** Named locks held, by name; taken again after a reconnect. */
  readonly #held = new Set<string>()
  #client: pg.Client | undefined
  #connecting: Promise<pg.Client> | undefined
  #retry: NodeJS.Timeout | undefined
  #closed = false

  private constructor(pool: PgPool, opts: PgProcessLeaseOptions) {
    this.#pool = pool
    this.#opts = opts
    this.key = randomBytes(8).readBigInt64BE(0).toString()
  }

  /** Opens the lease; rejects if PostgreSQL cannot be reached at all. */
  static async open(pool: PgPool, opts: PgProcessLeaseOptions = {}): Promise<PgProcessLease> {
    const lease = new PgProcessLease(pool, opts)
    await lease.#connection()
    return lease
  }

  /** Takes the named lock if no process holds it; true if this process holds it now. */
  async tryHold(name: string): Promise<boolean> {
    if (this.#held.has(name)) return true
    const client = await this.#connection()
    const { rows } = await client.query<{ ok: boolean }>(
      `SELECT pg_try_advisory_lock(${lockKey(name)}) AS ok`,
    )
    if (rows[0]?.ok) this.#held.add(name)
    return rows[0]?.ok === true
  }

  async release(name: string): Promise<void> {
    if (!this.#held.delete(name)) return
    const client = this.#client
    if (client) await client.query(`SELECT pg_advisory_unlock(${lockKey(name)})`).catch(() => {})
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }

  #connection(): Promise<pg.Client> {
    if (this.#client) return Promise.resolve(this.#client)
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined
    })
    return this.#connecting
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client(this.#pool.options)
    client.on('error', (err) => this.#lost(client, err))
    client.on('end', () => this.#lost(client, new Error('the lease connection ended')))
    try {
      await client.connect()
      // Named locks first, then the key: once the key is seen held again, so are they.
      for (const name of this.#held) {
        const { rows } = await client.query<{ ok: boolean }>(
          `SELECT pg_try_advisory_lock(${lockKey(name)}) AS ok`,
        )
        if (!rows[0]?.ok) {
          this.#held.delete(name)
          this.#opts.onError?.(
            new Error(`the lock "${name}" was taken by another process while the lease was lost`),
          )
        }
      }
      await client.query('SELECT pg_advisory_lock($1::bigint)', [this.key])
    } catch (err) {
      client.removeAllListeners('end')
      await client.end().catch(() => {})
      throw err
    }
    this.#client = client
    return client
  }

  #lost(client: pg.Client, err: Error): void {
    if (this.#client !== client) return
    this.#client = undefined
    client.end().catch(() => {})
    if (this.#closed) return
    this.#opts.onError?.(err)
    const retry = () => {
      this.#retry = undefined
      if (this.#closed) return
      this.#connection().catch((e: unknown) => {
        this.#opts.onError?.(e instanceof Error ? e : new Error(String(e)))
        this.#retry = setTimeout(retry, this.#opts.retryMs ?? 1000)
        this.#retry.unref()
      })
    }
    this.#retry = setTimeout(retry, this.#opts.retryMs ?? 1000)
    this.#retry.unref()
  }
}
