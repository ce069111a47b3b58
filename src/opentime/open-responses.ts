/**
 * The shapes of open-time requests and answers, the path parser, and refusals: a refused image is a
 * tiny transparent image carrying the 4xx status and the stable code in `x-ink-error-code`; a refused
 * JSON is the API's error body; a refused web view a small HTML page. None is ever cached.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { escapeHtml } from '../content/escape-html.ts'
import type { ErrorCode } from '../core/errors.ts'
import { TRANSPARENT_GIF } from '../delivery/tracking-pages.ts'
import { NO_STORE } from './edge-cache.ts'
import type { OpenSurface } from './open-event.ts'

export interface OpenRequest {
  /** What follows `/o/`: `<token>/<block>.<png|gif|json>` or `<token>/view`. */
  path: string
  method: string
  headers: IncomingHttpHeaders
  query: Readonly<Record<string, unknown>>
}

export interface OpenResponse {
  status: number
  headers: Record<string, string>
  /** Absent for 304 (and HEAD is answered without it by the server). */
  body?: Buffer | string
}

/** A 1×1 transparent PNG (67 bytes): the answer to an image request whose token is refused. */
export const TRANSPARENT_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAACklEQVR4AWMAAQAABQABNtCI3QAAAABJRU5ErkJggg==',
  'base64',
)

/** Block names as live-tags allows them (`[a-z0-9_-]{1,64}`). */
const BLOCK_NAME = /^[a-z0-9_-]{1,64}$/

export type ParsedPath =
  | { ok: true; token: string; surface: OpenSurface; name: string }
  | { ok: false; surface: OpenSurface; message: string }

/** `<token>/view` or `<token>/<name>.<png|gif|json>`; anything else is not one of our URLs. */
export function parseOpenPath(path: string): ParsedPath {
  const clean = path.split('?')[0] ?? ''
  const slash = clean.indexOf('/')
  const rest = slash < 0 ? '' : clean.slice(slash + 1)
  const ext = /\.(png|gif|json)$/.exec(rest)?.[1] as OpenSurface | undefined
  const surface: OpenSurface = rest === 'view' ? 'view' : (ext ?? 'json')
  if (slash <= 0)
    return { ok: false, surface, message: 'expected /o/<token>/<block>.png|.gif|.json or /o/<token>/view' }
  const token = clean.slice(0, slash)
  if (rest === 'view') return { ok: true, token, surface: 'view', name: '' }
  const name = ext === undefined ? '' : rest.slice(0, -(ext.length + 1))
  if (ext === undefined || !BLOCK_NAME.test(name))
    return { ok: false, surface, message: 'expected /o/<token>/<block>.png|.gif|.json or /o/<token>/view' }
  return { ok: true, token, surface: ext, name }
}

export function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ success: false, code, message })
}

/** The answer for a request that renders nothing and records nothing. */
export function refusal(
  surface: OpenSurface,
  status: number,
  code: ErrorCode,
  message: string,
  extra: Record<string, string> = {},
): OpenResponse {
  const headers: Record<string, string> = {
    ...extra,
    'cache-control': NO_STORE,
    'referrer-policy': 'no-referrer',
    'x-robots-tag': 'noindex, nofollow',
    'x-ink-error-code': code,
  }
  switch (surface) {
    case 'png':
      return { status, headers: { ...headers, 'content-type': 'image/png' }, body: TRANSPARENT_PNG }
    case 'gif':
      return { status, headers: { ...headers, 'content-type': 'image/gif' }, body: TRANSPARENT_GIF }
    case 'json':
      return {
        status,
        headers: { ...headers, 'content-type': 'application/json; charset=utf-8' },
        body: errorBody(code, message),
      }
    case 'view':
      return {
        status,
        headers: { ...headers, 'content-type': 'text/html; charset=utf-8' },
        body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Not available</title></head><body><h1>This email cannot be shown</h1><p>${escapeHtml(message)}</p></body></html>\n`,
      }
  }
}
