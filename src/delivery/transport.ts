/** The Transport seam (DESIGN.md §3): hands one message to a mail server and says what happened. */

export interface OutgoingMessage {
  /** Our id for the message; also the Message-ID's local part. */
  messageId: string
  from: string
  to: string
  replyTo?: string
  subject: string
  html: string
  text: string
  /** AMP for Email part (`text/x-amp-html`), written between the text and the HTML part. */
  amp?: string | undefined
  /** Extra headers (List-Unsubscribe, List-Unsubscribe-Post, …). */
  headers?: Record<string, string>
}

/**
 * Expected outcomes are values, not exceptions. `temporary` covers what may succeed on a retry
 * (SMTP 4xx, connection dropped or refused, timeout); `permanent` is a 5xx for this recipient.
 * `accepted: 'unknown'` marks a failure after the DATA was sent, where the server may have the
 * message (a retry could duplicate it). `invalid` means the message itself was refused before
 * anything was sent (see `validateMessage` in mime.ts: a malformed address, a control character in
 * a header): retrying cannot help, and the recipient is not at fault, so it must not count as a bounce.
 */
export type SendOutcome =
  | { outcome: 'sent'; response: string; smtpMessageId: string }
  | { outcome: 'temporary'; code: number | null; message: string; accepted: 'no' | 'unknown' }
  | { outcome: 'permanent'; code: number; message: string }
  | { outcome: 'invalid'; field: string; message: string }

export interface Transport {
  send(message: OutgoingMessage): Promise<SendOutcome>
  close(): Promise<void>
}
