/** Admin API auth: the workspace's admin key as a Bearer token (or as the Basic auth username). */
import type { FastifyRequest } from 'fastify'
import { keyFromAuthorization } from '../core/authorization.ts'
import { unauthorized } from '../core/errors.ts'
import type { Workspace, WorkspaceStore } from '../workspaces/workspace-store.ts'

/** The admin key a request carries, if any: `Bearer <key>`, or `Basic` with the key as username. */
export const adminKeyOf = (header: string): string | undefined =>
  keyFromAuthorization(header, ['bearer', 'basic'])

export function adminWorkspace(req: FastifyRequest, workspaces: WorkspaceStore): Workspace {
  const key = adminKeyOf(req.headers.authorization ?? '')
  if (!key) throw unauthorized('this route needs the admin key: send "Authorization: Bearer <admin key>"')
  const ws = workspaces.byAdminKey(key)
  if (!ws) throw unauthorized('unknown admin key')
  return ws
}
