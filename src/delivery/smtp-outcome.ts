/**
 * Turns a nodemailer send error into a SendOutcome. Kept apart from the transport so the table can
 * be tested without a socket; test/delivery/transport-outcome.test.ts holds the errors nodemailer
 * 10 was seen to produce for each case.
 */
import { SMTPUTF8_UNSUPPORTED } from './smtputf8-guard.ts'
import type { SendOutcome } from './transport.ts'

/** What the transport knew about the conversation when the error arrived. */
export interface SendProgress {
  /** nodemailer started reading the message body, i.e. the server had answered DATA with 354. */
  bodyStarted: boolean
}

/** The fields nodemailer sets on its errors (all optional: a plain Error may reach us too). */
interface SmtpErrorFields {
  message: string
  code?: string
  originalCode?: string
  responseCode?: number
  command?: string
}

/**
 * Commands whose 5xx reply is about this message or this recipient. A 5xx to the greeting, EHLO,
 * AUTH or MAIL FROM is about our session or our sender (bad credentials, a sender the server does not
 * take); calling that `permanent` would have the caller give up on — or suppress — a recipient who did
 * nothing wrong, so it is reported as temporary with its code.
 */
const MESSAGE_COMMANDS = new Set(['RCPT TO', 'DATA'])

/**
 * Classification, in order:
 * 1. The server replied 5xx (not 503) to RCPT TO, DATA or the end of the data → `permanent`.
 * 2. The server replied anything else (4xx at any stage, 421, a 5xx outside the message) →
 *    `temporary`, accepted 'no': a reply other than 2xx means the server did not take the message
 *    (RFC 5321 §4.2.5, §6.1), even after the body was sent.
 * 3. No reply (connection refused, reset, closed, timed out, TLS or DNS failure) → `temporary`,
 *    accepted 'no' when the body had not started, else 'unknown': the server may have received the
 *    whole message and committed it before the connection went (RFC 1047).
 * 4. nodemailer refused before sending because the message exceeds the server's advertised SIZE
 *    → `permanent` 552, the code the server gives for the same case.
 * 5. Refused before MAIL FROM because an address needs SMTPUTF8 and the server does not announce it
 *    (smtputf8-guard.ts) → `permanent` 553 5.6.7, what RFC 6531 §3.7.4.2 has a server say for it.
 *    5.6.7 is not a mailbox-does-not-exist code, so the address is not suppressed as a bounce.
 */
export function classifySendError(error: unknown, progress: SendProgress): SendOutcome {
  const err = errorFields(error)
  const message = describe(err)
  if (error instanceof Error && Reflect.get(error, SMTPUTF8_UNSUPPORTED) === true)
    return { outcome: 'permanent', code: 553, message: error.message }
  // Only 4xx and 5xx are replies that refuse; a 2xx or 3xx on an error is nodemailer's protocol
  // confusion and says nothing about whether the server has the message.
  const reply =
    err.responseCode !== undefined && err.responseCode >= 400 && err.responseCode < 600
      ? err.responseCode
      : null
  if (reply !== null) {
    if (reply >= 500 && reply !== 503 && MESSAGE_COMMANDS.has(err.command ?? '')) {
      return { outcome: 'permanent', code: reply, message }
    }
    return { outcome: 'temporary', code: reply, message, accepted: 'no' }
  }
  if (err.code === 'EMESSAGE' && err.command === 'MAIL FROM') {
    return { outcome: 'permanent', code: 552, message }
  }
  return { outcome: 'temporary', code: null, message, accepted: progress.bodyStarted ? 'unknown' : 'no' }
}

function errorFields(error: unknown): SmtpErrorFields {
  if (!(error instanceof Error)) return { message: String(error) }
  const fields: SmtpErrorFields = { message: error.message }
  const code = Reflect.get(error, 'code')
  const originalCode = Reflect.get(error, 'originalCode')
  const responseCode = Reflect.get(error, 'responseCode')
  const command = Reflect.get(error, 'command')
  if (typeof code === 'string') fields.code = code
  if (typeof originalCode === 'string') fields.originalCode = originalCode
  if (typeof responseCode === 'number' && Number.isInteger(responseCode)) fields.responseCode = responseCode
  if (typeof command === 'string') fields.command = command
  return fields
}

/** e.g. "ESOCKET/ECONNREFUSED (CONN): connect ECONNREFUSED 127.0.0.1:25" */
function describe(err: SmtpErrorFields): string {
  const codes = [err.code, err.originalCode].filter((c) => c !== undefined).join('/')
  const prefix = codes === '' ? '' : err.command ? `${codes} (${err.command}): ` : `${codes}: `
  return `${prefix}${err.message}`
}
