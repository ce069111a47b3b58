/**
 * The profiles one processor batch touches, held in memory until the batch commits in one go.
 * Lookups go to the batch first, then to the warm cache, then to what `prefetch` read for the
 * batch, then to the store, so later events in a batch see earlier ones. After the commit
 * succeeds, `keepWarm` hands what the batch learned to the cache.
 */
import { randomUUID } from 'node:crypto'
import type { InkEvent } from '../core/types.ts'
import type { IdentityKind, StoredProfile } from '../profiles/profile-store.ts'
import { type NewRecentEvent, RECENT_EVENTS_KEPT } from '../profiles/recent-events.ts'
import { emptyState } from '../traits/computed-traits.ts'
import type { BatchChanges, BatchStore, IdentityRef } from './batch-store.ts'
import { identitiesOf } from './identity.ts'
import type { WarmCache } from './warm-cache.ts'

/** The store reads a batch makes (the commit is the processor's). */
export type BatchReads = Pick<BatchStore, 'findProfileId' | 'getProfile' | 'identities' | 'lookupIdentities'>

const idKey = (ws: string, kind: IdentityKind, value: string) => `${ws}\n${kind}\n${value}`
const profileKey = (ws: string, id: string) => `${ws}\n${id}`

export class UnitOfWork {
  readonly #ids = new Map<string, string | null>()
  /** Each profile's stored version as first read (warm cache or store), before this batch changed it. */
  readonly #readVersions = new Map<string, number>()
  /** Each identity's binding as first read (warm cache or store), before this batch changed it. */
  readonly #readIds = new Map<
    string,
    { ws: string; kind: IdentityKind; value: string; profileId: string | null }
  >()
  readonly #profiles = new Map<string, StoredProfile | null>()
  /**
   * What `prefetch` read from the store before the fold: bindings (null: unbound) and profiles.
   * Consulted where the store would be; a key missing here is read from the store as before.
   */
  readonly #fetchedIds = new Map<string, string | null>()
  readonly #fetchedProfiles = new Map<string, StoredProfile>()
  readonly #dirty = new Set<string>()
  readonly changes: BatchChanges = {
    upserts: [],
    deletes: [],
    identities: [],
    messageIds: [],
    offsets: [],
    memberships: [],
    events: [],
  }

  constructor(
    private readonly store: BatchReads,
    readonly now: number,
    private readonly warm: WarmCache,
  ) {}

  /**
   * Reads, in one store call, the identities `events` will look up and their profiles, except
   * those the warm cache holds; the fold then finds them here instead of asking the store per event.
   */
  async prefetch(events: readonly InkEvent[]): Promise<void> {
    const asked: IdentityRef[] = []
    const keys: string[] = []
    const queued = new Set<string>()
    for (const e of events) {
      for (const [kind, value] of identitiesOf(e)) {
        const key = idKey(e.workspaceId, kind, value)
        if (queued.has(key) || this.#ids.has(key) || this.#fetchedIds.has(key)) continue
        queued.add(key)
        const warmId = this.warm.ids.peek(key)
        // Warm binding and warm profile (or warm "unbound"): nothing to read.
        if (warmId === null) continue
        if (warmId !== undefined && this.warm.profiles.peek(profileKey(e.workspaceId, warmId))) continue
        asked.push({ workspaceId: e.workspaceId, kind, value })
        keys.push(key)
      }
    }
    if (asked.length === 0) return
    const found = await this.store.lookupIdentities(asked)
    found.forEach((f, i) => {
      this.#fetchedIds.set(keys[i]!, f.profileId)
      if (f.profile)
        this.#fetchedProfiles.set(profileKey(f.profile.workspaceId, f.profile.profileId), f.profile)
    })
  }

  async findProfileId(ws: string, kind: IdentityKind, value: string): Promise<string | undefined> {
    const key = idKey(ws, kind, value)
    if (!this.#ids.has(key)) {
      // peek: keepWarm makes every entry the batch read recent once it commits.
      let id = this.warm.ids.peek(key)
      if (id === undefined) id = this.#fetchedIds.get(key)
      if (id === undefined) id = (await this.store.findProfileId(ws, kind, value)) ?? null
      this.#ids.set(key, id)
      if (!this.#readIds.has(key)) this.#readIds.set(key, { ws, kind, value, profileId: id })
    }
    return this.#ids.get(key) ?? undefined
  }

  async getProfile(ws: string, profileId: string): Promise<StoredProfile> {
    const key = profileKey(ws, profileId)
    let p = this.#profiles.get(key)
    if (p === undefined) {
      p =
        this.warm.profiles.peek(key) ??
        this.#fetchedProfiles.get(key) ??
        (await this.store.getProfile(ws, profileId)) ??
        null
      this.#profiles.set(key, p)
      if (p && !this.#readVersions.has(key)) this.#readVersions.set(key, p.version)
    }
    if (p === null) throw new Error(`profile ${profileId} is referenced by an identity but missing`)
    return p
  }

  create(ws: string, userId: string | null): StoredProfile {
    const p: StoredProfile = {
      workspaceId: ws,
      profileId: randomUUID(),
      userId,
      state: emptyState(),
      version: 0,
      createdAt: this.now,
      updatedAt: this.now,
      lastEventReceivedAt: 0,
    }
    this.#profiles.set(profileKey(ws, p.profileId), p)
    this.touch(p)
    return p
  }

  bind(ws: string, kind: IdentityKind, value: string, profileId: string): void {
    this.#ids.set(idKey(ws, kind, value), profileId)
    this.changes.identities.push({ workspaceId: ws, kind, value, profileId })
  }

  touch(p: StoredProfile): void {
    this.#dirty.add(profileKey(p.workspaceId, p.profileId))
  }

  /** Removes a merged-away profile and points its identities at the profile it merged into. */
  async remove(from: StoredProfile, into: StoredProfile): Promise<void> {
    const key = profileKey(from.workspaceId, from.profileId)
    for (const i of await this.store.identities(from.workspaceId, from.profileId)) {
      const key = idKey(from.workspaceId, i.kind, i.value)
      if (!this.#readIds.has(key))
        this.#readIds.set(key, {
          ws: from.workspaceId,
          kind: i.kind,
          value: i.value,
          profileId: from.profileId,
        })
      this.bind(from.workspaceId, i.kind, i.value, into.profileId)
    }
    // Identities bound earlier in this batch are not in the store yet.
    for (const c of this.changes.identities) {
      if (c.workspaceId === from.workspaceId && c.profileId === from.profileId) c.profileId = into.profileId
    }
    for (const e of this.changes.events ?? [])
      if (e.workspaceId === from.workspaceId && e.profileId === from.profileId) e.profileId = into.profileId
    for (const [k, v] of this.#ids) if (v === from.profileId) this.#ids.set(k, into.profileId)
    this.#profiles.set(key, null)
    this.#dirty.delete(key)
    if (from.version > 0)
      this.changes.deletes.push({
        workspaceId: from.workspaceId,
        profileId: from.profileId,
        into: into.profileId,
      })
  }

  /** The changes to commit, with every dirty profile's version bumped. */
  finish(): BatchChanges {
    if (this.changes.events) this.changes.events = newestPerProfile(this.changes.events)
    for (const key of this.#dirty) {
      const p = this.#profiles.get(key)
      if (!p) continue
      p.version += 1
      p.updatedAt = this.now
      this.changes.upserts.push(p)
    }
    // The profiles and bindings this batch changes, as they were read.
    this.changes.expectedProfiles = [...this.changes.upserts, ...this.changes.deletes].flatMap((p) => {
      const version = this.#readVersions.get(profileKey(p.workspaceId, p.profileId))
      return version === undefined ? [] : [{ workspaceId: p.workspaceId, profileId: p.profileId, version }]
    })
    const bound = new Set(this.changes.identities.map((i) => idKey(i.workspaceId, i.kind, i.value)))
    this.changes.expectedIdentities = [...this.#readIds]
      .filter(([key]) => bound.has(key))
      .map(([, r]) => ({ workspaceId: r.ws, kind: r.kind, value: r.value, profileId: r.profileId }))
    return this.changes
  }

  /** Call after a successful commit: the cache then holds this batch's profiles and identities. */
  keepWarm(): void {
    for (const [key, id] of this.#ids) this.warm.ids.set(key, id)
    for (const [key, p] of this.#profiles) {
      if (p) this.warm.profiles.set(key, p)
      else this.warm.profiles.delete(key)
    }
  }
}

/**
 * The events without those the same commit would delete again: beyond the newest RECENT_EVENTS_KEPT
 * of their profile within the batch (by event time, then arrival). Usually none are.
 */
function newestPerProfile(events: NewRecentEvent[]): NewRecentEvent[] {
  const counts = new Map<string, number>()
  let over = false
  for (const e of events) {
    const key = profileKey(e.workspaceId, e.profileId)
    const n = (counts.get(key) ?? 0) + 1
    counts.set(key, n)
    if (n > RECENT_EVENTS_KEPT) over = true
  }
  if (!over) return events
  const crowded = new Map<string, [NewRecentEvent, number][]>()
  events.forEach((e, i) => {
    const key = profileKey(e.workspaceId, e.profileId)
    if ((counts.get(key) ?? 0) <= RECENT_EVENTS_KEPT) return
    const list = crowded.get(key) ?? []
    list.push([e, i])
    crowded.set(key, list)
  })
  const dropped = new Set<NewRecentEvent>()
  for (const list of crowded.values()) {
    list.sort((a, b) => b[0].at - a[0].at || b[1] - a[1])
    for (const [e] of list.slice(RECENT_EVENTS_KEPT)) dropped.add(e)
  }
  return events.filter((e) => !dropped.has(e))
}
