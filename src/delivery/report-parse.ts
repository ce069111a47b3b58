/**
 * Reads one message of the bounce mailbox into Feedback values (feedback.ts): a delivery status
 * notification (RFC 3464, multipart/report; report-type=delivery-status) gives one per failed (or
 * delivered) recipient, an abuse report (RFC 5965, report-type=feedback-report) one complaint.
 * Anything else (auto-replies, out-of-office, read receipts, plain-text bounces, junk) is ignored
 * with a reason, never read as a bounce. Pure and total: a malformed message is ignored, not thrown.
 *
 * Decisions (docs/arch-mailbox.md): Action `failed` → bounced; `delivered` → delivered; `delayed`,
 * `relayed`, `expanded` → nothing (the MTA is still trying, or the message left DSN-aware hands: a
 * final report may follow). The bounce type is RFC 3463's class of the Status field; a missing or
 * generic (`5.0.0`) Status takes the more specific code of the Diagnostic-Code; with no code at all
 * a failure counts as soft, so a guess never suppresses an address. Feedback-Type `not-spam` and
 * `auth-failure` (RFC 6591) are no complaints and are ignored.
 */
import { createHash } from 'node:crypto'
import { type BounceType, bounceTypeOf, type Feedback } from './feedback.ts'
import {
  type HeaderField,
  headerOf,
  headersOf,
  type MimePart,
  parseHeaderBlock,
  parseMime,
} from './mime-tree.ts'
import { EMAIL_ID, emailIdOfVerp } from './verp.ts'

export interface ReadOptions {
  /** The configured bounce address (INKSTREAM_BOUNCE_ADDRESS): its VERP form names the message. */
  bounceAddress?: string | undefined
  /** When the message reached the mailbox (epoch ms): the time of a feedback that states none. */
  receivedAt: number
}

export type ReportReading =
  | { report: 'delivery-status' | 'feedback-report'; feedback: Feedback[] }
  | { report: null; reason: string }

/** Bytes of a message that are parsed; a returned original beyond this is not needed. */
const MAX_PARSED = 4 * 1024 * 1024
const MAX_ID = 500
const COMPLAINTS = new Set(['abuse', 'fraud', 'virus', 'other'])

/** The feedback in one message of the bounce mailbox (see the file's header). */
export function readReport(raw: Buffer, options: ReadOptions): ReportReading {
  const root = parseMime(raw.subarray(0, MAX_PARSED))
  if (root.contentType !== 'multipart/report') return { report: null, reason: notReport(root) }
  const reportType = root.params['report-type']?.toLowerCase()
  const ctx = context(raw, root, options)
  if (reportType === 'delivery-status') return { report: reportType, feedback: readDsn(root, ctx) }
  if (reportType === 'feedback-report') return { report: reportType, feedback: readArf(root, ctx) }
  return { report: null, reason: `a report of type "${reportType ?? ''}" (not a DSN or abuse report)` }
}

interface Context {
  /** The report's own Message-ID, else a hash of its bytes. */
  reportId: string
  /** The report's Date, else when it was received. */
  at: number
  /** Our id from the VERP address the report was delivered to, if any. */
  verpId: string | undefined
  bounceAddress: string | undefined
  /** The returned original message's header fields (message/rfc822 or text/rfc822-headers). */
  original: HeaderField[]
}

function context(raw: Buffer, root: MimePart, options: ReadOptions): Context {
  const messageId = headerOf(root.headers, 'message-id')?.trim()
  const date = Date.parse(headerOf(root.headers, 'date') ?? '')
  const addressedTo = ['to', 'delivered-to', 'x-original-to'].flatMap((n) => headersOf(root.headers, n))
  const original = originalHeaders(root)
  return {
    reportId:
      messageId !== undefined && messageId !== ''
        ? messageId.slice(0, MAX_ID)
        : `sha256:${createHash('sha256').update(raw).digest('hex')}`,
    at: Number.isFinite(date) ? date : options.receivedAt,
    verpId: verpIdIn(options.bounceAddress, addressedTo),
    bounceAddress: options.bounceAddress,
    original,
  }
}

function readDsn(root: MimePart, ctx: Context): Feedback[] {
  const status = root.parts.find(
    (p) => p.contentType === 'message/delivery-status' || p.contentType === 'message/global-delivery-status',
  )
  if (status === undefined) return []
  // The first group is about the message, each further one about a recipient (RFC 3464 §2.1).
  let { rest } = parseHeaderBlock(status.body.toString('latin1'))
  const emailId = messageIdOf(ctx.original) ?? ctx.verpId ?? verpIdIn(ctx.bounceAddress, returnPaths(ctx))
  const feedback: Feedback[] = []
  for (let groups = 0; rest.trim() !== '' && groups < 1000; groups++) {
    const block = parseHeaderBlock(rest.replace(/^(\r?\n)+/, ''))
    rest = block.rest
    const f = recipientFeedback(block.headers, ctx, emailId)
    if (f) feedback.push(f)
  }
  return feedback
}

function recipientFeedback(
  fields: HeaderField[],
  ctx: Context,
  emailId: string | undefined,
): Feedback | undefined {
  const recipient =
    addressOfType(headerOf(fields, 'original-recipient')) ??
    addressOfType(headerOf(fields, 'final-recipient'))
  const action = headerOf(fields, 'action')?.trim().toLowerCase().split(/\s/)[0]
  if (recipient === undefined || (action !== 'failed' && action !== 'delivered')) return undefined
  const lastAttempt = Date.parse(headerOf(fields, 'last-attempt-date') ?? '')
  const base = {
    source: 'mailbox' as const,
    feedbackId: `${ctx.reportId} ${recipient.toLowerCase()}`,
    recipient,
    at: Number.isFinite(lastAttempt) ? lastAttempt : ctx.at,
    ...(emailId === undefined ? {} : { emailId }),
  }
  if (action === 'delivered') return { ...base, kind: 'delivered' }
  const diagnostic = diagnosticText(headerOf(fields, 'diagnostic-code'))
  const status = statusOf(headerOf(fields, 'status'), diagnostic)
  return {
    ...base,
    kind: 'bounced',
    bounce: {
      type: bounceTypeOf(status) ?? basicReplyType(diagnostic) ?? 'soft',
      ...(status === undefined ? {} : { status }),
      ...(diagnostic === undefined ? {} : { diagnostic }),
    },
  }
}

function readArf(root: MimePart, ctx: Context): Feedback[] {
  const part = root.parts.find((p) => p.contentType === 'message/feedback-report')
  if (part === undefined) return []
  const fields = parseHeaderBlock(part.body.toString('latin1')).headers
  const type = headerOf(fields, 'feedback-type')?.trim().toLowerCase()
  if (type === undefined || !COMPLAINTS.has(type)) return []
  const recipient =
    addressIn(headerOf(fields, 'original-rcpt-to') ?? '') ?? addressIn(headerOf(ctx.original, 'to') ?? '')
  const emailId =
    messageIdOf(ctx.original) ??
    ctx.verpId ??
    verpIdIn(ctx.bounceAddress, [...headersOf(fields, 'original-mail-from'), ...returnPaths(ctx)])
  // Nothing names the message or the person: nothing to record.
  if (recipient === undefined && emailId === undefined) return []
  const arrival = Date.parse(headerOf(fields, 'arrival-date') ?? headerOf(fields, 'received-date') ?? '')
  return [
    {
      source: 'mailbox',
      kind: 'complained',
      feedbackId: `${ctx.reportId} ${(recipient ?? '').toLowerCase()}`,
      recipient: recipient ?? '',
      at: Number.isFinite(arrival) ? arrival : ctx.at,
      ...(emailId === undefined ? {} : { emailId }),
      complaint: { type },
    },
  ]
}

/** The header of the returned original: a message/rfc822 part, else text/rfc822-headers. */
function originalHeaders(root: MimePart): HeaderField[] {
  const kinds = ['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/global-headers']
  const part = root.parts.find((p) => kinds.includes(p.contentType))
  return part === undefined ? [] : parseHeaderBlock(part.body.toString('latin1')).headers
}

const returnPaths = (ctx: Context) => headersOf(ctx.original, 'return-path')

/** Our email id in the original's Message-ID (`<ink-c.…@domain>`), lower case. */
function messageIdOf(original: HeaderField[]): string | undefined {
  const m = /<?\s*([^<>@\s]+)@[^<>\s]+\s*>?/.exec(headerOf(original, 'message-id') ?? '')
  const id = m?.[1]?.toLowerCase()
  return id !== undefined && EMAIL_ID.test(id) ? id : undefined
}

function verpIdIn(bounce: string | undefined, values: readonly string[]): string | undefined {
  if (bounce === undefined) return undefined
  for (const value of values)
    for (const address of addressesIn(value)) {
      const id = emailIdOfVerp(bounce, address)
      if (id !== undefined) return id
    }
  return undefined
}

/** `rfc822; user@example.com` (RFC 3464 address-type; xtext and RFC 6533's `\x{…}` decoded). */
function addressOfType(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const semi = value.indexOf(';')
  const type = semi < 0 ? 'rfc822' : value.slice(0, semi).trim().toLowerCase()
  let address = (semi < 0 ? value : value.slice(semi + 1)).trim()
  if (type === 'rfc822') address = address.replace(/\+([0-9A-Fa-f]{2})/g, (_, h: string) => hexChar(h))
  else if (type === 'utf-8')
    address = address.replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (_, h: string) => hexChar(h))
  else return undefined
  return addressIn(address)
}

const hexChar = (hex: string) => {
  const code = Number.parseInt(hex, 16)
  return code <= 0x10ffff ? String.fromCodePoint(code) : ''
}

const ADDRESS = /<?([^\s<>(),;:"[\]]+@[^\s<>(),;:"[\]]+?)>?(?=$|[\s,;>])/gu

/** Every address in a header value (`Name <a@x>, b@y`). */
function addressesIn(value: string): string[] {
  return [...value.matchAll(ADDRESS)].map((m) => m[1] ?? '').filter((a) => a !== '')
}

const addressIn = (value: string): string | undefined => addressesIn(value)[0]

/** The Diagnostic-Code's text without its type (`smtp; 550 …` → `550 …`). */
function diagnosticText(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const text = value.replace(/^\s*(smtp|x-[a-z0-9-]+|x400|unix)\s*;\s*/i, '').trim()
  return text === '' ? undefined : text
}

const ENHANCED = /(?:^|[\s(#[])([245]\.\d{1,3}\.\d{1,3})(?=$|[\s),.;:\]])/

/** The Status field's code; a generic `c.0.0` or none gives way to the Diagnostic-Code's of the same class. */
function statusOf(field: string | undefined, diagnostic: string | undefined): string | undefined {
  const status = field?.trim().split(/[\s(]/)[0]
  const valid = bounceTypeOf(status) === undefined ? undefined : status
  const detailed = diagnostic === undefined ? undefined : ENHANCED.exec(diagnostic)?.[1]
  if (valid === undefined) return detailed
  if (detailed !== undefined && /^[45]\.0\.0$/.test(valid) && detailed[0] === valid[0]) return detailed
  return valid
}

/** A diagnostic that starts with a basic SMTP reply code (`550 …`): its class. */
function basicReplyType(diagnostic: string | undefined): BounceType | undefined {
  const c = diagnostic === undefined ? undefined : /^([45])\d\d\b/.exec(diagnostic)?.[1]
  return c === '5' ? 'hard' : c === '4' ? 'soft' : undefined
}

function notReport(root: MimePart): string {
  const auto = headerOf(root.headers, 'auto-submitted')?.trim().toLowerCase()
  if (auto !== undefined && auto !== 'no')
    return `an automatic message (Auto-Submitted: ${auto}), not a report`
  return `not a report (${root.contentType})`
}
