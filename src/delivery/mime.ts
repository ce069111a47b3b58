/**
 * Checks an OutgoingMessage and turns it into nodemailer message options. Header injection is made
 * impossible here rather than left to nodemailer's escaping: every value that ends up in a header is
 * either refused or folded before nodemailer sees it.
 */
import { domainToASCII } from 'node:url'
import { asciiDomain, type Mailbox, parseMailbox } from './mailbox.ts'
import { composeMessage } from './mime-compose.ts'
import type { OutgoingMessage } from './transport.ts'

export type MessageValidation = { ok: true } | { ok: false; field: string; message: string }

export type PreparedMessage =
  | {
      ok: true
      /**
       * The SMTP envelope: set from the checked fields, never derived from the headers. Domains are
       * in their ASCII (punycode) form, the same text the From and To headers carry.
       */
      envelope: { from: string; to: string[] }
      /** An envelope address has a non-ASCII local part: the server must take SMTPUTF8 (RFC 6531). */
      smtpUtf8: boolean
      /** The whole message, CRLF line ends, as it goes after DATA (before dot-stuffing). */
      raw: Buffer
      messageIdHeader: string
    }
  | { ok: false; field: string; message: string }

/** RFC 5322 dot-atom-text: what may stand left of the '@' in a Message-ID. */
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/
const MAX_MESSAGE_ID = 200
/** RFC 5322 field-name: printable US-ASCII except ':'. */
const FIELD_NAME = /^[!-9;-~]+$/
/** Control characters other than HTAB, and Unicode line separators. */
const HEADER_CONTROL = /(?!\t)[\p{Cc}\u2028\u2029]/u
const LINE_BREAK = /\r\n|\r|\n/g

/**
 * Headers the transport writes from the message fields (or that would change where the message
 * goes); `headers` may not set them.
 */
const RESERVED_HEADERS = new Set([
  'from',
  'sender',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'message-id',
  'date',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
  'return-path',
])

/**
 * Says whether `msg` can be sent, and if not which field is wrong and why.
 *
 * - `from`, `to`, `replyTo`: exactly one mailbox each (a comma-separated list in `to` is refused:
 *   one recipient per message); no CR, LF, NUL or other control character in name or address.
 * - `messageId`: dot-atom text (letters, digits, `.`, `-`, `_`, …), at most 200 characters.
 * - `headers`: names are RFC 5322 field names and not one the transport sets itself (From, To,
 *   Subject, Message-ID, Bcc, Content-Type, …); values hold no CR, LF, NUL or other control
 *   character except tab.
 * - `subject`: may not contain NUL. CR and LF are **not** an error: a subject often comes from
 *   rendered template data, and a stray line break there should not cost the send. They are
 *   folded to a single space each (see `foldSubject`) before the header is written, so they can
 *   never start a new header line.
 */
export function validateMessage(msg: OutgoingMessage): MessageValidation {
  const result = prepareMessage(msg, 'example.com')
  return result.ok ? { ok: true } : result
}

/** Replaces every CR, LF or CRLF in a subject with one space. */
export const foldSubject = (subject: string): string => subject.replace(LINE_BREAK, ' ')

/** The Message-ID header value for our id: `<messageId@domain>`. Both parts must already be valid. */
export const messageIdHeader = (messageId: string, domain: string): string => `<${messageId}@${domain}>`

/**
 * Validates `msg` and builds it (mime-compose.ts): multipart/alternative with the text and the HTML
 * part, our Message-ID, the extra headers, and an explicit envelope with the one recipient.
 */
export function prepareMessage(
  msg: OutgoingMessage,
  messageIdDomain: string,
  date: Date = new Date(),
): PreparedMessage {
  if (!DOT_ATOM.test(msg.messageId) || msg.messageId.length > MAX_MESSAGE_ID) {
    return invalid('messageId', idProblem(msg.messageId))
  }
  const from = mailbox('from', msg.from)
  if (!from.ok) return from
  const to = mailbox('to', msg.to)
  if (!to.ok) return to
  const replyTo = msg.replyTo === undefined ? undefined : mailbox('replyTo', msg.replyTo)
  if (replyTo && !replyTo.ok) return replyTo
  if (msg.subject.includes('\u0000')) return invalid('subject', 'contains a NUL character')
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(msg.headers ?? {})) {
    const problem = headerProblem(name, value)
    if (problem) return invalid(problem.field, problem.message)
    headers[name] = value
  }
  const id = messageIdHeader(msg.messageId, messageIdDomain)
  const raw = composeMessage({
    messageIdHeader: id,
    from: from.mailbox,
    to: to.mailbox,
    ...(replyTo ? { replyTo: replyTo.mailbox } : {}),
    subject: foldSubject(msg.subject),
    text: msg.text,
    html: msg.html,
    ...(msg.amp === undefined ? {} : { amp: msg.amp }),
    headers,
    date,
  })
  const envelope = { from: asciiDomain(from.mailbox.address), to: [asciiDomain(to.mailbox.address)] }
  return {
    ok: true,
    envelope,
    // The Reply-To header carries its local part as raw UTF-8 too (RFC 6532), legal only under SMTPUTF8.
    smtpUtf8: [
      envelope.from,
      ...envelope.to,
      ...(replyTo ? [asciiDomain(replyTo.mailbox.address)] : []),
    ].some((a) => !ASCII.test(a)),
    raw,
    messageIdHeader: id,
  }
}

const ASCII = /^\p{ASCII}*$/u

type FieldResult = { ok: true; mailbox: Mailbox } | { ok: false; field: string; message: string }

function mailbox(field: string, value: string): FieldResult {
  const parsed = parseMailbox(value)
  if (!parsed.ok) return invalid(field, `${field} ${parsed.message}`)
  const domain = parsed.mailbox.address.slice(parsed.mailbox.address.lastIndexOf('@') + 1)
  // An internationalized domain goes out in its ASCII (punycode) form, which must exist.
  if (domainToASCII(domain) === '')
    return invalid(field, `${field} domain "${domain}" is not a valid domain name`)
  return parsed
}

function headerProblem(name: string, value: string): { field: string; message: string } | null {
  const field = `headers.${name}`
  if (!FIELD_NAME.test(name)) {
    return { field, message: 'header name must be printable US-ASCII without spaces or ":"' }
  }
  if (RESERVED_HEADERS.has(name.toLowerCase())) {
    return { field, message: `header ${name} is set by the transport and may not be given in headers` }
  }
  if (HEADER_CONTROL.test(value)) {
    return { field, message: `header ${name} contains a control character (CR, LF, NUL or similar)` }
  }
  return null
}

function idProblem(id: string): string {
  if (HEADER_CONTROL.test(id)) return 'messageId contains a control character (CR, LF, NUL or similar)'
  if (id.length > MAX_MESSAGE_ID) return `messageId is longer than ${MAX_MESSAGE_ID} characters`
  return "messageId must be dot-atom text (letters, digits and !#$%&'*+/=?^_`{|}~-, dot-separated)"
}

const invalid = (field: string, message: string) => ({ ok: false as const, field, message })
