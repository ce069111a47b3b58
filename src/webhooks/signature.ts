/**
 * The `Inkstream-Signature` header, Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256>` where
 * the HMAC is keyed with the webhook secret over `<t>.<raw body>`. The timestamp is signed with the
 * body, so a captured request cannot be replayed later than the receiver's tolerance (300 s here,
 * as Stripe's libraries use). A receiver verifies it with verifySignature (docs/architecture.md, "Open webhook").
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'inkstream-signature'
/** How far a signature's timestamp may be from the receiver's clock, either way. */
export const DEFAULT_TOLERANCE_S = 300

const hmac = (secret: string, t: number, body: string): string =>
  createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex')

/** The header value for `body` sent at `nowMs`. */
export function signatureHeader(secret: string, body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000)
  return `t=${t},v1=${hmac(secret, t, body)}`
}

export type Verification =
  | { ok: true; t: number }
  | { ok: false; reason: 'malformed' | 'too_old' | 'mismatch' }

/**
 * Whether `header` signs `body` (the raw bytes as received, not re-serialized JSON) with `secret`,
 * within `toleranceS` of `nowMs`. Every `v1=` in the header is tried (several while a secret rotates);
 * the comparison takes constant time.
 */
export function verifySignature(
  header: string | undefined,
  body: string,
  secret: string,
  nowMs: number,
  toleranceS = DEFAULT_TOLERANCE_S,
): Verification {
  if (header === undefined) return { ok: false, reason: 'malformed' }
  let t: number | undefined
  const candidates: string[] = []
  for (const part of header.split(',')) {
    const eq = part.indexOf('=')
    const key = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (key === 't' && /^\d{1,12}$/.test(value)) t = Number(value)
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) candidates.push(value)
  }
  if (t === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' }
  if (Math.abs(nowMs / 1000 - t) > toleranceS) return { ok: false, reason: 'too_old' }
  const expected = Buffer.from(hmac(secret, t, body), 'hex')
  const ok = candidates.some((c) => timingSafeEqual(Buffer.from(c, 'hex'), expected))
  return ok ? { ok: true, t } : { ok: false, reason: 'mismatch' }
}
