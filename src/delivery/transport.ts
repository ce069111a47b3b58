/** The Transport seam (DESIGN.md §3): hands one message to a mail server and says what happened. */
import type { BuildJob } from './message-build.ts'
import type { TokenCodec } from './tokens.ts'

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
  /**
   * The MIME bytes of exactly this message, built off the main thread (message-build.ts). A
   * transport that sends bytes uses them when `domain` is its Message-ID domain; others ignore them.
   */
  prepared?: PreparedRaw | undefined
}

/** A message's checked envelope and bytes (mime.ts prepareMessage), for the Message-ID domain `domain`. */
export interface PreparedRaw {
  domain: string
  envelope: { from: string; to: string[] }
  smtpUtf8: boolean
  /** CRLF line ends, as it goes after DATA (before dot-stuffing). */
  raw: Uint8Array
  messageIdHeader: string
  /** `raw` starts with the DKIM signatures of the transport's keys (dkim-sign.ts). */
  dkimSigned?: boolean
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
  /**
   * Optional: builds the message (message-build.ts) where the transport likes, e.g. in its worker
   * threads, with the bytes it will send. Throws what building throws.
   */
  build?(job: BuildJob, codec: TokenCodec, now: number): Promise<OutgoingMessage>
}
