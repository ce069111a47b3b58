/**
 * AMP for Email CORS on the .json route (https://amp.dev/documentation/guides-and-tutorials/learn/cors-in-email).
 *
 * - v2: the client sends `AMP-Email-Sender: <sender address>`; an allowed sender gets
 *   `AMP-Email-Allow-Sender: <the same value>`. v2 takes precedence: when both are present, Origin
 *   and `__amp_source_origin` are ignored (the spec's example 3).
 * - v1 (deprecated, still sent by some clients): `Origin: <the client's page origin>` and the query
 *   parameter `__amp_source_origin=<sender address>` (in email the "source origin" IS the sender's
 *   address). An allowed sender gets `Access-Control-Allow-Origin: <Origin>`,
 *   `AMP-Access-Control-Allow-Source-Origin: <sender>` and
 *   `Access-Control-Expose-Headers: AMP-Access-Control-Allow-Source-Origin`. v1 with an Origin but no
 *   `__amp_source_origin` is refused.
 * - So the allowed v1 source origins are exactly the allowed v2 senders (`openTime.ampSenders`).
 *   Addresses compare case-insensitively (mail systems treat them so in practice); the answer echoes
 *   the request's own spelling, as the spec asks for "the same value". `*` is never answered.
 *
 * Departure from the spec's "neither header → reject": a request with neither (curl, the web view's
 * own scripts, a CDN warming its cache) is served without CORS headers. CORS protects what a browser
 * page may read; without `Origin` no cross-origin page is reading, and the token is the credential.
 */

export const AMP_EMAIL_SENDER = 'amp-email-sender'

export type AmpCorsResult =
  | { ok: true; version: 'v1' | 'v2' | 'none'; headers: Record<string, string> }
  | { ok: false; version: 'v1' | 'v2'; reason: string }

/** Caches must key the .json answer by these request headers (the query is in the URL already). */
export const AMP_VARY = 'Origin, AMP-Email-Sender'

/** The CORS decision for one request; `allowed` is `openTime.ampSenders`. */
export function ampCors(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  query: Readonly<Record<string, unknown>>,
  allowed: readonly string[],
): AmpCorsResult {
  const isAllowed = (sender: string) => {
    const s = sender.trim().toLowerCase()
    return s.length > 0 && allowed.some((a) => a.toLowerCase() === s)
  }
  const sender = single(headers[AMP_EMAIL_SENDER])
  if (sender !== undefined) {
    if (!isAllowed(sender)) return { ok: false, version: 'v2', reason: `sender "${sender}" is not allowed` }
    return { ok: true, version: 'v2', headers: { 'amp-email-allow-sender': sender.trim() } }
  }
  const origin = single(headers.origin)
  if (origin !== undefined) {
    const source = query.__amp_source_origin
    if (typeof source !== 'string' || source.length === 0)
      return { ok: false, version: 'v1', reason: 'Origin without __amp_source_origin' }
    if (!isAllowed(source))
      return { ok: false, version: 'v1', reason: `source origin "${source}" is not allowed` }
    return {
      ok: true,
      version: 'v1',
      headers: {
        'access-control-allow-origin': origin,
        // Trimmed: a query value may hold CR/LF around the address, which a header cannot.
        'amp-access-control-allow-source-origin': source.trim(),
        'access-control-expose-headers': 'AMP-Access-Control-Allow-Source-Origin',
      },
    }
  }
  return { ok: true, version: 'none', headers: {} }
}

/** A header sent once; a repeated one is treated as its first value. */
function single(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v
  return s === undefined || s.trim() === '' ? undefined : s
}
