/**
 * Postmark webhooks (one record per POST) → Feedback. RecordType Bounce (by `Type`: HardBounce,
 * BadEmailAddress, ManuallyDeactivated → hard; SoftBounce, DnsError, Blocked, DMARCPolicy, Unknown →
 * soft; Transient, Postmark's "Message delayed/Undeliverable" (the server could not deliver *yet*,
 * e.g. network trouble, and Postmark keeps trying) → a delay, not a bounce, as SES DeliveryDelay and
 * SendGrid `deferred`; SpamNotification → complaint; the rest — AutoResponder, Subscribe, Unsubscribe,
 * AddressChange, ChallengeVerification, OpenRelayTest, VirusNotification … — are not bounces of
 * the recipient and are ignored), SpamComplaint, Delivery, Open, Click.
 *
 * Postmark's `MessageID` is its own id. Our email id is read from `Metadata` (`ink_email_id` or
 * `ink-email-id`, set by an `X-PM-Metadata-ink_email_id` header where a sender adds it), else from
 * the bounce's `Content` dump (the original headers, when "include bounce content" is on), else the
 * feedback is resolved by the recipient's address. The feedback id is the bounce's `ID`; records
 * without one are named by MessageID, record type, recipient and time.
 */
import { webhookMalformed } from '../../core/errors.ts'
import type { BounceType, Feedback } from '../feedback.ts'
import { emailIdIn } from '../feedback-sink.ts'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

const HARD = new Set(['HardBounce', 'BadEmailAddress', 'ManuallyDeactivated'])
const SOFT = new Set(['SoftBounce', 'DnsError', 'Blocked', 'DMARCPolicy', 'Unknown'])

function bounceKind(
  type: string | undefined,
): { kind: 'bounced'; type: BounceType } | { kind: 'delayed' } | { kind: 'complained' } | undefined {
  if (type === undefined) return undefined
  if (HARD.has(type)) return { kind: 'bounced', type: 'hard' }
  if (SOFT.has(type)) return { kind: 'bounced', type: 'soft' }
  if (type === 'Transient') return { kind: 'delayed' }
  if (type === 'SpamNotification' || type === 'SpamComplaint') return { kind: 'complained' }
  return undefined
}

const timeOf = (v: unknown, fallback: number): number => {
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN
  return Number.isFinite(t) ? t : fallback
}

/**
 * The bounce ID as Postmark wrote it. IDs are 64-bit (the docs' sample is 4323372036854775807),
 * beyond what a JSON number keeps exactly: past 2^53 the digits are read from the body itself.
 */
function bounceId(parsed: unknown, body: Buffer): string | undefined {
  if (typeof parsed === 'string' && parsed !== '') return parsed
  if (typeof parsed !== 'number' || !Number.isFinite(parsed)) return undefined
  if (Number.isSafeInteger(parsed)) return String(parsed)
  for (const m of body.toString('utf8').matchAll(/"ID"\s*:\s*(\d+)/g))
    if (m[1] !== undefined && Number(m[1]) === parsed) return m[1]
  return String(parsed)
}

/** The feedback in one Postmark webhook body (zero or one). */
export function postmarkFeedback(body: Buffer, receivedAt: number): Feedback[] {
  let r: unknown
  try {
    r = JSON.parse(body.toString('utf8'))
  } catch {
    throw webhookMalformed('Postmark', 'the body is not JSON')
  }
  if (!isObj(r) || str(r.RecordType) === undefined)
    throw webhookMalformed('Postmark', 'the body is not a record with a RecordType')
  const type = String(r.RecordType)
  const meta = isObj(r.Metadata) ? r.Metadata : {}
  const emailId =
    emailIdIn(str(meta.ink_email_id)) ?? emailIdIn(str(meta['ink-email-id'])) ?? emailIdIn(str(r.Content))
  const recipient = str(r.Email) ?? str(r.Recipient)
  if (recipient === undefined) throw webhookMalformed('Postmark', `${type} record has no Email or Recipient`)
  const at = timeOf(r.BouncedAt ?? r.DeliveredAt ?? r.ReceivedAt, receivedAt)
  const messageId = str(r.MessageID) ?? ''
  const id = bounceId(r.ID, body)
  const feedbackId =
    id !== undefined ? `bounce:${id}` : `${messageId}:${type}:${recipient.toLowerCase()}:${at}`
  const base = { source: 'postmark' as const, feedbackId, emailId, recipient, at }
  switch (type) {
    case 'Bounce':
    case 'SpamComplaint': {
      const k = type === 'SpamComplaint' ? { kind: 'complained' as const } : bounceKind(str(r.Type))
      if (k === undefined) return []
      if (k.kind === 'complained') return [{ ...base, kind: 'complained', complaint: { type: 'abuse' } }]
      const diagnostic = [str(r.Description), str(r.Details)].filter((s) => s !== undefined).join(': ')
      const status = /\b[245]\.\d{1,3}\.\d{1,3}\b/.exec(str(r.Details) ?? '')?.[0]
      if (k.kind === 'delayed')
        return [
          {
            ...base,
            kind: 'delayed',
            delay: { type: 'Transient', status, diagnostic: diagnostic || undefined },
          },
        ]
      return [
        { ...base, kind: 'bounced', bounce: { type: k.type, status, diagnostic: diagnostic || undefined } },
      ]
    }
    case 'Delivery':
      return [{ ...base, kind: 'delivered' }]
    case 'Open':
      return [{ ...base, kind: 'opened' }]
    case 'Click': {
      // Several clicks of one message are several events: the link joins the id.
      const url = str(r.OriginalLink)
      return [{ ...base, feedbackId: `${feedbackId}:${url ?? ''}`, kind: 'clicked', url }]
    }
    default:
      return []
  }
}
