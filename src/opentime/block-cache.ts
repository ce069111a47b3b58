/**
 * Layer 1 of open-time caching: rendered block images through the Cache seam (in process embedded,
 * Redis scale-out). An image is a pure function of (kind, markup, size) — the markup already holds
 * everything the recipient's profile, the template version and the sources put in it — so the bytes
 * are keyed by the workspace and hash(kind, markup, size): a profile change changes the markup and
 * so the key (a change shows on the next open, no invalidation needed), and recipients whose block
 * renders the same (a fallback, a public block) share one entry. Values are base64 (the seam stores JSON).
 */
import { createHash } from 'node:crypto'
import type { Cache } from '../content/cache/cache.ts'

export type CacheResult = 'hit' | 'miss' | 'error' | 'timeout'

/**
 * Longest a lookup may take before it counts as a miss: a Redis that hangs (its own command timeout
 * is 250 ms, the whole open's budget) must cost a re-render, not the deadline.
 */
const GET_TIMEOUT_MS = 50

export class BlockCache {
  constructor(
    private readonly cache: Cache,
    private readonly ttlMs: () => number,
    private readonly onResult: (layer: string, result: CacheResult) => void = () => {},
    private readonly getTimeoutMs = GET_TIMEOUT_MS,
  ) {}

  /** The cache key of an image: workspace + hash of everything that decides its bytes. */
  static key(workspaceId: string, kind: string, ...parts: readonly (string | number)[]): string {
    const h = createHash('sha256')
    for (const p of parts) h.update(`${String(p)}\u0000`)
    return `ot:${kind}:${workspaceId}:${h.digest('base64url')}`
  }

  async get(layer: string, key: string): Promise<Buffer | undefined> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.getTimeoutMs)
    })
    try {
      const hit = await Promise.race([this.cache.get(key), late])
      if (hit === 'timeout') {
        this.onResult(layer, 'timeout')
        return undefined
      }
      // The value never changes for a key; a stale one is still right, but the TTL bounds memory.
      const ok = hit !== undefined && typeof hit.value === 'string'
      this.onResult(layer, ok ? 'hit' : 'miss')
      return ok ? Buffer.from(hit.value as string, 'base64') : undefined
    } catch {
      this.onResult(layer, 'error')
      return undefined
    } finally {
      clearTimeout(timer)
    }
  }

  /** Best effort: a failed set costs only the next render. */
  async set(key: string, bytes: Buffer, ttlMs = this.ttlMs()): Promise<void> {
    if (ttlMs <= 0) return
    try {
      await this.cache.set(key, bytes.toString('base64'), ttlMs, 0)
    } catch {
      this.onResult('set', 'error')
    }
  }
}
