/** Finds the workspace of a collector request from its write key. */
import type { FastifyRequest } from 'fastify'
import { keyFromAuthorization } from '../core/authorization.ts'
import { unauthorized } from '../core/errors.ts'
import type { Workspace, WorkspaceStore } from '../workspaces/workspace-store.ts'

/**
 * Segment's and RudderStack's SDKs send the write key as the Basic auth username; analytics.js
 * also puts it in the body, and RudderStack's source config request in the query. `fallback` is
 * that body or query value; `where` names it in the error.
 */
export function authenticate(
  req: FastifyRequest,
  fallback: unknown,
  workspaces: WorkspaceStore,
  where = 'as "writeKey" in the body',
): Workspace {
  let key = keyFromAuthorization(req.headers.authorization, ['basic'])
  if (key === undefined && typeof fallback === 'string') key = fallback
  if (!key) throw unauthorized(`no write key: send it as the Basic auth username or ${where}`)
  const ws = workspaces.byWriteKey(key)
  if (!ws) throw unauthorized('unknown write key')
  return ws
}
