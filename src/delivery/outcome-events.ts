/**
 * Send outcomes written back into the event pipeline as Segment-style track events for the
 * recipient, as opens and clicks are (tracking-events.ts), so traits, segments and analytics can use
 * them: Email Sent, Email Bounced, Email Delivery Failed, Email Delivery Unknown, Email Suppressed,
 * Email Skipped, with `campaign_id`, `email_id` (our Message-ID), `origin`, `reason` and `detail`,
 * and once rendered `template_id`, `template_version` and `fallbacks` (analytics per version).
 *
 * The event's messageId is hash(workspace, email id, outcome kind): appending the same outcome of the
 * same message twice (a retry of the append, a job sent again after a crash of the recorder) is one
 * event to the processor's messageId dedupe (DESIGN.md §5).
 */
import { createHash } from 'node:crypto'
import type { InkEvent, JsonObject } from '../core/types.ts'
import type { DeliveryKind, DeliveryOrigin, DeliveryOutcome } from './outcome.ts'

export const EMAIL_SENT = 'Email Sent'
export const EMAIL_BOUNCED = 'Email Bounced'
export const EMAIL_DELIVERY_FAILED = 'Email Delivery Failed'
export const EMAIL_DELIVERY_UNKNOWN = 'Email Delivery Unknown'
export const EMAIL_SUPPRESSED = 'Email Suppressed'
export const EMAIL_SKIPPED = 'Email Skipped'

const NAMES: Record<DeliveryKind, string> = {
  sent: EMAIL_SENT,
  bounced: EMAIL_BOUNCED,
  failed: EMAIL_DELIVERY_FAILED,
  unknown: EMAIL_DELIVERY_UNKNOWN,
  suppressed: EMAIL_SUPPRESSED,
  skipped: EMAIL_SKIPPED,
}

/** The message an outcome is about. */
export interface OutcomeMessage {
  workspaceId: string
  origin: DeliveryOrigin
  /** As in links and Message-IDs: a campaign's id, `trigger:<id>` for a trigger. */
  campaignId: string
  /** Our message id (the Message-ID's local part), the same for every attempt. */
  messageId: string
  /** The recipient's userId (or anonymousId): whose profile the event lands on. */
  userId: string
  /** The template rendered (analytics per template version); absent where no render was asked for. */
  templateId?: string | undefined
  /** Known once the message was rendered. */
  templateVersion?: number | undefined
  /** Distinct fallbacks the render took (analytics: fallback usage); known once rendered. */
  fallbacks?: number | undefined
  /**
   * The address sent to: a bounce's event carries it as `recipient`, so the processor's bounce policy
   * suppresses the address that bounced, not whatever the profile's `email` trait is by then.
   */
  recipient?: { email: string } | undefined
}

/** The typed reason of an outcome, as the event's `reason` property. */
export function outcomeReason(outcome: DeliveryOutcome): string | undefined {
  switch (outcome.kind) {
    case 'skipped':
      return outcome.reason
    case 'failed':
      return outcome.reason ?? (outcome.temporary ? 'unavailable' : 'rejected')
    case 'bounced':
      return 'hard_bounce'
    case 'suppressed':
      return 'suppressed'
    default:
      return undefined
  }
}

/**
 * Whether an outcome is a fact to report. Not: a temporary failure (the origin tries again later and
 * reports what that ends in, or `expired` when it gives up), nor `already_handled` (another run or
 * process handled the message and reported it).
 */
export function isReportable(outcome: DeliveryOutcome): boolean {
  if (outcome.kind === 'failed') return !outcome.temporary
  return !(outcome.kind === 'skipped' && outcome.reason === 'already_handled')
}

/** Every outcome event id starts so; the collector refuses it from clients (ingest/validate.ts). */
export const OUTCOME_EVENT_PREFIX = 'ink-outcome-'

export function outcomeEventId(workspaceId: string, emailId: string, kind: DeliveryKind): string {
  const hash = createHash('sha256').update(`${workspaceId}\n${emailId}\n${kind}`).digest('hex').slice(0, 32)
  return `${OUTCOME_EVENT_PREFIX}${hash}`
}

/** The track event for an outcome of a message, at `now`. */
export function outcomeEvent(message: OutcomeMessage, outcome: DeliveryOutcome, now: number): InkEvent {
  const properties: JsonObject = {
    campaign_id: message.campaignId,
    email_id: message.messageId,
    origin: message.origin,
  }
  if (message.templateId !== undefined) properties.template_id = message.templateId
  if (message.templateVersion !== undefined) properties.template_version = message.templateVersion
  if (message.fallbacks !== undefined) properties.fallbacks = message.fallbacks
  const reason = outcomeReason(outcome)
  if (reason !== undefined) properties.reason = reason
  properties.detail = outcome.detail
  if (outcome.kind === 'sent') properties.attempts = outcome.attempts
  if (outcome.kind === 'bounced' && message.recipient) properties.recipient = message.recipient.email
  const at = new Date(now).toISOString()
  return {
    type: 'track',
    event: NAMES[outcome.kind],
    messageId: outcomeEventId(message.workspaceId, message.messageId, outcome.kind),
    workspaceId: message.workspaceId,
    userId: message.userId,
    properties,
    timestamp: at,
    receivedAt: at,
  }
}
