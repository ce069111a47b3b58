/**
 * Signed per-recipient tokens for tracking, unsubscribe and open-time URLs (DESIGN.md §5 "Tokens, not ids, in URLs").
 *
 * A token is `<kid>.<body>.<mac>`: `kid` names the HMAC key (so keys can rotate: new tokens use the
 * current key, tokens signed with any key still configured keep verifying), `body` is the base64url
 * of a compact JSON array holding the payload and the expiry, and `mac` is the base64url of
 * HMAC-SHA256(key, `<kid>.<body>`). The MAC covers the encoded text, not the decoded bytes, and
 * both base64url parts must be canonical, so changing any character of a token makes it fail.
 * Tokens are signed, not encrypted: anyone holding one can read its payload.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { InkError } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'

/** `confirm`: a double opt-in confirmation (topics/double-opt-in.ts); its campaignId is the topic id. */
export type TokenKind = 'click' | 'open' | 'unsubscribe' | 'open-time' | 'confirm'

/** What a token binds together: one workspace, campaign, recipient and sent message. */
export interface TokenPayload {
  kind: TokenKind
  workspaceId: string
  campaignId: string
  /** The recipient's userId. */
  recipient: string
  /** Our id of the sent message. */
  messageId: string
  /** click only: the URL the redirect goes to (one that was in the message). */
  url?: string
  /** unsubscribe only, optional: the address the message was sent to. */
  email?: string
  /** open-time only, required there: the template the message was rendered from… */
  templateId?: string
  /** …and its version, so an open renders the blocks the message was sent with. */
  version?: number
}

export type VerifyFailure = 'malformed' | 'bad-signature' | 'unknown-key' | 'expired'

export type VerifyResult =
  | { ok: true; payload: TokenPayload; expiresAt: number }
  | { ok: false; reason: VerifyFailure }

export interface VerifyOptions {
  /** Accept an authentic token after its expiry (used for unsubscribes, which are always honoured). */
  ignoreExpiry?: boolean
}

/** The key new tokens are signed with: what a build worker needs to sign the same tokens. */
export interface SigningKey {
  kid: string
  key: Uint8Array
}

export interface TokenCodec {
  /** A token for `payload` that verifies until clock.now() + ttlMs. */
  sign(payload: TokenPayload, ttlMs: number): string
  /** The current signing key (createTokenCodec's codecs have it); without it signing stays inline. */
  readonly signing?: SigningKey
  /** The payload of an authentic, unexpired token, or why the token was refused. */
  verify(token: string, opts?: VerifyOptions): VerifyResult
}

export interface TokenCodecOptions {
  /** Every key that may verify a token, by key id. Remove a key to revoke all tokens signed with it. */
  keys: Readonly<Record<string, Buffer>>
  /** The key id new tokens are signed with. */
  currentKid: string
  clock: Clock
}

const FORMAT_VERSION = 1
const KID = /^[A-Za-z0-9_-]{1,32}$/
const B64URL = /^[A-Za-z0-9_-]+$/
/** RFC 2104 §3: keys shorter than the hash output weaken the MAC. */
const MIN_KEY_BYTES = 32
const MAC_BYTES = 32
/** Refuse obviously oversized input before spending a MAC on it; real tokens are a few hundred chars. */
const MAX_TOKEN_CHARS = 16_384

const KIND_CODES: Record<TokenKind, string> = {
  click: 'c',
  open: 'o',
  unsubscribe: 'u',
  'open-time': 't',
  confirm: 'k',
}
const KINDS_BY_CODE = new Map<unknown, TokenKind>([
  ['c', 'click'],
  ['o', 'open'],
  ['u', 'unsubscribe'],
  ['t', 'open-time'],
  ['k', 'confirm'],
])

/** The decoded bytes of a canonical base64url string (no padding, zero spare bits), else undefined. */
function decodeCanonical(text: string): Buffer | undefined {
  if (!B64URL.test(text)) return undefined
  const bytes = Buffer.from(text, 'base64url')
  return bytes.toString('base64url') === text ? bytes : undefined
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0

function checkPayload(p: TokenPayload): void {
  if (!Object.hasOwn(KIND_CODES, p.kind)) throw new TypeError(`unknown token kind "${String(p.kind)}"`)
  for (const field of ['workspaceId', 'campaignId', 'recipient', 'messageId'] as const) {
    if (!nonEmpty(p[field])) throw new TypeError(`a token needs a non-empty ${field}`)
  }
  if ((p.kind === 'click') !== (p.url !== undefined)) throw new TypeError('url belongs in click tokens only')
  if (p.kind === 'click' && !nonEmpty(p.url)) throw new TypeError('a click token needs a url')
  if (p.email !== undefined && (p.kind !== 'unsubscribe' || !nonEmpty(p.email)))
    throw new TypeError('email belongs in unsubscribe tokens only')
  if (p.kind === 'open-time') {
    if (!nonEmpty(p.templateId) || !isVersion(p.version))
      throw new TypeError('an open-time token needs a templateId and a positive integer version')
  } else if (p.templateId !== undefined || p.version !== undefined)
    throw new TypeError('templateId and version belong in open-time tokens only')
}

const isVersion = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0

/**
 * [version, kind, workspace, campaign, recipient, message, expiresAt, url | email | templateId,
 * templateVersion (open-time)]: short keys, short URLs.
 */
function encodeBody(p: TokenPayload, expiresAt: number): string {
  const fields: unknown[] = [
    FORMAT_VERSION,
    KIND_CODES[p.kind],
    p.workspaceId,
    p.campaignId,
    p.recipient,
    p.messageId,
    expiresAt,
  ]
  if (p.kind === 'open-time') fields.push(p.templateId, p.version)
  else {
    const extra = p.kind === 'click' ? p.url : p.email
    if (extra !== undefined) fields.push(extra)
  }
  return Buffer.from(JSON.stringify(fields), 'utf8').toString('base64url')
}

function decodeBody(bytes: Buffer): { payload: TokenPayload; expiresAt: number } | undefined {
  let fields: unknown
  try {
    fields = JSON.parse(bytes.toString('utf8'))
  } catch {
    return undefined
  }
  if (!Array.isArray(fields) || fields.length < 7 || fields.length > 9) return undefined
  const [version, code, workspaceId, campaignId, recipient, messageId, expiresAt, extra, templateVersion] =
    fields
  const kind = KINDS_BY_CODE.get(code)
  if (version !== FORMAT_VERSION || kind === undefined) return undefined
  if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt)) return undefined
  if (!nonEmpty(workspaceId) || !nonEmpty(campaignId) || !nonEmpty(recipient) || !nonEmpty(messageId))
    return undefined
  const payload: TokenPayload = { kind, workspaceId, campaignId, recipient, messageId }
  if (kind === 'click') {
    if (!nonEmpty(extra)) return undefined
    payload.url = extra
  } else if (kind === 'open-time') {
    if (fields.length !== 9 || !nonEmpty(extra) || !isVersion(templateVersion)) return undefined
    payload.templateId = extra
    payload.version = templateVersion
    return { payload, expiresAt }
  } else if (kind === 'unsubscribe' && fields.length === 8) {
    if (!nonEmpty(extra)) return undefined
    payload.email = extra
  } else if (fields.length === 8) {
    return undefined
  }
  if (fields.length === 9) return undefined
  return { payload, expiresAt }
}

/** A codec over a fixed key set; throws INK_ERR_INVALID_CONFIG for unusable keys. */
export function createTokenCodec(opts: TokenCodecOptions): TokenCodec {
  // A Map, not the record: a kid such as "constructor" must not find Object.prototype members.
  const keys = new Map<string, Buffer>()
  const problems: string[] = []
  for (const [kid, key] of Object.entries(opts.keys)) {
    if (!KID.test(kid)) problems.push(`token key id "${kid}" must be 1-32 characters of A-Z a-z 0-9 _ -`)
    else if (!Buffer.isBuffer(key) || key.length < MIN_KEY_BYTES)
      problems.push(`token key "${kid}" must be at least ${MIN_KEY_BYTES} bytes`)
    else keys.set(kid, Buffer.from(key))
  }
  const current = keys.get(opts.currentKid)
  if (current === undefined) problems.push(`the current token key id "${opts.currentKid}" has no usable key`)
  if (problems.length > 0 || current === undefined)
    throw new InkError('INK_ERR_INVALID_CONFIG', `invalid token keys:\n  - ${problems.join('\n  - ')}`, {
      details: { problems },
    })
  const mac = (key: Buffer, signed: string) => createHmac('sha256', key).update(signed, 'utf8').digest()

  return {
    signing: { kid: opts.currentKid, key: current },
    sign(payload, ttlMs) {
      if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)
        throw new RangeError(`ttlMs must be a positive integer, not ${ttlMs}`)
      checkPayload(payload)
      // An expiry past 2^53 would be signed but never verify (verify refuses it as malformed).
      const expiresAt = opts.clock.now() + ttlMs
      if (!Number.isSafeInteger(expiresAt))
        throw new RangeError(`ttlMs ${ttlMs} puts the expiry past the largest safe integer`)
      const signed = `${opts.currentKid}.${encodeBody(payload, expiresAt)}`
      return `${signed}.${mac(current, signed).toString('base64url')}`
    },

    verify(token, verifyOpts = {}) {
      if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS)
        return { ok: false, reason: 'malformed' }
      const parts = token.split('.')
      if (parts.length !== 3) return { ok: false, reason: 'malformed' }
      const [kid = '', body = '', tag = ''] = parts
      const bodyBytes = decodeCanonical(body)
      const tagBytes = decodeCanonical(tag)
      if (!KID.test(kid) || bodyBytes === undefined || tagBytes?.length !== MAC_BYTES)
        return { ok: false, reason: 'malformed' }
      const key = keys.get(kid)
      if (key === undefined) return { ok: false, reason: 'unknown-key' }
      if (!timingSafeEqual(mac(key, `${kid}.${body}`), tagBytes))
        return { ok: false, reason: 'bad-signature' }
      const decoded = decodeBody(bodyBytes)
      if (decoded === undefined) return { ok: false, reason: 'malformed' }
      if (!verifyOpts.ignoreExpiry && opts.clock.now() >= decoded.expiresAt)
        return { ok: false, reason: 'expired' }
      return { ok: true, payload: decoded.payload, expiresAt: decoded.expiresAt }
    },
  }
}
