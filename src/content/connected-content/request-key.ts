/**
 * The cache and coalescing key of a call: workspace, method, URL, body, template headers, and the
 * credential's name plus a hash of its header values (so rotated credentials miss the cache). The
 * whole tuple is hashed; credential values never appear in a key in clear text.
 *
 * Every render of a template with a source computes one key (a cache hit needs it), so the work is
 * kept to one one-shot hash (crypto.hash), and the common call without body, headers or credential
 * skips building and sorting the tuple.
 */
import { hash } from 'node:crypto'

export interface KeyParts {
  workspaceId: string
  method: string
  url: string
  body: string | undefined
  headers: Record<string, string>
  credential: string | undefined
  credentialHeaders: Record<string, string>
}

const sorted = (headers: Record<string, string>) =>
  Object.entries(headers)
    .map(([k, v]) => [k.toLowerCase(), v])
    .sort(([a = ''], [b = '']) => (a < b ? -1 : a > b ? 1 : 0))

const sha256 = (text: string) => hash('sha256', text, 'base64url')

/** `JSON.stringify([body, headers, credential, credentialHash])` without its `[`, for a call with none. */
const PLAIN_TAIL = 'null,[],null,null]'

/** True when the object has no own enumerable key (the usual template call sends no headers). */
function isEmpty(o: Record<string, string>): boolean {
  for (const _ in o) return false
  return true
}

export function requestKey(p: KeyParts): string {
  const tail =
    p.body === undefined && p.credential === undefined && isEmpty(p.headers)
      ? PLAIN_TAIL
      : JSON.stringify([
          p.body ?? null,
          sorted(p.headers),
          p.credential ?? null,
          p.credential === undefined ? null : sha256(JSON.stringify(sorted(p.credentialHeaders))),
        ]).slice(1)
  // The same text as JSON.stringify([method, url, body, headers, credential, credentialHash]).
  const digest = sha256(`[${JSON.stringify(p.method)},${JSON.stringify(p.url)},${tail}`)
  return `cc:${encodeURIComponent(p.workspaceId)}:${digest}`
}
