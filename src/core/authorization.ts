/**
 * The `Authorization` header, read the one way both key checks need: `<scheme> <credentials>`, the
 * scheme case-insensitive (RFC 7235 §2.1: `basic`, `BASIC` and `Basic` are the same scheme).
 */
const CREDENTIALS = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)[ ]+(\S.*)$/

/** The key a header carries for `scheme` (lowercase): the token itself, or Basic's username. */
export function keyFromAuthorization(header: string | undefined, schemes: readonly ('bearer' | 'basic')[]) {
  const m = CREDENTIALS.exec((header ?? '').trim())
  if (!m) return undefined
  const scheme = (m[1] ?? '').toLowerCase()
  const value = (m[2] ?? '').trim()
  if (scheme === 'bearer' && schemes.includes('bearer')) return value
  if (scheme === 'basic' && schemes.includes('basic'))
    return Buffer.from(value, 'base64').toString('utf8').split(':')[0]
  return undefined
}
