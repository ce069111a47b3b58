/**
 * In-process Cache: an LRU (lru-cache: a doubly linked list over preallocated slots, so a get or an
 * eviction is O(1) whatever was deleted before), bounded by entry count, with per-entry TTL plus
 * stale window. Expired entries are dropped lazily (on read, or when the bound evicts them), so the
 * cache owns no timer.
 */
import { LRUCache } from 'lru-cache'
import type { Clock } from '../../core/types.ts'
import { systemClock } from '../../core/types.ts'
import { assertOpen, assertSettable, type Cache, type CacheEntry } from './cache.ts'

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
  readonly #entries: LRUCache<string, Stored>
  readonly #clock: Clock
  #closed = false

  constructor(opts: MemoryCacheOptions = {}) {
    const maxEntries = opts.maxEntries ?? 10_000
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`)
    }
    // Expiry is ours (the injected clock decides it); lru-cache only keeps the order and the bound.
    this.#entries = new LRUCache<string, Stored>({ max: maxEntries })
    this.#clock = opts.clock ?? systemClock
  }

  /** Number of entries held, including stale ones not yet dropped. */
  get size(): number {
    return this.#entries.size
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    assertOpen(this.#closed)
    return this.#read(key)
  }

  peek(key: string): CacheEntry | undefined {
    return this.#closed ? undefined : this.#read(key)
  }

  #read(key: string): CacheEntry | undefined {
    const stored = this.#entries.get(key) // marks it most recently used
    if (stored === undefined) return undefined
    if (this.#clock.now() >= stored.retainUntil) {
      this.#entries.delete(key)
      return undefined
    }
    return { value: stored.value, storedAt: stored.storedAt, expiresAt: stored.expiresAt }
  }

  async set(key: string, value: unknown, ttlMs: number, staleMs: number): Promise<void> {
    assertSettable(this.#closed, ttlMs, staleMs)
    const storedAt = this.#clock.now()
    const expiresAt = storedAt + ttlMs
    this.#entries.set(key, { value, storedAt, expiresAt, retainUntil: expiresAt + staleMs })
  }

  async delete(key: string): Promise<void> {
    assertOpen(this.#closed)
    this.#entries.delete(key)
  }

  async expire(key: string): Promise<void> {
    assertOpen(this.#closed)
    const stored = this.#entries.peek(key)
    if (stored !== undefined) stored.expiresAt = Math.min(stored.expiresAt, this.#clock.now())
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#entries.clear()
  }
}
