/**
 * The dashboard's session: signing in with a workspace's admin key sets one cookie, and every admin
 * route accepts that cookie in place of the `Authorization` header (admin-scope.ts).
 *
 * - Stateless, so every `api` process of a scale-out deployment accepts it: the cookie is
 *   `v1.<workspace id, base64url>.<expires at, epoch ms>.<nonce>.<HMAC-SHA256>` keyed by a key derived
 *   from the workspace's admin key. Rotating the admin key ends every session of that workspace.
 * - HttpOnly, SameSite=Strict, Path=/, Secure when the request came over HTTPS.
 * - CSRF: a state-changing request (anything but GET, HEAD, OPTIONS) authenticated by the cookie must
 *   carry `x-csrf-token`, an HMAC of the cookie the page reads from `GET /ui/session` (same-origin
 *   only: a cross-site page cannot read it), and must not be marked `Sec-Fetch-Site: cross-site`.
 *   Refused with 403 INK_ERR_CSRF. Requests with an `Authorization` header are not cookie-based and
 *   need no token.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { InkError } from '../core/errors.ts'
import type { Workspace, WorkspaceStore } from '../workspaces/workspace-store.ts'

export const SESSION_COOKIE = 'ink_session'
export const CSRF_HEADER = 'x-csrf-token'
/** A session lasts 12 hours from sign-in. */
export const SESSION_TTL_MS = 12 * 3_600_000

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

const keyOf = (ws: Workspace): Buffer =>
  createHash('sha256').update(`inkstream-ui-session\0${ws.adminKey}`).digest()

const mac = (key: Buffer, data: string): string => createHmac('sha256', key).update(data).digest('base64url')

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** A new session cookie value for `ws`, valid until `now + SESSION_TTL_MS`. */
export function issueSession(ws: Workspace, now: number): { value: string; expiresAt: number } {
  const expiresAt = now + SESSION_TTL_MS
  const body = `v1.${Buffer.from(ws.id).toString('base64url')}.${expiresAt}.${randomBytes(12).toString('base64url')}`
  return { value: `${body}.${mac(keyOf(ws), body)}`, expiresAt }
}

/** The workspace a session cookie value belongs to, if it is authentic and not expired. */
export function sessionWorkspace(
  value: string,
  workspaces: WorkspaceStore,
  now: number,
): Workspace | undefined {
  const parts = value.split('.')
  if (parts.length !== 5 || parts[0] !== 'v1') return undefined
  const [, id64 = '', exp = '', , sig = ''] = parts
  const expiresAt = Number(exp)
  if (!Number.isSafeInteger(expiresAt) || expiresAt <= now) return undefined
  const ws = workspaces.byId(Buffer.from(id64, 'base64url').toString('utf8'))
  if (!ws) return undefined
  return sameText(sig, mac(keyOf(ws), parts.slice(0, 4).join('.'))) ? ws : undefined
}

/** The CSRF token of a session cookie value (sent by the page as `x-csrf-token`). */
export const csrfToken = (ws: Workspace, sessionValue: string): string =>
  mac(keyOf(ws), `csrf\0${sessionValue}`)

export const csrfRefused = (why: string) =>
  new InkError(
    'INK_ERR_CSRF',
    `${why}: a dashboard request that changes state must come from the dashboard page (same origin) with its x-csrf-token header`,
  )

/** Throws 403 INK_ERR_CSRF when a cookie-authenticated request may be a cross-site forgery. */
export function checkCsrf(
  req: { method: string; headers: Record<string, string | string[] | undefined> },
  ws: Workspace,
  sessionValue: string,
): void {
  if (SAFE_METHODS.has(req.method)) return
  if (req.headers['sec-fetch-site'] === 'cross-site') throw csrfRefused('cross-site request refused')
  const token = req.headers[CSRF_HEADER]
  if (typeof token !== 'string' || token === '') throw csrfRefused('missing x-csrf-token')
  if (!sameText(token, csrfToken(ws, sessionValue))) throw csrfRefused('wrong x-csrf-token')
}

/** The value of cookie `name` in a Cookie header. */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** The Set-Cookie header value for a session (or, with `value` empty, one that clears it). */
export function sessionCookie(value: string, opts: { secure: boolean; maxAgeS: number }): string {
  const attrs = [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${opts.maxAgeS}`,
  ]
  if (opts.secure) attrs.push('Secure')
  return attrs.join('; ')
}
