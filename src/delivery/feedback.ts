/**
 * Delivery feedback that arrives after the SMTP session (issue 15): asynchronous bounces (DSN,
 * RFC 3464) and complaints (ARF, RFC 5965) read from a mailbox, and the events ESPs post to
 * webhooks (Amazon SES via SNS, SendGrid, Postmark). Every source turns what it received into
 * `Feedback` values and hands them to a `FeedbackSink`, which resolves the message and appends a
 * Segment-style track event on the recipient's profile, so bounces and complaints become traits,
 * segments, suppressions (the processor's policy) and analytics like every other event.
 *
 * This file is the contract between the sources and the sink: the kinds, the event names and
 * properties, and the event id that makes a feedback delivered twice (a webhook retried, a mailbox
 * read again after a crash) one event to the processor's messageId dedupe.
 */
import { createHash } from 'node:crypto'
import type { InkEvent, JsonObject } from '../core/types.ts'
import { EMAIL_BOUNCED } from './outcome-events.ts'

export { EMAIL_BOUNCED }
export const EMAIL_COMPLAINED = 'Email Complained'
export const EMAIL_DELIVERED = 'Email Delivered'
/** Opens and clicks an ESP reports (its own pixel and link tracking), apart from ours. */
export const EMAIL_OPENED = 'Email Opened'
export const EMAIL_LINK_CLICKED = 'Email Link Clicked'
/**
 * A message the provider is still trying to deliver (SES DeliveryDelay, SendGrid `deferred`): not a
 * bounce. Providers report one per retry (SendGrid's `attempt` counts them), so as soft bounces three
 * of them suppressed a recipient whose mail was merely slow, and a message delayed then delivered
 * counted as bounced in its analytics.
 */
export const EMAIL_DELIVERY_DELAYED = 'Email Delivery Delayed'

export type FeedbackSource = 'mailbox' | 'ses' | 'sendgrid' | 'postmark'

export type FeedbackKind = 'delivered' | 'delayed' | 'bounced' | 'complained' | 'opened' | 'clicked'

/** RFC 3463: a 5.x.x status is permanent (hard), a 4.x.x one transient (soft). */
export type BounceType = 'hard' | 'soft'

/** One report about one of our messages; its workspace is FeedbackSink.record's (see there), not a field. */
export interface Feedback {
  source: FeedbackSource
  kind: FeedbackKind
  /**
   * The provider's id of this notification (SNS MessageId, SendGrid sg_event_id, Postmark's
   * bounce ID or record id, the DSN's own Message-ID): with the source, it names the feedback, so
   * a second delivery of it is the same event.
   */
  feedbackId: string
  /** Our message id (the Message-ID's local part, `ink-c.…`) when the source carries it. */
  emailId?: string | undefined
  /** The recipient's address as the source gives it. */
  recipient: string
  /** When it happened (epoch ms), as the source says; else when it was received. */
  at: number
  /** kind `bounced`. */
  bounce?: {
    type: BounceType
    /** RFC 3463 enhanced status code, e.g. `5.1.1`, when known. */
    status?: string | undefined
    /** The remote server's text (Diagnostic-Code, SES diagnosticCode, SendGrid reason). */
    diagnostic?: string | undefined
  }
  /**
   * kind `delayed`: why the provider is still retrying. `type` is the provider's own (SES `delayType`:
   * MailboxFull, TransientCommunicationFailure, …), `attempt` the retry it reports (SendGrid).
   */
  delay?: {
    type?: string | undefined
    status?: string | undefined
    diagnostic?: string | undefined
    attempt?: number | undefined
  }
  /** kind `complained`: the ARF Feedback-Type or the provider's complaint type (`abuse`, …). */
  complaint?: { type?: string | undefined }
  /** kind `clicked`: the URL clicked. */
  url?: string | undefined
}

/** Where feedback goes (src/delivery/feedback-sink.ts resolves and appends). */
export interface FeedbackSink {
  /**
   * Resolves each feedback to its message and profile and appends its event. Answers, per input
   * and in order, `recorded` (appended; a duplicate is recorded again and deduped downstream) or
   * `unmatched` (no message or profile known for it: nothing appended, counted, logged).
   * `workspaceId` is the workspace the source names (an ESP webhook's URL): nothing outside it is
   * matched. A source that names none (the bounce mailbox, shared by every workspace's senders)
   * passes `anyWorkspace`: a feedback with our email id is then recorded in the workspace that sent
   * the message, and `workspaceId` is only where one without a known message is matched by address.
   */
  record(
    workspaceId: string,
    feedback: readonly Feedback[],
    opts?: RecordOptions,
  ): Promise<('recorded' | 'unmatched')[]>
}

export interface RecordOptions {
  /** The source names no workspace: a message is looked up in all of them (see FeedbackSink.record). */
  anyWorkspace?: boolean
}

const NAMES: Record<FeedbackKind, string> = {
  delivered: EMAIL_DELIVERED,
  delayed: EMAIL_DELIVERY_DELAYED,
  bounced: EMAIL_BOUNCED,
  complained: EMAIL_COMPLAINED,
  opened: EMAIL_OPENED,
  clicked: EMAIL_LINK_CLICKED,
}

/** Every feedback event id starts so; the collector refuses it from clients (ingest/validate.ts). */
export const FEEDBACK_EVENT_PREFIX = 'ink-feedback-'

/** The event id of a feedback: the same for every delivery of the same notification. */
export function feedbackEventId(
  workspaceId: string,
  f: Pick<Feedback, 'source' | 'feedbackId' | 'kind'>,
): string {
  const hash = createHash('sha256')
    .update(`${workspaceId}\n${f.source}\n${f.kind}\n${f.feedbackId}`)
    .digest('hex')
    .slice(0, 32)
  return `${FEEDBACK_EVENT_PREFIX}${hash}`
}

/** What the sink resolved a feedback to. */
export interface ResolvedMessage {
  workspaceId: string
  /** Whose profile the event lands on (the message's userId, else a profile found by address). */
  userId: string
  campaignId?: string | undefined
  emailId?: string | undefined
}

/**
 * The track event of a feedback. Properties: `campaign_id`, `email_id` (when resolved), `origin:
 * "feedback"`, `source`, `recipient`, and per kind: `bounce_type` (`hard`|`soft`), `reason`,
 * `status`, `diagnostic`; for a delay `delay_type`, `status`, `diagnostic`, `attempt`;
 * `complaint_type`; `url`. Opens and clicks carry `open_kind: "esp"` /
 * `click_kind: "esp"` so analytics keeps them apart from our own tracking.
 */
export function feedbackEvent(f: Feedback, to: ResolvedMessage, now: number): InkEvent {
  const properties: JsonObject = { origin: 'feedback', source: f.source, recipient: f.recipient }
  if (to.campaignId !== undefined) properties.campaign_id = to.campaignId
  if (to.emailId !== undefined) properties.email_id = to.emailId
  if (f.kind === 'bounced' && f.bounce) {
    properties.bounce_type = f.bounce.type
    properties.reason = f.bounce.type === 'hard' ? 'hard_bounce' : 'soft_bounce'
    if (f.bounce.status !== undefined) properties.status = f.bounce.status
    if (f.bounce.diagnostic !== undefined) properties.diagnostic = f.bounce.diagnostic.slice(0, 1000)
  }
  if (f.kind === 'delayed' && f.delay) {
    if (f.delay.type !== undefined) properties.delay_type = f.delay.type
    if (f.delay.status !== undefined) properties.status = f.delay.status
    if (f.delay.diagnostic !== undefined) properties.diagnostic = f.delay.diagnostic.slice(0, 1000)
    if (f.delay.attempt !== undefined) properties.attempt = f.delay.attempt
  }
  if (f.kind === 'complained') properties.complaint_type = f.complaint?.type ?? 'abuse'
  if (f.kind === 'opened') properties.open_kind = 'esp'
  if (f.kind === 'clicked') {
    properties.click_kind = 'esp'
    if (f.url !== undefined) properties.url = f.url
  }
  return {
    type: 'track',
    event: NAMES[f.kind],
    messageId: feedbackEventId(to.workspaceId, f),
    workspaceId: to.workspaceId,
    userId: to.userId,
    properties,
    timestamp: new Date(Number.isFinite(f.at) ? f.at : now).toISOString(),
    receivedAt: new Date(now).toISOString(),
  }
}

/** RFC 3463: the class digit of an enhanced status code decides hard (5) or soft (4); else undefined. */
export function bounceTypeOf(status: string | undefined): BounceType | undefined {
  const m = status === undefined ? null : /^([245])\.\d{1,3}\.\d{1,3}$/.exec(status.trim())
  if (!m) return undefined
  return m[1] === '5' ? 'hard' : m[1] === '4' ? 'soft' : undefined
}
