/**
 * The dashboard (issue 13), served by every process that runs the `api` role:
 * - GET / — the shell page: one stylesheet and one module script, both from /ui/assets/ (no inline
 *   script; the Content-Security-Policy below forbids it);
 * - GET /ui/assets/<name> — the bundle (assets.ts), content-hashed and immutable;
 * - POST /ui/session {adminKey} signs in (sets the session cookie, ui/session.ts), GET /ui/session
 *   tells the page whether and who is signed in, and its CSRF token; DELETE /ui/session signs out;
 * - POST /ui/csp-report — where browsers report CSP violations (logged at warn).
 * The pages call the admin API (/v1/…) with the session cookie and the CSRF token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InkError, unauthorized } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import type { Workspace, WorkspaceStore } from '../workspaces/workspace-store.ts'
import { dashboardBundle } from './assets.ts'
import {
  CSRF_HEADER,
  checkCsrf,
  cookieOf,
  csrfRefused,
  csrfToken,
  issueSession,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  sessionCookie,
  sessionWorkspace,
} from './session.ts'

export interface UiRoutesDeps {
  workspaces: WorkspaceStore
  clock: Clock
  /** INKSTREAM_PUBLIC_URL (else the bound URL): an https one means a TLS proxy in front, so cookies are Secure. */
  publicUrl?: () => string
}

/** The dashboard's Content-Security-Policy: scripts only from this origin, never inline. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // CodeMirror and uPlot set styles from script, and a preview's email HTML carries inline styles.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: https:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  'report-uri /ui/csp-report',
].join('; ')

function securityHeaders(reply: FastifyReply): void {
  reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
}

/** Served over HTTPS: TLS here, or a public URL that is https (a TLS-terminating proxy in front). */
const isHttps = (req: FastifyRequest, deps: UiRoutesDeps): boolean =>
  req.protocol === 'https' || (deps.publicUrl?.().startsWith('https:') ?? false)

const escapeAttr = (s: string): string =>
  s.replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' })[c] ?? c)

function shellPage(script: string, style: string | undefined): string {
  const css = style ? `<link rel="stylesheet" href="/ui/assets/${escapeAttr(style)}">` : ''
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inkstream</title>
<link rel="icon" href="data:,">
${css}
<script type="module" src="/ui/assets/${escapeAttr(script)}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The Inkstream dashboard needs JavaScript.</noscript>
</body>
</html>
`
}

interface SignIn {
  adminKey?: unknown
}

/** Dashboard CSP reports logged per minute at most; the rest are answered and dropped. */
export const CSP_LINES_PER_MINUTE = 10
let cspMinute = 0
let cspLines = 0

/** A URI as logged from a CSP report: no query or fragment (tokens live there), at most 256 characters. */
const cspUri = (v: unknown): string | undefined =>
  typeof v === 'string' ? (v.split(/[?#]/, 1)[0] ?? '').slice(0, 256) : undefined

/**
 * What a CSP report says, as log fields: the directive, the blocked URI and the page, from either
 * format (report-uri's `{ "csp-report": { … } }`, the Reporting API's `[{ type, body: { … } }]`).
 * Nothing else of the body, which anyone can post.
 */
export function cspFields(body: unknown): Record<string, string> {
  const entry = Array.isArray(body) ? (body[0] as { body?: unknown } | undefined)?.body : body
  const r = ((entry as Record<string, unknown> | undefined)?.['csp-report'] ?? entry ?? {}) as Record<
    string,
    unknown
  >
  const fields: Record<string, string> = {}
  const directive = r['effective-directive'] ?? r.effectiveDirective ?? r['violated-directive']
  if (typeof directive === 'string') fields['inkstream.csp.directive'] = directive.slice(0, 64)
  const blocked = cspUri(r['blocked-uri'] ?? r.blockedURL)
  if (blocked !== undefined) fields['inkstream.csp.blocked_uri'] = blocked
  const page = cspUri(r['document-uri'] ?? r.documentURL)
  if (page !== undefined) fields['inkstream.csp.document_uri'] = page
  return fields
}

export async function uiRoutes(app: FastifyInstance, deps: UiRoutesDeps): Promise<void> {
  app.addHook('onSend', async (_req, reply) => {
    securityHeaders(reply)
  })

  app.get('/', async (_req, reply) => {
    const { entry } = await dashboardBundle()
    return reply
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(shellPage(entry.script, entry.style))
  })

  app.get<{ Params: { name: string } }>('/ui/assets/:name', async (req, reply) => {
    const asset = (await dashboardBundle()).files.get(req.params.name)
    if (!asset) throw new InkError('INK_ERR_NOT_FOUND', `no dashboard asset named ${req.params.name}`)
    return reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(asset.contentType)
      .send(asset.body)
  })

  const session = (req: FastifyRequest) => {
    const value = cookieOf(req.headers.cookie, SESSION_COOKIE)
    const ws = value ? sessionWorkspace(value, deps.workspaces, deps.clock.now()) : undefined
    return ws && value ? { ws, value } : undefined
  }
  const sessionBody = (ws: Workspace, value: string, expiresAt: number) => ({
    signedIn: true,
    workspace: ws.id,
    csrfToken: csrfToken(ws, value),
    csrfHeader: CSRF_HEADER,
    expiresAt: new Date(expiresAt).toISOString(),
  })

  app.get('/ui/session', async (req, reply) => {
    // 200 either way: the page asks before it knows, and a 401 would be a console error in every browser.
    const s = session(req)
    reply.header('cache-control', 'no-store')
    if (!s) return reply.send({ signedIn: false })
    const expiresAt = Number(s.value.split('.')[2])
    return reply.send(sessionBody(s.ws, s.value, expiresAt))
  })

  app.post<{ Body: SignIn }>('/ui/session', async (req, reply) => {
    // A cross-site page must not sign a victim in to the attacker's workspace (login CSRF).
    if (req.headers['sec-fetch-site'] === 'cross-site') throw csrfRefused('cross-site sign-in refused')
    const key = req.body?.adminKey
    if (typeof key !== 'string' || key === '')
      throw new InkError(
        'INK_ERR_BAD_REQUEST',
        'invalid request: adminKey: the workspace admin key is required',
      )
    const ws = deps.workspaces.byAdminKey(key)
    if (!ws) throw unauthorized('unknown admin key')
    const { value, expiresAt } = issueSession(ws, deps.clock.now())
    return reply
      .header(
        'set-cookie',
        sessionCookie(value, { secure: isHttps(req, deps), maxAgeS: SESSION_TTL_MS / 1000 }),
      )
      .header('cache-control', 'no-store')
      .send(sessionBody(ws, value, expiresAt))
  })

  app.delete('/ui/session', async (req, reply) => {
    const s = session(req)
    if (s) checkCsrf(req, s.ws, s.value)
    return reply
      .header('set-cookie', sessionCookie('', { secure: isHttps(req, deps), maxAgeS: 0 }))
      .status(204)
      .send()
  })

  app.post(
    '/ui/csp-report',
    {
      // Browsers send application/csp-report (report-uri) or application/reports+json (Reporting API).
      bodyLimit: 16 * 1024,
    },
    async (req, reply) => {
      // Anyone can post here: a few chosen fields, cut and without query strings (a report's URIs
      // can carry tokens), and at most CSP_LINES_PER_MINUTE lines a minute.
      const minute = Math.floor(Date.now() / 60_000)
      if (minute !== cspMinute) {
        cspMinute = minute
        cspLines = 0
      }
      if (cspLines++ < CSP_LINES_PER_MINUTE)
        req.log.warn({ 'event.action': 'csp-violation', ...cspFields(req.body) }, 'dashboard CSP violation')
      return reply.status(204).send()
    },
  )
  app.addContentTypeParser(
    ['application/csp-report', 'application/reports+json'],
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_req, body, done) => {
      try {
        done(null, JSON.parse(String(body)))
      } catch {
        done(null, { unparsable: true })
      }
    },
  )
}
