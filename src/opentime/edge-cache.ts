/**
 * The edge layer of open-time caching (DESIGN.md §5, issue 11): Cache-Control a CDN or reverse
 * proxy can act on, a strong ETag, and If-None-Match → 304 without a body.
 *
 * - `private` blocks (the default: personal data) may be kept by the recipient's client but not by
 *   a shared cache; `public` blocks (the same for everyone holding the URL) get `s-maxage` too.
 *   The URL carries a per-message token, so even a public entry is one recipient's.
 * - `max-age` = `openTime.cacheTtlSeconds` (≤ 60). `stale-while-revalidate` lets a cache answer at
 *   once while it refetches; `stale-if-error` lets it keep serving the last image if we are down —
 *   better than a broken image in someone's inbox.
 * - The ETag is a hash of what decides the bytes (an image: its kind, markup and size; a JSON or
 *   page: the body), so a 304 is answered before anything is rasterised or encoded.
 */
import { createHash } from 'node:crypto'

export interface EdgePolicy {
  /** `openTime.cacheTtlSeconds`. */
  ttlSeconds: number
  scope: 'private' | 'public'
  /** Allow stale-while-revalidate (default true); a countdown must not be served seconds old. */
  revalidate?: boolean
}

/** How long past max-age a cache may serve the old copy while it refetches, or while we fail. */
const STALE_WHILE_REVALIDATE_S = 30
const STALE_IF_ERROR_S = 86_400

/** The Cache-Control value for an open-time answer. */
export function cacheControl(p: EdgePolicy): string {
  const ttl = Math.max(0, Math.min(60, Math.floor(p.ttlSeconds)))
  if (ttl === 0) return 'no-cache'
  const parts = [p.scope, `max-age=${ttl}`]
  if (p.scope === 'public') parts.push(`s-maxage=${ttl}`)
  if (p.revalidate ?? true) parts.push(`stale-while-revalidate=${STALE_WHILE_REVALIDATE_S}`)
  parts.push(`stale-if-error=${STALE_IF_ERROR_S}`)
  return parts.join(', ')
}

/** For refused tokens and errors: never cached anywhere, never a referrer. */
export const NO_STORE = 'no-store'

/** A strong ETag over the parts that determine a response's bytes. */
export function strongEtag(...parts: readonly (string | Buffer)[]): string {
  const h = createHash('sha256')
  for (const p of parts) {
    h.update(typeof p === 'string' ? p : p.toString('base64'))
    h.update('\u0000')
  }
  return `"${h.digest('base64url').slice(0, 27)}"`
}

/**
 * A weak ETag (RFC 9110 §8.8.1) over what a client shows, for an answer whose bytes also carry how
 * it was made (the JSON's report: profile read live or from the cache, sources fetched or cached).
 * Two answers with the same content are then one version, however their inputs were read.
 */
export function weakEtag(...parts: readonly (string | Buffer)[]): string {
  return `W/${strongEtag(...parts)}`
}

/**
 * Whether If-None-Match matches a strong ETag (RFC 9110 §13.1.2: weak comparison, so a `W/` copy
 * a proxy made still matches; `*` matches anything that exists).
 */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const bare = etag.replace(/^W\//, '')
  for (const raw of ifNoneMatch.split(',')) {
    const tag = raw.trim()
    if (tag === '*' || tag.replace(/^W\//, '') === bare) return true
  }
  return false
}
