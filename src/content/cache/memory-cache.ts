/**
 * In-process Cache: a Map kept in least-recently-used order, bounded by entry count, with per-entry
 * TTL plus stale window. Expired entries are dropped lazily (on read, or when the bound evicts them),
 * so the cache owns no timer.
 */
import type { Clock } from '../../core/types.ts'
import { systemClock } from '../../core/types.ts'
import type { Cache, CacheEntry } from './cache.ts'

export interface MemoryCacheOptions {
  /** Most entries kept; the least recently used one is evicted beyond it. Default 10,000. */
  maxEntries?: number
  clock?: Clock
}

interface Stored extends CacheEntry {
  /** Epoch milliseconds after which the entry is gone (expiresAt + staleMs). */
  retainUntil: number
}

export class MemoryCache implements Cache {
  readonly #entries = new Map<string, Stored>()
  readonly #maxEntries: number
  readonly #clock: Clock
  #closed = false

  constructor(opts: MemoryCacheOptions = {}) {
    this.#maxEntries = opts.maxEntries ?? 10_000
    if (!Number.isInteger(this.#maxEntries) || this.#maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${this.#maxEntries}`)
    }
    this.#clock = opts.clock ?? systemClock
  }

  /** Number of entries held, including stale ones not yet dropped. */
  get size(): number {
    return this.#entries.size
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    this.#assertOpen()
    const stored = this.#entries.get(key)
    if (stored === undefined) return undefined
    this.#entries.delete(key)
    if (this.#clock.now() >= stored.retainUntil) return undefined
    this.#entries.set(key, stored) // re-insert: most recently used
    return { value: stored.value, storedAt: stored.storedAt, expiresAt: stored.expiresAt }
  }

  async set(key: string, value: unknown, ttlMs: number, staleMs: number): Promise<void> {
    this.#assertOpen()
    assertDuration('ttlMs', ttlMs)
    assertDuration('staleMs', staleMs)
    const storedAt = this.#clock.now()
    const expiresAt = storedAt + ttlMs
    this.#entries.delete(key)
    this.#entries.set(key, { value, storedAt, expiresAt, retainUntil: expiresAt + staleMs })
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done) break
      this.#entries.delete(oldest.value)
    }
  }

  async delete(key: string): Promise<void> {
    this.#assertOpen()
    this.#entries.delete(key)
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#entries.clear()
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the cache is closed')
  }
}

function assertDuration(name: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${ms}`)
}
