/**
 * SendGrid's Event Webhook: the signature check and the events → Feedback.
 *
 * Signed Event Webhook (SendGrid docs, "Getting Started with the Event Webhook Security Features"):
 * `X-Twilio-Email-Event-Webhook-Signature` is a base64 ECDSA (P-256, SHA-256, DER) signature over the
 * `X-Twilio-Email-Event-Webhook-Timestamp` header's value followed by the raw body bytes, verified
 * with the public key SendGrid shows as base64 DER. The timestamp (epoch seconds) must lie within the
 * replay window.
 *
 * Events: delivered; bounce (`type` bounce → hard unless its status says 4.x.x, blocked → soft);
 * dropped (SendGrid did not send: its own suppression list) → a hard bounce, or a complaint when
 * the reason is "Spam Reporting Address"; deferred → a delay (not a bounce); spamreport → a complaint;
 * open; click. Others (processed, unsubscribe, group_*) are ignored. `smtp-id` is the message's
 * Message-ID as we sent it (SMTP relay), `sg_event_id` the feedback id.
 */
import { createHash, type KeyObject, verify } from 'node:crypto'
import { webhookMalformed, webhookReplayed, webhookUnauthorized } from '../../core/errors.ts'
import { bounceTypeOf, type Feedback } from '../feedback.ts'
import { emailIdIn } from '../feedback-sink.ts'

export const SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature'
export const TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp'

/** Throws 401 unless the body is signed by the key within `windowSeconds` of `now` (epoch ms). */
export function verifySendgrid(
  key: KeyObject,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
  now: number,
  windowSeconds: number,
): void {
  const signature = headers[SIGNATURE_HEADER]
  const timestamp = headers[TIMESTAMP_HEADER]
  if (typeof signature !== 'string' || typeof timestamp !== 'string' || signature === '' || timestamp === '')
    throw webhookUnauthorized('SendGrid', 'the signature or timestamp header is missing')
  let ok = false
  try {
    ok = verify(
      'sha256',
      Buffer.concat([Buffer.from(timestamp, 'utf8'), body]),
      key,
      Buffer.from(signature, 'base64'),
    )
  } catch {
    ok = false
  }
  if (!ok) throw webhookUnauthorized('SendGrid', 'the signature does not verify with the configured key')
  const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN
  const age = now / 1000 - seconds
  if (!Number.isFinite(age) || Math.abs(age) > windowSeconds)
    throw webhookReplayed('SendGrid', age, windowSeconds)
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

/** An enhanced status code in SendGrid's `status` ("5.1.1") or a deferral's response text. */
const statusIn = (v: string | undefined): string | undefined =>
  /\b[245]\.\d{1,3}\.\d{1,3}\b/.exec(v ?? '')?.[0]

/** The feedback in one (verified) Event Webhook body: a JSON array of events. */
export function sendgridFeedback(body: Buffer, receivedAt: number): Feedback[] {
  let events: unknown
  try {
    events = JSON.parse(body.toString('utf8'))
  } catch {
    throw webhookMalformed('SendGrid', 'the body is not JSON')
  }
  if (!Array.isArray(events)) throw webhookMalformed('SendGrid', 'the body is not a JSON array of events')
  const out: Feedback[] = []
  events.forEach((e, i) => {
    if (!isObj(e) || str(e.event) === undefined || str(e.email) === undefined)
      throw webhookMalformed('SendGrid', `event ${i} has no "event" or "email"`)
    const f = sendgridEvent(e, receivedAt)
    if (f !== undefined) out.push(f)
  })
  return out
}

function sendgridEvent(e: Obj, receivedAt: number): Feedback | undefined {
  const event = str(e.event)
  const recipient = String(e.email)
  const at = typeof e.timestamp === 'number' && Number.isFinite(e.timestamp) ? e.timestamp * 1000 : receivedAt
  // sg_event_id names the event; an old payload without one is named by its content.
  const feedbackId =
    str(e.sg_event_id) ?? createHash('sha256').update(JSON.stringify(e)).digest('hex').slice(0, 32)
  const base = {
    source: 'sendgrid' as const,
    feedbackId,
    emailId: emailIdIn(str(e['smtp-id'])),
    recipient,
    at,
  }
  const reason = str(e.reason)
  switch (event) {
    case 'delivered':
      return { ...base, kind: 'delivered' }
    case 'bounce': {
      const status = statusIn(str(e.status))
      const type = str(e.type) === 'blocked' ? 'soft' : (bounceTypeOf(status) ?? 'hard')
      return { ...base, kind: 'bounced', bounce: { type, status, diagnostic: reason } }
    }
    case 'dropped':
      if (reason !== undefined && /spam reporting/i.test(reason))
        return { ...base, kind: 'complained', complaint: { type: 'abuse' } }
      return {
        ...base,
        kind: 'bounced',
        bounce: { type: 'hard', status: statusIn(str(e.status)), diagnostic: reason },
      }
    case 'deferred': {
      // SendGrid retries (for up to 72 hours) and posts one `deferred` per attempt: a delay, not a
      // bounce (a `bounce` event comes if it gives up).
      const response = str(e.response)
      const attempt = Number(e.attempt)
      return {
        ...base,
        kind: 'delayed',
        delay: {
          status: statusIn(response),
          diagnostic: response,
          attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : undefined,
        },
      }
    }
    case 'spamreport':
      return { ...base, kind: 'complained', complaint: { type: 'abuse' } }
    case 'open':
      return { ...base, kind: 'opened' }
    case 'click':
      return { ...base, kind: 'clicked', url: str(e.url) }
    default:
      return undefined
  }
}
