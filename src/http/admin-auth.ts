/** Admin API auth: the workspace's admin key as a Bearer token (or as the Basic auth username). */
import type { FastifyRequest } from 'fastify'
import { unauthorized } from '../core/errors.ts'
import type { Workspace, WorkspaceStore } from '../workspaces/workspace-store.ts'

export function adminWorkspace(req: FastifyRequest, workspaces: WorkspaceStore): Workspace {
  const header = req.headers.authorization ?? ''
  let key: string | undefined
  if (header.startsWith('Bearer ')) key = header.slice(7).trim()
  else if (header.startsWith('Basic '))
    key = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8').split(':')[0]
  if (!key) throw unauthorized('this route needs the admin key: send "Authorization: Bearer <admin key>"')
  const ws = workspaces.byAdminKey(key)
  if (!ws) throw unauthorized('unknown admin key')
  return ws
}
