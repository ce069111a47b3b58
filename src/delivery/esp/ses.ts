/**
 * Amazon SES notifications (the JSON in an SNS Notification's `Message`) → Feedback. Both forms SES
 * publishes: identity notifications (`notificationType`: Bounce, Complaint, Delivery) and event
 * publishing through a configuration set (`eventType`: also Open, Click, DeliveryDelay — a delay,
 * not a bounce). Other types (Send, Reject, Rendering Failure, Subscription,
 * AmazonSnsSubscriptionSucceeded) carry nothing for a profile and are ignored.
 *
 * Our email id comes from the original message's headers SES repeats: `mail.commonHeaders.messageId`
 * or the `Message-ID` of `mail.headers` (`<ink-c.…@domain>`). The feedback id is SES's own
 * `feedbackId` where there is one (the same bounce published to two topics is one event), else the
 * SNS MessageId; it is suffixed with the recipient, since one notification may name several.
 */
import { webhookMalformed } from '../../core/errors.ts'
import { type BounceType, bounceTypeOf, type Feedback } from '../feedback.ts'
import { emailIdIn } from '../feedback-sink.ts'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
const obj = (v: unknown): Obj => (isObj(v) ? v : {})

const malformed = (why: string) => webhookMalformed('SES', why)

function timeOf(value: unknown, fallback: number): number {
  const t = typeof value === 'string' ? Date.parse(value) : Number.NaN
  return Number.isFinite(t) ? t : fallback
}

/** Our email id from `mail` (commonHeaders.messageId, else the Message-ID header). */
function emailIdOf(mail: Obj): string | undefined {
  const common = str(obj(mail.commonHeaders).messageId)
  const fromCommon = emailIdIn(common)
  if (fromCommon !== undefined) return fromCommon
  const headers = Array.isArray(mail.headers) ? mail.headers : []
  for (const h of headers) {
    if (isObj(h) && typeof h.name === 'string' && h.name.toLowerCase() === 'message-id') {
      const id = emailIdIn(str(h.value))
      if (id !== undefined) return id
    }
  }
  return undefined
}

function sesBounceType(bounceType: string | undefined, status: string | undefined): BounceType {
  if (bounceType === 'Permanent') return 'hard'
  if (bounceType === 'Transient') return 'soft'
  // Undetermined: the status class decides when there is one.
  return bounceTypeOf(status) ?? 'soft'
}

/** The feedback in one SES notification; `snsMessageId` and `receivedAt` stand in where SES has none. */
export function sesFeedback(message: string, snsMessageId: string, receivedAt: number): Feedback[] {
  let n: unknown
  try {
    n = JSON.parse(message)
  } catch {
    throw malformed('the SNS Message is not JSON')
  }
  if (!isObj(n)) throw malformed('the SNS Message is not a JSON object')
  const type = str(n.notificationType) ?? str(n.eventType)
  if (type === undefined) throw malformed('the notification has no notificationType or eventType')
  const mail = obj(n.mail)
  const emailId = emailIdOf(mail)
  const base = (kind: Feedback['kind'], id: string, recipient: string, at: unknown): Feedback => ({
    source: 'ses',
    kind,
    feedbackId: `${id}/${recipient.toLowerCase()}`,
    emailId,
    recipient,
    at: timeOf(at, receivedAt),
  })
  const recipientsOf = (list: unknown, field: string): Obj[] => {
    if (!Array.isArray(list)) throw malformed(`${field} is not a list`)
    return list.map((r) => {
      if (!isObj(r) || str(r.emailAddress) === undefined)
        throw malformed(`${field}[].emailAddress is missing`)
      return r
    })
  }
  switch (type) {
    case 'Bounce': {
      const b = obj(n.bounce)
      const id = str(b.feedbackId) ?? snsMessageId
      return recipientsOf(b.bouncedRecipients, 'bounce.bouncedRecipients').map((r) => {
        const status = str(r.status)
        return {
          ...base('bounced', id, String(r.emailAddress), b.timestamp),
          bounce: {
            type: sesBounceType(str(b.bounceType), status),
            status,
            diagnostic: str(r.diagnosticCode),
          },
        }
      })
    }
    case 'DeliveryDelay': {
      // Event publishing only: SES is still retrying (until expirationTime); a bounce comes later
      // if it gives up. Not a soft bounce: SES publishes one per delay, so those counted toward
      // the soft-bounce limit suppressed recipients whose mail was only slow.
      const d = obj(n.deliveryDelay)
      return recipientsOf(d.delayedRecipients, 'deliveryDelay.delayedRecipients').map((r) => ({
        ...base('delayed', `${snsMessageId}:delay`, String(r.emailAddress), d.timestamp),
        delay: { type: str(d.delayType), status: str(r.status), diagnostic: str(r.diagnosticCode) },
      }))
    }
    case 'Complaint': {
      const c = obj(n.complaint)
      const id = str(c.feedbackId) ?? snsMessageId
      return recipientsOf(c.complainedRecipients, 'complaint.complainedRecipients').map((r) => ({
        ...base('complained', id, String(r.emailAddress), c.timestamp),
        complaint: { type: str(c.complaintFeedbackType) },
      }))
    }
    case 'Delivery': {
      const d = obj(n.delivery)
      if (!Array.isArray(d.recipients)) throw malformed('delivery.recipients is not a list')
      return d.recipients
        .filter((r): r is string => typeof r === 'string' && r !== '')
        .map((r) => base('delivered', snsMessageId, r, d.timestamp))
    }
    case 'Open':
    case 'Click': {
      const e = obj(type === 'Open' ? n.open : n.click)
      if (!Array.isArray(mail.destination)) throw malformed('mail.destination is not a list')
      return mail.destination
        .filter((r): r is string => typeof r === 'string' && r !== '')
        .map((r) => {
          const f = base(type === 'Open' ? 'opened' : 'clicked', snsMessageId, r, e.timestamp)
          if (type === 'Click') f.url = str(e.link)
          return f
        })
    }
    default:
      return []
  }
}
