/**
 * VERP (variable envelope return path): every message goes out with the envelope sender
 * `bounces+<emailId>@example.com` when a bounce address `bounces@example.com` is configured, so a
 * bounce names the message it is about in the address it is delivered to, even when the remote
 * server returns none of the original headers (the bounce mailbox reader, bounce-mailbox.ts).
 */

/** RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. */
export const MAX_LOCAL_PART = 64
/** Our longest message id (`ink-c.` and 40 hex digits, deliver.ts messageIdFor). */
export const LONGEST_EMAIL_ID = 46

const ASCII_ADDRESS =
  /^([A-Za-z0-9!#$%&'*/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*/=?^_`{|}~-]+)*)@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)$/

/** Why `address` cannot be the bounce address, or null. */
export function bounceAddressProblem(address: string): string | null {
  const m = ASCII_ADDRESS.exec(address)
  if (!m?.[1])
    return 'not a plain ASCII address without "+" (e.g. bounces@example.com: no name, no angle brackets)'
  const room = MAX_LOCAL_PART - 1 - LONGEST_EMAIL_ID
  if (m[1].length > room)
    return `the local part "${m[1]}" is longer than ${room} characters: "<local>+<message id>" must fit in ${MAX_LOCAL_PART}`
  return null
}

/**
 * The envelope sender of the message `emailId` for the bounce address `bounce`: `local+emailId@domain`,
 * or `bounce` itself when that would make a local part over 64 octets (the id is then only in the
 * headers a bounce may return).
 */
export function verpAddress(bounce: string, emailId: string): string {
  const at = bounce.lastIndexOf('@')
  const local = `${bounce.slice(0, at)}+${emailId}`
  return Buffer.byteLength(local) > MAX_LOCAL_PART ? bounce : `${local}${bounce.slice(at)}`
}

/**
 * The email id in a VERP address of `bounce` (`bounces+<id>@example.com`; case-insensitive, since
 * some servers lower-case local parts), or undefined. `address` may be in angle brackets.
 */
export function emailIdOfVerp(bounce: string, address: string): string | undefined {
  const at = bounce.lastIndexOf('@')
  const local = bounce.slice(0, at).toLowerCase()
  const domain = bounce.slice(at + 1).toLowerCase()
  const a = address
    .trim()
    .replace(/^<(.*)>$/, '$1')
    .toLowerCase()
  const aAt = a.lastIndexOf('@')
  if (aAt < 0 || a.slice(aAt + 1) !== domain) return undefined
  const aLocal = a.slice(0, aAt)
  if (!aLocal.startsWith(`${local}+`)) return undefined
  const id = aLocal.slice(local.length + 1)
  return EMAIL_ID.test(id) ? id : undefined
}

/** Our message ids (deliver.ts messageIdFor): `ink-c.` and hex digits. */
export const EMAIL_ID = /^ink-c\.[0-9a-f]{8,64}$/
