/** Admin API auth: the workspace's admin key as a Bearer token (or as the Basic auth username). */
import { keyFromAuthorization } from '../core/authorization.ts'
import { unauthorized } from '../core/errors.ts'
import { checkCsrf, cookieOf, SESSION_COOKIE, sessionWorkspace } from '../ui/session.ts'
import type { Workspace, WorkspaceStore } from '../workspaces/workspace-store.ts'

/** The admin key a request carries, if any: `Bearer <key>`, or `Basic` with the key as username. */
export const adminKeyOf = (header: string): string | undefined =>
  keyFromAuthorization(header, ['bearer', 'basic'])

/** The workspace whose admin key the Authorization header carries; 401 INK_ERR_UNAUTHORIZED otherwise. */
export function adminWorkspace(authorization: string | undefined, workspaces: WorkspaceStore): Workspace {
  const key = adminKeyOf(authorization ?? '')
  if (!key) throw unauthorized('this route needs the admin key: send "Authorization: Bearer <admin key>"')
  const ws = workspaces.byAdminKey(key)
  if (!ws) throw unauthorized('unknown admin key')
  return ws
}

/**
 * The workspace an admin request authenticates as: its `Authorization` header, or else the
 * dashboard's session cookie (ui/session.ts), which on a state-changing request also needs the
 * CSRF token (403 INK_ERR_CSRF).
 */
export function requestWorkspace(
  req: { method: string; headers: Record<string, string | string[] | undefined> },
  workspaces: WorkspaceStore,
  now: number,
): Workspace {
  const authorization = req.headers.authorization
  if (typeof authorization !== 'string') {
    const session = cookieOf(req.headers.cookie as string | undefined, SESSION_COOKIE)
    if (session !== undefined && session !== '') {
      const ws = sessionWorkspace(session, workspaces, now)
      if (!ws) throw unauthorized('the dashboard session has expired or was signed out: sign in again')
      checkCsrf(req, ws, session)
      return ws
    }
  }
  return adminWorkspace(typeof authorization === 'string' ? authorization : undefined, workspaces)
}

/** How /openapi.json declares the admin key: as a Bearer token or as the Basic auth username. */
export const ADMIN_SECURITY_SCHEMES = {
  adminBearer: { type: 'http', scheme: 'bearer', description: 'The workspace admin key as a Bearer token.' },
  adminBasic: {
    type: 'http',
    scheme: 'basic',
    description: 'The workspace admin key as the Basic auth username, with an empty password.',
  },
} as const

/** Either scheme authenticates an admin route. */
export const ADMIN_SECURITY = [{ adminBearer: [] }, { adminBasic: [] }]
