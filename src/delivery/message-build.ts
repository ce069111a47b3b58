/**
 * The CPU-heavy half of building a message, after the render: click tracking and the open pixel
 * (an HTML tokenizer pass and an HMAC per link), the List-Unsubscribe headers (RFC 8058), and the
 * MIME bytes (validation, quoted-printable). One function, run either in a build worker
 * (build-pool.ts) or inline, so both paths make the same message byte for byte.
 */
import { prepareMessage } from './mime.ts'
import { createTokenCodec, type SigningKey, type TokenCodec } from './tokens.ts'
import { type TrackingOptions, trackMessage, unsubscribeHeaders } from './tracking.ts'
import type { OutgoingMessage, PreparedRaw } from './transport.ts'

export interface BuildJob {
  /** The message; with `track`, its `html` before tracking and its headers without List-Unsubscribe. */
  message: Omit<OutgoingMessage, 'prepared'>
  /** Track links and add the unsubscribe headers (needs a codec); absent: the message is final. */
  track?: {
    tracking: Omit<TrackingOptions, 'codec'>
    /** The address the unsubscribe token names. */
    unsubscribeEmail: string
  }
  /** Set when the transport sends the MIME bytes built here (SmtpTransport's Message-ID domain). */
  messageIdDomain?: string
}

/** Tracks, adds the unsubscribe headers and, with a messageIdDomain, builds the MIME bytes. */
export function buildMessage(
  job: BuildJob,
  codec: TokenCodec | undefined,
  date: Date = new Date(),
): OutgoingMessage {
  let message: OutgoingMessage = job.message
  if (job.track !== undefined) {
    if (codec === undefined) throw new Error('tracking a message needs a token codec')
    const tracking = { ...job.track.tracking, codec }
    const { html } = trackMessage(message.html, tracking)
    message = {
      ...message,
      html,
      headers: {
        ...message.headers,
        ...unsubscribeHeaders({ ...tracking, email: job.track.unsubscribeEmail }),
      },
    }
  }
  if (job.messageIdDomain === undefined) return message
  const prepared = prepareMessage(message, job.messageIdDomain, date)
  // An invalid message goes without bytes: the transport validates it again and answers `invalid`.
  if (!prepared.ok) return message
  const raw: PreparedRaw = {
    domain: job.messageIdDomain,
    envelope: prepared.envelope,
    smtpUtf8: prepared.smtpUtf8,
    raw: prepared.raw,
    messageIdHeader: prepared.messageIdHeader,
  }
  return { ...message, prepared: raw }
}

/**
 * A codec that signs with `signing` at the time `now()` gives: in a worker, the main thread's
 * clock reading travels with each job, so tokens expire exactly when inline-signed ones would.
 */
export function signingCodec(signing: SigningKey, now: () => number): TokenCodec {
  return createTokenCodec({
    keys: { [signing.kid]: Buffer.from(signing.key) },
    currentKid: signing.kid,
    clock: { now },
  })
}
