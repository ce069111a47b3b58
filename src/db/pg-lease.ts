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
import type pg from 'pg'
import { lockKey, type PgPool } from './pg.ts'
import { PgSession } from './pg-session.ts'

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
  /**
   * How long tryHold waits for a lost session to be reopened before it answers "not held" (default
   * 5000 ms): the reopen takes the key with a blocking pg_advisory_lock, which waits for as long as
   * PostgreSQL keeps the old session (a half-open connection: up to its TCP keepalive, hours).
   */
  reconnectWaitMs?: number
}

export class PgProcessLease implements ProcessOwner {
  readonly key: string
  readonly #session: PgSession
  /** Named locks held, by name; taken again after a reconnect. */
  readonly #held = new Set<string>()
  readonly #reconnectWaitMs: number

  private constructor(pool: PgPool, opts: PgProcessLeaseOptions) {
    this.key = randomBytes(8).readBigInt64BE(0).toString()
    this.#reconnectWaitMs = opts.reconnectWaitMs ?? 5000
    this.#session = new PgSession(pool, { ...opts, setup: (client) => this.#take(client, opts) })
  }

  /** Opens the lease; rejects if PostgreSQL cannot be reached at all. */
  static async open(pool: PgPool, opts: PgProcessLeaseOptions = {}): Promise<PgProcessLease> {
    const lease = new PgProcessLease(pool, opts)
    await lease.#session.client()
    return lease
  }

  /**
   * Takes the named lock if no process holds it; true if this process holds it now. A lock held is
   * answered from memory only while the session that took it is open: once it is lost (the server
   * ended it, the network broke) PostgreSQL has released the lock, and another process may hold it
   * before this one reconnects; the reconnect takes the held locks again or drops those taken
   * meanwhile (#take), and the answer is that. A reconnect that takes longer than reconnectWaitMs
   * answers false (it goes on; a later call sees what it took).
   */
  async tryHold(name: string): Promise<boolean> {
    if (this.#held.has(name) && this.#session.current !== undefined) return true
    const client = this.#session.current ?? (await this.#reopened())
    if (client === undefined) return false
    if (this.#held.has(name)) return true
    const { rows } = await client.query<{ ok: boolean }>(
      `SELECT pg_try_advisory_lock(${lockKey(name)}) AS ok`,
    )
    if (rows[0]?.ok) this.#held.add(name)
    return rows[0]?.ok === true
  }

  /** The session reopened, or undefined when that takes longer than reconnectWaitMs. */
  async #reopened(): Promise<pg.Client | undefined> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.#reconnectWaitMs)
    })
    try {
      return await Promise.race([this.#session.client(), late])
    } finally {
      clearTimeout(timer)
    }
  }

  async release(name: string): Promise<void> {
    if (!this.#held.delete(name)) return
    const client = this.#session.current
    if (client) await client.query(`SELECT pg_advisory_unlock(${lockKey(name)})`).catch(() => {})
  }

  close(): Promise<void> {
    return this.#session.close()
  }

  /** On a new session: the named locks first, then the key, so once the key is seen held, so are they. */
  async #take(client: pg.Client, opts: PgProcessLeaseOptions): Promise<void> {
    for (const name of this.#held) {
      const { rows } = await client.query<{ ok: boolean }>(
        `SELECT pg_try_advisory_lock(${lockKey(name)}) AS ok`,
      )
      if (!rows[0]?.ok) {
        this.#held.delete(name)
        opts.onError?.(new Error(`the lock "${name}" was taken by another process while the lease was lost`))
      }
    }
    await client.query('SELECT pg_advisory_lock($1::bigint)', [this.key])
  }
}
