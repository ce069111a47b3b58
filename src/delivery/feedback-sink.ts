/**
 * The FeedbackSink (feedback.ts) every feedback source hands its Feedback to: the ESP webhooks
 * (src/delivery/esp/) and the mailbox reader. Each feedback is resolved to the message and the
 * profile it is about, then appended to the event log as `feedbackEvent(...)`, so the processor
 * folds it into the profile (traits, segments, the bounce policy) and analytics counts it, as it
 * does the send path's own outcome events.
 *
 * Resolution, in order:
 *  1. our email id (`ink-c.…`, the Message-ID's local part) → the analytics store's row of that
 *     message → its recipient's userId and campaign id, in the workspace the source names (a
 *     webhook URL's), or, for a source that names none (`anyWorkspace`: the bounce mailbox), in
 *     the workspace that sent the message, where the event is then recorded;
 *  2. else the recipient's address → ProfileStore.findByEmail in the given workspace: exactly one
 *     profile → its userId (or, for an anonymous profile, its anonymousId);
 *  3. else `unmatched`: nothing appended, counted (inkstream_feedback_total{result="unmatched"}) and
 *     logged with the address hashed, never in clear.
 *
 * Every feedback of one call is appended in one append: the call resolves once they are durable,
 * and throws when the log refuses them (the webhook then answers 503 and the provider retries).
 */
import { createHash } from 'node:crypto'
import type { AnalyticsStore } from '../analytics/analytics-store.ts'
import type { Clock, InkEvent } from '../core/types.ts'
import type { Metrics } from '../observe/metrics.ts'
import type { ProfileStore } from '../profiles/profile-store.ts'
import {
  type Feedback,
  type FeedbackSink,
  feedbackEvent,
  type RecordOptions,
  type ResolvedMessage,
} from './feedback.ts'

export interface FeedbackSinkDeps {
  log: { append(events: readonly InkEvent[]): Promise<void> }
  /** Per-message rows (analytics_messages); without it only the address resolves. */
  messages?: Pick<AnalyticsStore, 'message' | 'messageById'> | undefined
  profiles: Pick<ProfileStore, 'findByEmail' | 'getProfile' | 'identities'>
  clock: Clock
  logger: { info(obj: unknown, msg: string): void }
  /** Counts recorded and unmatched feedback; nothing is counted when absent. */
  metrics?: Pick<Metrics, 'feedback'> | undefined
}

type Resolution = { to: ResolvedMessage; anonymous: boolean } | undefined

/** A short, stable fingerprint of an address for logs (sha256 of the lower-cased address). */
export const addressHash = (address: string): string =>
  createHash('sha256').update(address.trim().toLowerCase()).digest('hex').slice(0, 16)

/** Our email ids: `ink-c.` and 40 hex digits (messageIdFor in deliver.ts). */
const EMAIL_ID = /^ink-c\.[0-9a-f]{40}$/

/**
 * Our email id in a Message-ID header value (`<ink-c.…@domain>`), a bare local part, or any text
 * that quotes one (a provider's field, a bounce's dump); undefined when there is none.
 */
export function emailIdIn(text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  const m = /ink-c\.[0-9a-f]{40}(?![0-9a-f])/.exec(text)
  return m?.[0]
}

export class EventLogFeedbackSink implements FeedbackSink {
  readonly #deps: FeedbackSinkDeps

  constructor(deps: FeedbackSinkDeps) {
    this.#deps = deps
  }

  async record(
    workspaceId: string,
    feedback: readonly Feedback[],
    opts: RecordOptions = {},
  ): Promise<('recorded' | 'unmatched')[]> {
    const { log, clock, metrics, logger } = this.#deps
    const now = clock.now()
    const events: InkEvent[] = []
    const results: ('recorded' | 'unmatched')[] = []
    // A batch (SendGrid posts hundreds of events) often names one message or address many times.
    const resolutions = new Map<string, Promise<Resolution>>()
    for (const f of feedback) {
      const key = `${f.emailId ?? ''}\n${f.recipient.trim().toLowerCase()}`
      let resolving = resolutions.get(key)
      if (resolving === undefined) {
        resolving = this.#resolve(workspaceId, f, opts.anyWorkspace === true)
        resolutions.set(key, resolving)
      }
      const resolved = await resolving
      if (resolved === undefined) {
        results.push('unmatched')
        continue
      }
      const event = feedbackEvent(f, resolved.to, now)
      if (resolved.anonymous) {
        // An anonymous profile is named by its anonymousId: as userId it would start a new profile.
        event.anonymousId = resolved.to.userId
        delete event.userId
      }
      events.push(event)
      results.push('recorded')
    }
    if (events.length > 0) await log.append(events)
    feedback.forEach((f, i) => {
      const result = results[i] ?? 'unmatched'
      metrics?.feedback.inc({ source: f.source, kind: f.kind, result })
      if (result === 'unmatched')
        logger.info(
          {
            workspaceId,
            source: f.source,
            kind: f.kind,
            feedbackId: f.feedbackId.slice(0, 200),
            emailId: f.emailId,
            recipientHash: addressHash(f.recipient),
          },
          'delivery feedback matches no message and no single profile; not recorded',
        )
    })
    return results
  }

  async #resolve(workspaceId: string, f: Feedback, anyWorkspace: boolean): Promise<Resolution> {
    const { messages, profiles } = this.#deps
    const emailId = f.emailId !== undefined && EMAIL_ID.test(f.emailId) ? f.emailId : undefined
    if (emailId !== undefined && messages !== undefined) {
      // Any workspace's message only for a source that names none: a webhook URL's workspace (and
      // its secret) must not reach another's.
      const row = anyWorkspace
        ? await messages.messageById(emailId)
        : await messages.message(workspaceId, emailId)
      if (row !== undefined)
        return {
          to: { workspaceId: row.workspaceId, userId: row.userId, campaignId: row.campaignId, emailId },
          anonymous: false,
        }
    }
    const address = f.recipient.trim()
    if (!address.includes('@')) return undefined
    // Two are enough to know the address is ambiguous.
    const found = await profiles.findByEmail(workspaceId, address, 2)
    if (found.length !== 1 || found[0] === undefined) return undefined
    const profile = await profiles.getProfile(workspaceId, found[0])
    if (profile === undefined) return undefined
    if (profile.userId !== null) return { to: { workspaceId, userId: profile.userId }, anonymous: false }
    const anonymous = (await profiles.identities(workspaceId, profile.profileId)).find(
      (i) => i.kind === 'anonymousId',
    )
    return anonymous === undefined
      ? undefined
      : { to: { workspaceId, userId: anonymous.value }, anonymous: true }
  }
}
