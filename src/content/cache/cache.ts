/**
 * The Cache seam (DESIGN.md §3): profile cache, connected-content cache, rendered-block cache.
 * Every entry has a TTL; after it, the entry is kept for a stale window so a caller whose fresh
 * fetch failed can still serve the old value (and say how old it is). Values must be
 * JSON-serialisable, because the scale-out implementation stores them in Redis.
 */

export interface CacheEntry {
  value: unknown
  /** Epoch milliseconds when the value was stored. */
  storedAt: number
  /** Epoch milliseconds after which the value is stale (storedAt + ttlMs). */
  expiresAt: number
}

export interface Cache {
  /** The entry, fresh or stale; undefined once its TTL and stale window have both passed, or when evicted. */
  get(key: string): Promise<CacheEntry | undefined>
  /**
   * The same answer as `get`, synchronously, for a cache that needs no I/O (in-process); a cache
   * that does (Redis) leaves it out. Never throws: a closed cache answers undefined.
   */
  peek?(key: string): CacheEntry | undefined
  /** Stores a value that is fresh for ttlMs and then kept staleMs longer for fallbacks. */
  set(key: string, value: unknown, ttlMs: number, staleMs: number): Promise<void>
  delete(key: string): Promise<void>
  /**
   * Ends the entry's freshness now and keeps it until it would have gone anyway (its TTL plus stale
   * window, from when it was stored), so a caller whose fresh read fails can still serve it (a change made it out of date, not wrong
   * enough to lose). `storedAt` is kept: the entry's age stays honest. A missing key is left alone.
   */
  expire(key: string): Promise<void>
  /** Releases the cache's resources; later calls reject. */
  close(): Promise<void>
}

/** Every Cache refuses calls once closed. */
export function assertOpen(closed: boolean): void {
  if (closed) throw new Error('the cache is closed')
}

/** What `set` checks first in every Cache: still open, and both durations finite and >= 0. */
export function assertSettable(closed: boolean, ttlMs: number, staleMs: number): void {
  assertOpen(closed)
  assertDuration('ttlMs', ttlMs)
  assertDuration('staleMs', staleMs)
}

function assertDuration(name: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${ms}`)
}
