/**
 * Walks an error and the errors it wraps. liquidjs wraps what a tag or filter throws in a
 * RenderError (`originalError`), sometimes twice (a partial inside a loop); our own errors and
 * Node's carry `cause`. One rule for every check that asks "is this, underneath, a …?".
 */

/** How many wrappers are followed; liquidjs nests one per partial or block level. */
const MAX_DEPTH = 8

/** The first error in the chain (the error itself, then its `originalError`, else its `cause`) that matches. */
export function findInChain<T>(err: unknown, match: (e: unknown) => e is T): T | undefined
export function findInChain(err: unknown, match: (e: unknown) => boolean): unknown
export function findInChain(err: unknown, match: (e: unknown) => boolean): unknown {
  for (let e = err, depth = 0; e && depth < MAX_DEPTH; depth++) {
    if (match(e)) return e
    if (typeof e !== 'object') return undefined
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause
  }
  return undefined
}
