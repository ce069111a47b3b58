/**
 * The cache and coalescing key of a call: workspace, method, URL, body, template headers, and the
 * credential's name plus a hash of its header values (so rotated credentials miss the cache). The
 * whole tuple is hashed; credential values never appear in a key in clear text.
 */
import { createHash } from 'node:crypto'

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

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url')

export function requestKey(p: KeyParts): string {
  const credentialHash =
    p.credential === undefined ? null : sha256(JSON.stringify(sorted(p.credentialHeaders)))
  const digest = sha256(
    JSON.stringify([
      p.method,
      p.url,
      p.body ?? null,
      sorted(p.headers),
      p.credential ?? null,
      credentialHash,
    ]),
  )
  return `cc:${encodeURIComponent(p.workspaceId)}:${digest}`
}
