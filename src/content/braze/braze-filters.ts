/**
 * Braze's own Liquid filters (hashing, HMAC, base64, URL escaping, property access, number
 * formatting, JSON escaping), so templates written for Braze render the same here. Each one is
 * a plain function of its input; liquidjs's HTML escaping still applies to what they print.
 */
import { createHash, createHmac } from 'node:crypto'
import type { Liquid } from 'liquidjs'

const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v))

const digest = (algorithm: string) => (v: unknown) => createHash(algorithm).update(text(v)).digest('hex')

const hmac = (algorithm: string, encoding: 'hex' | 'base64') => (v: unknown, key: unknown) =>
  createHmac(algorithm, text(key)).update(text(v)).digest(encoding)

/** `1234567.891` → `1,234,567.891`; what is not a number is returned as it came. */
export function numberWithDelimiter(v: unknown, delimiter: unknown = ',', separator: unknown = '.'): unknown {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : undefined
  if (s === undefined || !/^-?\d+(\.\d+)?$/.test(s)) return v
  const [whole = '', fraction] = s.split('.')
  const sign = whole.startsWith('-') ? '-' : ''
  const grouped = sign + groupThousands(whole.slice(sign.length), text(delimiter))
  return fraction === undefined ? grouped : `${grouped}${text(separator)}${fraction}`
}

/**
 * `1234567` → `1,234,567`, in one pass. The usual `\B(?=(\d{3})+(?!\d))` regex retries its look-ahead
 * from every digit, so it is quadratic in the run of digits, and the digits are recipient data.
 */
function groupThousands(digits: string, delimiter: string): string {
  const head = digits.length % 3 || 3
  const groups = [digits.slice(0, head)]
  for (let i = head; i < digits.length; i += 3) groups.push(digits.slice(i, i + 3))
  return groups.join(delimiter)
}

/**
 * The string with lone surrogates replaced by U+FFFD: encodeURI throws a URIError on them, and
 * data must never fail a render. (String.prototype.toWellFormed, Node 20; ES2024, so not yet in our lib.)
 */
const wellFormed = (s: string): string => (s as string & { toWellFormed(): string }).toWellFormed()

/**
 * `{{ hash | property_accessor: key }}`: reads a key chosen at render time. Own properties only,
 * like every other lookup here (ownPropertyOnly), so `constructor` or `__proto__` read nothing.
 */
export function propertyAccessor(v: unknown, key: unknown): unknown {
  if (typeof v !== 'object' || v === null) return undefined
  const k = text(key)
  return Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined
}

/** The string as it would sit between the quotes of a JSON string (Braze's json_escape). */
export const jsonEscape = (v: unknown): string => JSON.stringify(text(v)).slice(1, -1)

export const BRAZE_FILTERS: Readonly<Record<string, (v: unknown, ...args: unknown[]) => unknown>> = {
  md5: digest('md5'),
  sha1: digest('sha1'),
  sha2: digest('sha256'),
  hmac_sha1: hmac('sha1', 'hex'),
  hmac_sha1_hex: hmac('sha1', 'hex'),
  hmac_sha1_base64: hmac('sha1', 'base64'),
  hmac_sha256_hex: hmac('sha256', 'hex'),
  hmac_sha256_base64: hmac('sha256', 'base64'),
  base64: (v) => Buffer.from(text(v), 'utf8').toString('base64'),
  // Keeps the characters a URL may hold (`/`, `?`, `&`, `=`); escapes the rest.
  url_escape: (v) => encodeURI(wellFormed(text(v))),
  // For one query parameter value: `&`, `=`, `/`, `?` are escaped too.
  url_param_escape: (v) => encodeURIComponent(wellFormed(text(v))),
  property_accessor: propertyAccessor,
  number_with_delimiter: numberWithDelimiter,
  json_escape: jsonEscape,
}

export function registerBrazeFilters(liquid: Liquid): void {
  for (const [name, fn] of Object.entries(BRAZE_FILTERS)) liquid.registerFilter(name, fn)
}
