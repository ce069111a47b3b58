/**
 * Builds the bytes of one message (RFC 5322 + MIME): a multipart/alternative with a text, an
 * optional AMP (text/x-amp-html) and an HTML part, both UTF-8 and quoted-printable. Every header is ASCII except an address with a
 * non-ASCII local part, written as raw UTF-8 (RFC 6532; such a message only goes to a server that
 * takes SMTPUTF8, see smtputf8-guard.ts). Domains are always punycode, as in the envelope. Only ever called with fields `prepareMessage` has
 * already checked (no control characters in any header value, one mailbox per address field).
 *
 * Why not nodemailer's MailComposer: it is general (attachments, streams, every encoding) and spends
 * ≈ 1 ms of CPU on a 40 KB newsletter (transfer-encoding detection scans, per-node random
 * boundaries, stream pipelines); a campaign sends this one shape millions of times. nodemailer still
 * does the header encoding here (RFC 2047 encoded words, line folding) and all of SMTP; this
 * file only lays out the parts and quoted-printable-encodes the bodies in one pass over the bytes.
 */
import { randomBytes } from 'node:crypto'
import { encodeWords, foldLines } from 'nodemailer/lib/mime-funcs'
import { asciiDomain, type Mailbox } from './mailbox.ts'

export interface ComposeInput {
  messageIdHeader: string
  from: Mailbox
  to: Mailbox
  replyTo?: Mailbox
  /** Already folded to one line (foldSubject). */
  subject: string
  text: string
  html: string
  /**
   * AMP for Email (`text/x-amp-html`): placed before text/html, since clients show the last part
   * they support and those without AMP must fall to the HTML part.
   */
  amp?: string
  /** Extra headers, already validated (names are field names, values hold no control character). */
  headers: Readonly<Record<string, string>>
  date: Date
}

/** Printable US-ASCII and space only: the text can stand in a header as it is. */
const PLAIN = /^[\x20-\x7e]*$/
/** RFC 5322 atext plus space and '.': a display name that needs no quotes. */
const PHRASE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ .-]*$/

/** An encoded word or plain text, for unstructured headers (Subject, extra headers). */
const headerText = (value: string): string => (PLAIN.test(value) ? value : encodeWords(value, 'Q', 52))

function address(mailbox: Mailbox): string {
  const addr = asciiDomain(mailbox.address)
  if (mailbox.name === '') return addr
  let name: string
  if (!PLAIN.test(mailbox.name)) name = encodeWords(mailbox.name, 'Q', 52)
  else if (PHRASE.test(mailbox.name) && !mailbox.name.startsWith('.')) name = mailbox.name
  else name = `"${mailbox.name.replace(/["\\]/g, '\\$&')}"`
  return `${name} <${addr}>`
}

/** RFC 5322 §3.3 date-time in UTC: `Sat, 28 Nov 2026 19:05:46 +0000`. */
const rfc5322Date = (date: Date): string => date.toUTCString().replace(/GMT$/, '+0000')

/** Boundaries need only be absent from the parts (see composeMessage), not unpredictable. */
const BOUNDARY_PREFIX = `=_ink_${randomBytes(6).toString('hex')}_`
let boundaryCount = 0

/**
 * The message, CRLF line ends. The boundary holds "=_", which quoted-printable output can never
 * contain (a literal '=' is always written as =3D), so no body line can match it.
 */
export function composeMessage(input: ComposeInput): Buffer {
  const boundary = `${BOUNDARY_PREFIX}${(boundaryCount++).toString(36)}`
  const lines: string[] = [
    foldLines(`From: ${address(input.from)}`, 76),
    foldLines(`To: ${address(input.to)}`, 76),
  ]
  if (input.replyTo) lines.push(foldLines(`Reply-To: ${address(input.replyTo)}`, 76))
  lines.push(
    foldLines(`Subject: ${headerText(input.subject)}`, 76),
    `Message-ID: ${input.messageIdHeader}`,
    `Date: ${rfc5322Date(input.date)}`,
    'MIME-Version: 1.0',
  )
  for (const [name, value] of Object.entries(input.headers)) {
    lines.push(foldLines(`${name}: ${headerText(value)}`, 76))
  }
  lines.push(`Content-Type: multipart/alternative; boundary="${boundary}"`)
  const head = `${lines.join('\r\n')}\r\n\r\n`
  const partHead = (type: string) =>
    `--${boundary}\r\nContent-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n`
  return Buffer.from(
    `${head}${partHead('text/plain')}${encodeQuotedPrintable(input.text)}\r\n` +
      (input.amp === undefined
        ? ''
        : `${partHead('text/x-amp-html')}${encodeQuotedPrintable(input.amp)}\r\n`) +
      `${partHead('text/html')}${encodeQuotedPrintable(input.html)}\r\n--${boundary}--\r\n`,
    // All ASCII but for a UTF-8 address local part (RFC 6532), which must stay UTF-8, not Latin-1.
    'utf8',
  )
}

/** What quoted-printable cannot keep as it is once '=' is done: controls, non-ASCII (a surrogate pair as one). */
const UNSAFE = /[^\x21-\x7e \t\n]/
const PAIR_OR_UNSAFE = /[\ud800-\udbff][\udc00-\udfff]|[^\x21-\x7e \t\n]/g
/** Characters per encoded line before the soft break's '=' (RFC 2045 §6.7 rule 5: 76 in all). */
const MAX_LINE = 75
const EQUALS = 61
const SPACE = 32
const TAB = 9

/** `=XX` for each UTF-8 byte of one character; a lone surrogate is U+FFFD, as in Buffer.from(s, 'utf8'). */
function escapeChar(ch: string): string {
  try {
    // Percent-encoding is UTF-8 bytes as %XX, upper-case hex, for every character matched here.
    return encodeURIComponent(ch).replaceAll('%', '=')
  } catch {
    return '=EF=BF=BD'
  }
}

/**
 * RFC 2045 §6.7 quoted-printable of the UTF-8 bytes of `text`, for a text part, as an ASCII string:
 * every line break in the text (CRLF, CR or LF) becomes a CRLF hard break; printable ASCII other
 * than '=' stays as it is; space and tab stay unless they end a line; everything else is `=XX`;
 * soft breaks (`=` CRLF) keep every line at most 76 characters and never split an `=XX`.
 *
 * Whole-text replacements first (native, and most of a newsletter is ASCII that stays as it is),
 * then one walk over the lines to place the soft breaks: about 2× faster than a loop over bytes.
 */
export function encodeQuotedPrintable(text: string): string {
  let t = text
  if (t.includes('\r')) t = t.replace(/\r\n?/g, '\n')
  if (t.includes('=')) t = t.replaceAll('=', '=3D')
  if (UNSAFE.test(t)) t = t.replace(PAIR_OR_UNSAFE, escapeChar)
  const parts: string[] = []
  for (let start = 0; start <= t.length; ) {
    let eol = t.indexOf('\n', start)
    if (eol === -1) eol = t.length
    let line = t.slice(start, eol)
    // Space or tab ending a line: some transports strip it (RFC 2045 §6.7 rule 3), so it is encoded.
    const last = line.charCodeAt(line.length - 1)
    if (last === SPACE) line = `${line.slice(0, -1)}=20`
    else if (last === TAB) line = `${line.slice(0, -1)}=09`
    // Every '=' left starts an escape, so a cut moved back before one never splits it.
    let pos = 0
    while (line.length - pos > MAX_LINE) {
      let end = pos + MAX_LINE
      if (line.charCodeAt(end - 1) === EQUALS) end -= 1
      else if (line.charCodeAt(end - 2) === EQUALS) end -= 2
      parts.push(line.slice(pos, end), '=\r\n')
      pos = end
    }
    parts.push(pos === 0 ? line : line.slice(pos))
    if (eol < t.length) parts.push('\r\n')
    start = eol + 1
  }
  return parts.join('')
}
