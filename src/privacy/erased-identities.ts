/**
 * What a log consumer knows of erasures (src/privacy/): the tombstones committed so far, read
 * incrementally (one indexed query per batch, by seq), held as hashes in memory. An event naming an
 * identity erased within the window (its userId, anonymousId or previousId) is one to drop. Used by
 * the processor (no profile comes back) and the analytics consumer (no message row comes back).
 */
import type { InkEvent } from '../core/types.ts'
import { identityHash } from './erasure-plan.ts'
import type { Tombstone } from './privacy-schema.ts'

/** How long events of an erased identity are dropped after its erasure: 30 days. */
export const ERASURE_TOMBSTONE_MS = 30 * 86_400_000

export class ErasedIdentities {
  /** `${workspaceId}\n${idHash}` → erasedAt. */
  readonly #erased = new Map<string, number>()
  /** The newest tombstone read (0: none). */
  seq = 0

  constructor(
    private readonly read: (afterSeq: number) => Promise<Tombstone[]>,
    private readonly windowMs = ERASURE_TOMBSTONE_MS,
  ) {}

  /** Reads the tombstones committed since the last call; true when there were any. */
  async refresh(now: number): Promise<boolean> {
    const fresh = await this.read(this.seq)
    if (fresh.length === 0) return false
    const oldest = now - this.windowMs
    for (const t of fresh) {
      this.seq = Math.max(this.seq, t.seq)
      if (t.erasedAt > oldest) this.#erased.set(`${t.workspaceId}\n${t.idHash}`, t.erasedAt)
    }
    for (const [k, at] of this.#erased) if (at <= oldest) this.#erased.delete(k)
    return true
  }

  /** True for an event naming an identity erased within the window. Free while nothing is erased. */
  has(e: Pick<InkEvent, 'workspaceId' | 'userId' | 'anonymousId' | 'previousId'>, now: number): boolean {
    if (this.#erased.size === 0) return false
    const oldest = now - this.windowMs
    for (const id of [e.userId, e.anonymousId, e.previousId]) {
      if (id === undefined || id === null) continue
      const at = this.#erased.get(`${e.workspaceId}\n${identityHash(e.workspaceId, id)}`)
      if (at !== undefined && at > oldest) return true
    }
    return false
  }
}
