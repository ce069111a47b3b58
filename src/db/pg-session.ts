/**
 * A PostgreSQL session of its own (not one of the pool's), kept open for what only lives as long as
 * a session: LISTEN, session advisory locks. `setup` runs on every new session before it is handed
 * out; a lost session is reported to `onError` and reopened every `retryMs` (default 1000).
 */
import pg from 'pg'
import type { PgPool } from './pg.ts'

export interface PgSessionOptions {
  /** Prepares a new session (LISTEN, take locks); a rejection fails that attempt. */
  setup: (client: pg.Client) => Promise<void>
  onError?: (err: Error) => void
  retryMs?: number
}

const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)))

export class PgSession {
  readonly #pool: PgPool
  readonly #opts: PgSessionOptions
  #client: pg.Client | undefined
  #connecting: Promise<pg.Client> | undefined
  #retry: NodeJS.Timeout | undefined
  #closed = false

  constructor(pool: PgPool, opts: PgSessionOptions) {
    this.#pool = pool
    this.#opts = opts
  }

  /** The session open now, if any. */
  get current(): pg.Client | undefined {
    return this.#client
  }

  /** The open session, opening it if needed; rejects if it cannot be opened now. */
  client(): Promise<pg.Client> {
    if (this.#client) return Promise.resolve(this.#client)
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined
    })
    return this.#connecting
  }

  /** Opens the session; if that fails, reports it and keeps trying in the background. */
  async start(): Promise<void> {
    await this.client().catch((err: unknown) => {
      this.#opts.onError?.(asError(err))
      this.#scheduleRetry()
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client(this.#pool.options)
    client.on('error', (err) => this.#lost(client, err))
    client.on('end', () => this.#lost(client, new Error('the PostgreSQL session ended')))
    try {
      await client.connect()
      await this.#opts.setup(client)
    } catch (err) {
      client.removeAllListeners('end')
      await client.end().catch(() => {})
      throw err
    }
    if (this.#closed) {
      await client.end().catch(() => {})
      throw new Error('the PostgreSQL session is closed')
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
    this.#scheduleRetry()
  }

  #scheduleRetry(): void {
    if (this.#closed) return
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      void this.start()
    }, this.#opts.retryMs ?? 1000)
    this.#retry.unref()
  }
}
