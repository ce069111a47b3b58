/** Admin API auth: the workspace's admin key as a Bearer token (or as the Basic auth username). */
import type { FastifyRequest } from 'fastify'
import { unauthorized } from '../core/errors.ts'
import type { Workspace, WorkspaceStore } from '../workspaces/workspace-store.ts'

/** `<scheme> <credentials>`; the scheme is case-insensitive (RFC 7235 §2.1), so `bearer` is Bearer. */
const CREDENTIALS = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)[ ]+(\S.*)$/

/** The admin key a request carries, if any: `Bearer <key>`, or `Basic` with the key as username. */
export function adminKeyOf(header: string): string | undefined {
  const m = CREDENTIALS.exec(header.trim())
  if (!m) return undefined
  const scheme = m[1]?.toLowerCase()
  const value = (m[2] ?? '').trim()
  if (scheme === 'bearer') return value
  if (scheme === 'basic') return Buffer.from(value, 'base64').toString('utf8').split(':')[0]
  return undefined
}

export function adminWorkspace(req: FastifyRequest, workspaces: WorkspaceStore): Workspace {
  const key = adminKeyOf(req.headers.authorization ?? '')
  if (!key) throw unauthorized('this route needs the admin key: send "Authorization: Bearer <admin key>"')
  const ws = workspaces.byAdminKey(key)
  if (!ws) throw unauthorized('unknown admin key')
  return ws
}
