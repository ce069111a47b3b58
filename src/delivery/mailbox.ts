/**
 * A strict parser for one RFC 5322 mailbox (`addr@example.com`, `<addr@example.com>`,
 * `Name <addr@example.com>`, `"Last, First" <addr@example.com>`).
 *
 * nodemailer's addressparser is built to read whatever a mail client wrote, so it accepts a lot:
 * `a@x.com b@y.com` becomes one mailbox named "b@y.com", `Ann <a@x.com> <b@y.com>` one named
 * "Ann b@y.com", `a@` an address. We only send what we build, so anything that is not plainly one
 * mailbox is refused here; addressparser is used only to word the error for a recipient list.
 */
import { domainToASCII } from 'node:url'
import addressparser from 'nodemailer/lib/addressparser'
import { InkError } from '../core/errors.ts'

export interface Mailbox {
  /** Display name without quotes or escapes; '' when there is none. */
  name: string
  address: string
}

export type MailboxResult = { ok: true; mailbox: Mailbox } | { ok: false; message: string }

// RFC 5322 atext, plus letters and digits of any script for internationalized addresses (RFC 6531).
const ATEXT = "[\\p{L}\\p{N}!#$%&'*+/=?^_`{|}~-]"
const LABEL = '[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]*[\\p{L}\\p{N}])?'
const ADDR_SPEC = `${ATEXT}+(?:\\.${ATEXT}+)*@${LABEL}(?:\\.${LABEL})+`
// A phrase may not hold specials (RFC 5322 §3.2.3); '.' is allowed as in "Ann B. Lee" (obs-phrase).
const PHRASE = '[^"(),:;<>@[\\]\\\\\\p{Cc}]+'
const QUOTED = '"(?:[^"\\\\\\p{Cc}]|\\\\[^\\p{Cc}])*"'

const BARE = new RegExp(`^<?(${ADDR_SPEC})>?$`, 'u')
const NAMED = new RegExp(`^(${PHRASE}|${QUOTED})\\s*<(${ADDR_SPEC})>$`, 'u')
// Controls (CR, LF, NUL, …) and Unicode line/paragraph separators: never valid in an address field.
const CONTROL = /[\p{Cc}\u2028\u2029]/u
const DOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})+$`, 'u')

const MAX_ADDRESS = 254 // RFC 5321 §4.5.3.1.3 path limit minus the angle brackets
const MAX_LOCAL = 64

/** Parses exactly one mailbox; a list, a group, a comment or a bare name is refused. */
export function parseMailbox(value: string): MailboxResult {
  if (CONTROL.test(value)) {
    return { ok: false, message: 'contains a control character (CR, LF, NUL or similar)' }
  }
  const input = value.trim()
  if (input === '') return { ok: false, message: 'is empty' }
  const bare = BARE.exec(input)
  const named = bare ? null : NAMED.exec(input)
  const address = bare?.[1] ?? named?.[2]
  if (address === undefined) {
    const count = addressparser(input, { flatten: true }).length
    if (count > 1) {
      return { ok: false, message: `lists ${count} addresses; a message has exactly one recipient` }
    }
    return { ok: false, message: `is not a single mailbox ("addr@example.com" or "Name <addr@example.com>")` }
  }
  const local = address.slice(0, address.lastIndexOf('@'))
  if (address.length > MAX_ADDRESS || local.length > MAX_LOCAL) {
    return {
      ok: false,
      message: `address is longer than ${MAX_ADDRESS} characters (local part ${MAX_LOCAL})`,
    }
  }
  return { ok: true, mailbox: { name: displayName(named?.[1] ?? ''), address } }
}

/** True when `value` is a domain name with at least two labels (`mail.example.com`). */
export const isDomainName = (value: string): boolean => value.length <= 253 && DOMAIN.test(value)

function displayName(raw: string): string {
  const trimmed = raw.trim()
  if (!trimmed.startsWith('"')) return trimmed.replace(/\s+/g, ' ')
  return trimmed.slice(1, -1).replace(/\\(.)/gu, '$1')
}

const ASCII_DOMAIN = /^\p{ASCII}*$/u

/** `local@domain` with the domain in its ASCII (punycode) form; the local part is kept as it is. */
export function asciiDomain(address: string): string {
  const at = address.lastIndexOf('@')
  const domain = address.slice(at + 1)
  return ASCII_DOMAIN.test(domain) ? address : `${address.slice(0, at + 1)}${domainToASCII(domain)}`
}

/** A `from` that is not exactly one mailbox would fail every recipient: 422 INK_ERR_INVALID_ADDRESS. */
export function checkFrom(from: string): void {
  const parsed = parseMailbox(from)
  if (!parsed.ok)
    throw new InkError(
      'INK_ERR_INVALID_ADDRESS',
      `from ${parsed.message}; write one sender such as "news@shop.example" or "Shop <news@shop.example>"`,
      { details: { field: 'from' } },
    )
}
