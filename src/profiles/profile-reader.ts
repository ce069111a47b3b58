/**
 * Reads a profile's traits for rendering, through the profile cache (DESIGN.md §3): a fresh cached
 * copy is used as is; otherwise the store is read within the caller's time budget; when the store
 * is too slow or fails, a stale cached copy is served and the outcome says so.
 */
import type { Cache } from '../content/cache/cache.ts'
import type { Clock, JsonObject } from '../core/types.ts'
import { materialize } from '../traits/computed-traits.ts'
import type { TraitDef } from '../traits/traits-config.ts'
import type { ProfileStore } from './profile-store.ts'

export type ProfileReadOutcome = 'live' | 'cached' | 'stale' | 'timeout' | 'error' | 'not-found'

export interface ProfileRead {
  outcome: ProfileReadOutcome
  traits?: JsonObject
  userId?: string | null
  /** Age of the cached copy used, for cached and stale reads. */
  ageMs?: number
}

/**
 * How old the traits of a read were when read (open-time freshness): 0 for a read from the store,
 * the cached copy's age for a cached or stale one; undefined when no traits were read.
 */
export function profileAgeOf(read: ProfileRead): number | undefined {
  if (read.outcome === 'live') return 0
  if (read.outcome === 'cached' || read.outcome === 'stale') return Math.max(0, read.ageMs ?? 0)
  return undefined
}

export interface ProfileReaderDeps {
  /** What a render reads: the profile by id. */
  store: Pick<ProfileStore, 'findProfileId' | 'getProfile' | 'identities' | 'close'>
  traits: readonly TraitDef[]
  cache: Cache
  clock: Clock
  /** How long a read profile is used without asking the store again. */
  ttlMs?: number
  /** How long after that it may still be served when the store does not answer in time. */
  staleMs?: number
  /** Told the outcome of every read (the profile cache's hit ratio in the metrics). */
  onRead?: (outcome: ProfileReadOutcome) => void
}

interface Cached {
  traits: JsonObject
  userId: string | null
}

export class ProfileReader {
  readonly #ttlMs: number
  readonly #staleMs: number

  constructor(private readonly deps: ProfileReaderDeps) {
    this.#ttlMs = deps.ttlMs ?? 5_000
    this.#staleMs = deps.staleMs ?? 300_000
  }

  /** `id` is a userId or anonymousId. `delayMs` is a fault a preview injects in front of the store. */
  async read(
    workspaceId: string,
    id: string,
    opts: { timeoutMs: number; delayMs?: number | undefined },
  ): Promise<ProfileRead> {
    const read = await this.#read(workspaceId, id, opts)
    this.deps.onRead?.(read.outcome)
    return read
  }

  async #read(
    workspaceId: string,
    id: string,
    opts: { timeoutMs: number; delayMs?: number | undefined },
  ): Promise<ProfileRead> {
    const { cache, clock } = this.deps
    const key = `profile:${workspaceId}:${id}`
    const hit = await cache.get(key)
    const now = clock.now()
    if (hit && hit.expiresAt > now) {
      const c = hit.value as Cached
      return { outcome: 'cached', traits: c.traits, userId: c.userId, ageMs: now - hit.storedAt }
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), opts.timeoutMs)
    })
    try {
      const result = await Promise.race([this.#load(workspaceId, id, opts.delayMs ?? 0), timeout])
      if (result !== 'timeout') {
        if (result === undefined) {
          // Gone from the store (erased, src/privacy/): its cached copy must not be served as a fallback later.
          if (hit) await cache.delete(key)
          return { outcome: 'not-found' }
        }
        await cache.set(key, result, this.#ttlMs, this.#staleMs)
        return { outcome: 'live', ...result }
      }
      if (hit) return { outcome: 'stale', ...(hit.value as Cached), ageMs: now - hit.storedAt }
      return { outcome: 'timeout' }
    } catch {
      if (hit) return { outcome: 'stale', ...(hit.value as Cached), ageMs: now - hit.storedAt }
      return { outcome: 'error' }
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * A change to the profile was committed (the processor calls this): the cached copy is no longer
   * fresh, so the next read asks the store. It stays the fallback for a read the store fails or
   * does not answer in time: the profile before the change beats no profile at all.
   */
  async invalidate(workspaceId: string, id: string): Promise<void> {
    await this.deps.cache.expire(`profile:${workspaceId}:${id}`)
  }

  /**
   * The profile was erased: its cached copies (one per id it was read by) are deleted, not expired as
   * by invalidate(), so not even a failing store makes them served again.
   */
  async forget(workspaceId: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) await this.deps.cache.delete(`profile:${workspaceId}:${id}`)
  }

  async #load(workspaceId: string, id: string, delayMs: number): Promise<Cached | undefined> {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs))
    const { store, traits, clock } = this.deps
    const profileId =
      (await store.findProfileId(workspaceId, 'userId', id)) ??
      (await store.findProfileId(workspaceId, 'anonymousId', id))
    if (profileId === undefined) return undefined
    const p = await store.getProfile(workspaceId, profileId)
    if (!p) return undefined
    return { traits: materialize(p.state, traits, clock.now()), userId: p.userId }
  }
}
