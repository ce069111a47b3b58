/**
 * Profiles and identity lookups kept warm between processor batches, so a busy profile is not
 * read and parsed from the store for every batch. Valid only while this processor is the only
 * writer of the profiles it holds (the consumer owning their partition): the processor clears it
 * when a commit fails (objects may hold uncommitted changes) and must clear it when it loses a
 * partition. Bounded; the least recently used entries go first.
 */
import type { StoredProfile } from '../profiles/profile-store.ts'

class Lru<V> {
  readonly #map = new Map<string, V>()
  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    const v = this.#map.get(key)
    if (v !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, v)
    }
    return v
  }

  /** Reads without making the entry recent (a batch's reads: its commit sets them again). */
  peek(key: string): V | undefined {
    return this.#map.get(key)
  }

  set(key: string, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value as string)
  }

  delete(key: string): void {
    this.#map.delete(key)
  }

  clear(): void {
    this.#map.clear()
  }

  get size(): number {
    return this.#map.size
  }
}

export class WarmCache {
  /** identity key → profileId, or null for "known not to exist". */
  readonly ids: Lru<string | null>
  readonly profiles: Lru<StoredProfile>

  constructor(maxProfiles = 50_000) {
    this.ids = new Lru(maxProfiles * 2)
    this.profiles = new Lru(maxProfiles)
  }

  clear(): void {
    this.ids.clear()
    this.profiles.clear()
  }
}
