/**
 * Cache shared by every process of a deployment, in Redis (DESIGN.md §3). Each entry is one string
 * key holding JSON `{v, s, e}` (value, storedAt, expiresAt), set with PX = ttl + stale window, so
 * Redis itself drops it once both have passed; no process keeps a timer or an index.
 *
 * A cache is an optimisation, so Redis being down, slow or restarting never fails a caller: `get`
 * resolves to a miss, `set` and `delete` resolve without effect, and the error goes to `onError`
 * (log it, count it). A failed `delete` therefore leaves the old entry in Redis, to be served until
 * its TTL passes; the callers' TTLs bound that. Calls fail fast instead of queueing while the
 * connection is down (no offline queue), and a connected but unresponsive server costs at most
 * `commandTimeoutMs` per call. Only misuse rejects: a closed cache, a bad duration, a value that
 * JSON cannot hold.
 */
import { Redis } from 'ioredis'
import type { Clock } from '../../core/types.ts'
import { systemClock } from '../../core/types.ts'
import { assertOpen, assertSettable, type Cache, type CacheEntry } from './cache.ts'

/** What failed: one of the cache's calls, or the connection itself (reported once per outage). */
export type RedisCacheOperation = 'get' | 'set' | 'delete' | 'expire' | 'connection'

export interface RedisCacheOptions {
  /** `redis://[user:password@]host:port[/db]`. Default redis://127.0.0.1:6379. */
  url?: string
  /** Prepended to every key, so deployments sharing one Redis do not collide. Default `inkstream:cache:`. */
  keyPrefix?: string
  /** Longest a call waits for Redis before it counts as failed. Default 250 ms: a render is waiting. */
  commandTimeoutMs?: number
  /** Longest `open` waits for the first connection; the cache then starts as a miss. Default 2,000 ms. */
  connectTimeoutMs?: number
  /** Clock for storedAt / expiresAt. Redis expires the keys on its own clock regardless. */
  clock?: Clock
  /** The connection's name in Redis (CLIENT LIST), e.g. the deployment and roles of the process. */
  connectionName?: string
  /** Told about every failure the cache absorbed. */
  onError?: (err: Error, operation: RedisCacheOperation) => void
}

interface Stored {
  v?: unknown
  s: number
  e: number
}

export class RedisCache implements Cache {
  readonly #redis: Redis
  readonly #prefix: string
  readonly #clock: Clock
  readonly #onError: (err: Error, operation: RedisCacheOperation) => void
  readonly #commandTimeoutMs: number
  #closed = false
  /** Whether the current outage was already reported; reconnect attempts each raise an error. */
  #outageReported = false

  /** Connects (waiting at most connectTimeoutMs) and returns the cache, reachable or not. */
  static async open(opts: RedisCacheOptions = {}): Promise<RedisCache> {
    const cache = new RedisCache(opts)
    await cache.#firstConnection(opts.connectTimeoutMs ?? 2_000)
    return cache
  }

  private constructor(opts: RedisCacheOptions) {
    this.#prefix = opts.keyPrefix ?? 'inkstream:cache:'
    this.#clock = opts.clock ?? systemClock
    this.#onError = opts.onError ?? (() => {})
    this.#commandTimeoutMs = opts.commandTimeoutMs ?? 250
    this.#redis = new Redis(opts.url ?? 'redis://127.0.0.1:6379', {
      connectTimeout: opts.connectTimeoutMs ?? 2_000,
      commandTimeout: this.#commandTimeoutMs,
      // Fail now rather than wait for a reconnect: a miss is cheap, a stalled render is not.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      ...(opts.connectionName === undefined ? {} : { connectionName: opts.connectionName }),
    })
    this.#redis.on('ready', () => {
      this.#outageReported = false
    })
    // Always listened to: an 'error' event without a listener would be printed by ioredis.
    this.#redis.on('error', (err: Error) => {
      if (this.#closed || this.#outageReported) return
      this.#outageReported = true
      this.#report(err, 'connection')
    })
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    assertOpen(this.#closed)
    let raw: string | null
    try {
      raw = await this.#redis.get(this.#prefix + key)
    } catch (err) {
      this.#report(err, 'get')
      return undefined
    }
    if (raw === null) return undefined
    const stored = parseStored(raw)
    if (stored === undefined) {
      this.#report(new Error(`cache key ${this.#prefix + key} does not hold a cache entry`), 'get')
      return undefined
    }
    return { value: stored.v, storedAt: stored.s, expiresAt: stored.e }
  }

  async set(key: string, value: unknown, ttlMs: number, staleMs: number): Promise<void> {
    assertSettable(this.#closed, ttlMs, staleMs)
    const storedAt = this.#clock.now()
    const stored: Stored = { v: value, s: storedAt, e: storedAt + ttlMs }
    const json = JSON.stringify(stored) // throws on a cycle or a BigInt: the caller's bug
    // PX takes whole milliseconds above zero; an entry with nothing to keep replaces the old one by
    // removing it.
    const retainMs = Math.ceil(ttlMs + staleMs)
    try {
      if (retainMs > 0) await this.#redis.set(this.#prefix + key, json, 'PX', retainMs)
      else await this.#redis.del(this.#prefix + key)
    } catch (err) {
      this.#report(err, 'set')
    }
  }

  async delete(key: string): Promise<void> {
    assertOpen(this.#closed)
    try {
      await this.#redis.del(this.#prefix + key)
    } catch (err) {
      this.#report(err, 'delete')
    }
  }

  async expire(key: string): Promise<void> {
    assertOpen(this.#closed)
    const now = this.#clock.now()
    let result: unknown
    try {
      result = await this.#redis.eval(EXPIRE_SCRIPT, 1, this.#prefix + key, String(now))
    } catch (err) {
      this.#report(err, 'expire')
      return
    }
    if (result === -1) {
      this.#report(new Error(`cache key ${this.#prefix + key} does not hold a cache entry`), 'expire')
    }
  }

  /** Sends QUIT when connected (pending replies arrive first), then drops the connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#redis.status === 'ready') {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#commandTimeoutMs)
      })
      await Promise.race([this.#redis.quit().catch(() => {}), timeout])
      clearTimeout(timer)
    }
    this.#redis.disconnect()
  }

  async #firstConnection(timeoutMs: number): Promise<void> {
    const redis = this.#redis
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        redis.off('ready', done).off('error', done).off('end', done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      redis.on('ready', done).on('error', done).on('end', done)
    })
  }

  #report(err: unknown, operation: RedisCacheOperation): void {
    try {
      this.#onError(err instanceof Error ? err : new Error(String(err)), operation)
    } catch {
      // A failing error hook must not turn an absorbed failure into a thrown one.
    }
  }
}

/**
 * `expire` in one round trip and atomically (a `set` in between cannot be overwritten with the old
 * value): the entry's `e` becomes now unless it is already earlier, and KEEPTTL leaves Redis's own
 * expiry (the end of the stale window) as it was. `set` writes `JSON.stringify({v, s, e})`, so the
 * string ends with the top-level `,"e":<number>}` and the greedy match finds that one, whatever `v`
 * holds; the value's bytes are not re-encoded. Answers 1 when changed, 0 when missing or already
 * expired, -1 when the key does not hold a cache entry.
 */
const EXPIRE_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local head, e = string.match(raw, '^(.*),"e":([-0-9.eE+]+)}$')
local expires = tonumber(e)
if head == nil or expires == nil then return -1 end
if expires <= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], head .. ',"e":' .. ARGV[1] .. '}', 'KEEPTTL')
return 1
`

function parseStored(raw: string): Stored | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined
  const s: unknown = Reflect.get(parsed, 's')
  const e: unknown = Reflect.get(parsed, 'e')
  if (typeof s !== 'number' || typeof e !== 'number') return undefined
  return { v: Reflect.get(parsed, 'v'), s, e }
}
