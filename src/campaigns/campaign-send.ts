/**
 * One recipient of a campaign through the one send path (src/delivery/deliver.ts: address →
 * suppression → render → tracking → headers → claim → transport → typed DeliveryOutcome, bounce
 * suppression, metrics, outcome events), and the campaign's policy around it: one message per
 * address (an address another recipient has is skipped), the ledger claim and record, the
 * campaign's Message-ID, the rate limit before each attempt.
 *
 * A temporary failure (the transport refused the connection, a 4xx before the body, the profile
 * could not be read, a store that threw) is never failed for good: the row is `deferred`, due again
 * after a backoff of minutes (ledger-rules.ts), until `maxDeferrals` (then `failed`, `gave_up`).
 */
import { type LocalDateTime, zonedInstant, zoneOf } from '../core/local-time.ts'
import type { JsonObject } from '../core/types.ts'
import { type DeliveryDeps, deliver, messageIdFor, reportOutcome } from '../delivery/deliver.ts'
import type { DeliveryOutcome } from '../delivery/outcome.ts'
import { normalizeEmail } from '../delivery/suppression-store.ts'
import type { Recipient } from './audience.ts'
import { type BackoffPolicy, DEFAULT_BACKOFF, DEFAULT_MAX_DEFERRALS, retryAt } from './ledger-rules.ts'
import type { FinalState, LedgerKey, LedgerReason, Outcome, SendLedger } from './send-ledger.ts'
import type { TokenBucket } from './token-bucket.ts'

/** What one message of a campaign needs to know about the campaign. */
export interface CampaignMessage {
  id: string
  templateId: string
  version?: number
  from: string
  vars?: JsonObject
  /** How long click, open and unsubscribe links verify; default 30 days. */
  trackingTtlMs?: number
  /** Each recipient at this wall time on their own clock (campaign-store.ts CampaignSendAt). */
  sendAt?: { localTime: LocalDateTime; defaultTimezone: string }
  /** The subscription topic: recipients who left it are skipped (`topic_unsubscribed`). */
  topic?: string
}

export interface CampaignSendDeps extends DeliveryDeps {
  ledger: SendLedger
  /** The `timezone` trait of a recipient (local-time sends); throws when the profile cannot be read. */
  lookupTimezone?: (workspaceId: string, userId: string) => Promise<unknown>
  /** Backoff of deferred recipients; default 1 min doubling up to 1 h. */
  backoff?: BackoffPolicy
  /** Deferrals before a recipient is failed for good (`gave_up`); default 12. */
  maxDeferrals?: number
}

/** What happened to one recipient, for the runner: the ledger state written, or `already`. */
export interface Handled {
  outcome: DeliveryOutcome
  state: FinalState | 'already'
  /** The transport refused (a temporary failure where the server does not have the message). */
  transportFailure: boolean
}

/** The same id for every attempt at a recipient, so a retry carries the same Message-ID. */
export const campaignMessageId = messageIdFor

export class CampaignSend {
  constructor(private readonly deps: CampaignSendDeps) {}

  /**
   * Sends to one recipient (`deferrals`: how often its row was deferred before) and records the
   * outcome. Every attempt takes a token from `bucket`, but the first when `tokenTaken` (the runner
   * took it before the claim).
   */
  async one(
    workspaceId: string,
    campaign: CampaignMessage,
    recipient: Recipient,
    deferrals: number,
    bucket: TokenBucket | undefined,
    tokenTaken = false,
  ): Promise<Handled> {
    let haveToken = tokenTaken
    const { ledger } = this.deps
    const key: LedgerKey = { workspaceId, campaignId: campaign.id, recipient: recipient.userId }
    const messageId = campaignMessageId(workspaceId, campaign.id, recipient.userId)
    const email = normalizeEmail(recipient.email)
    // The ledger keeps the normalized address, so profiles sharing one are found whatever their case.
    const address = email ?? recipient.email
    const record = async (outcome: DeliveryOutcome): Promise<Handled> => {
      const [state, detail, extra] = this.#row(outcome, deferrals)
      const written = await ledger.record(key, address, messageId, state, detail, extra)
      return { outcome, state: written ? state : 'already', transportFailure: false }
    }
    const decided = async (outcome: DeliveryOutcome): Promise<Handled> => {
      await reportOutcome(
        this.deps,
        { ...this.#message(key, campaign, messageId), userId: recipient.userId },
        outcome,
      )
      return record(outcome)
    }
    if (recipient.unreadable !== undefined)
      return decided({
        kind: 'failed',
        temporary: true,
        reason: 'profile_unreadable',
        detail: `the profile could not be read: ${recipient.unreadable}`,
      })
    // Several profiles may share one address (a household, a merged import): one message per address
    // per campaign, to the first of them in audience order.
    if (email !== undefined && (await ledger.addressTaken(key, email)))
      return decided({
        kind: 'skipped',
        reason: 'address_taken',
        detail: `another recipient of this campaign has the address ${email}`,
      })
    if (campaign.sendAt) {
      let zone: string
      try {
        const trait = await this.deps.lookupTimezone?.(workspaceId, recipient.userId)
        zone = zoneOf(trait, campaign.sendAt.defaultTimezone)
      } catch (err) {
        return decided({
          kind: 'failed',
          temporary: true,
          reason: 'profile_unreadable',
          detail: `the profile could not be read: ${err instanceof Error ? err.message : String(err)}`,
        })
      }
      const due = zonedInstant(campaign.sendAt.localTime, zone)
      if (due > this.deps.clock.now()) {
        // Not an outcome (nothing is reported): the row waits, due when the recipient's clock gets there.
        const detail = `held for the local send time (${zone}) until ${new Date(due).toISOString()}`
        const written = await ledger.record(key, address, messageId, 'deferred', detail, {
          reason: 'local_time',
          retryAt: due,
        })
        return {
          outcome: { kind: 'failed', temporary: true, detail },
          state: written ? 'deferred' : 'already',
          transportFailure: false,
        }
      }
    }
    const { outcome, claimed } = await deliver(this.deps, {
      ...this.#message(key, campaign, messageId),
      recipient: { userId: recipient.userId, email: recipient.email },
      from: campaign.from,
      render: {
        templateId: campaign.templateId,
        version: campaign.version,
        userId: recipient.userId,
        campaign: { id: campaign.id, ...campaign.vars },
      },
      trackingTtlMs: campaign.trackingTtlMs,
      topic: campaign.topic,
      claim: () => ledger.claim(key, address, messageId),
      beforeAttempt: async () => {
        if (haveToken) haveToken = false
        else await bucket?.take()
        await ledger.attempt(key)
      },
    })
    if (!claimed) {
      // The row is another run's: nothing to write.
      if (outcome.kind === 'skipped' && outcome.reason === 'already_handled')
        return { outcome, state: 'already', transportFailure: false }
      return record(outcome)
    }
    const [state, detail, extra] = this.#row(outcome, deferrals)
    await ledger.finish(key, state, detail, extra)
    const transportFailure = outcome.kind === 'failed' && outcome.reason === 'transport_deferred'
    return { outcome, state, transportFailure }
  }

  #message(key: LedgerKey, campaign: CampaignMessage, messageId: string) {
    return {
      workspaceId: key.workspaceId,
      origin: 'campaign' as const,
      campaignId: campaign.id,
      source: `campaign:${campaign.id}`,
      messageId,
    }
  }

  /** The campaign's policy: a DeliveryOutcome as a ledger row. */
  #row(o: DeliveryOutcome, deferrals: number): [FinalState, string, Omit<Outcome, 'detail'>] {
    const reason = (r: LedgerReason) => ({ reason: r })
    switch (o.kind) {
      case 'sent':
        return ['sent', o.detail, {}]
      case 'bounced':
        return ['failed', o.detail, reason('bounced')]
      case 'unknown':
        return ['unknown', o.detail, reason('maybe_delivered')]
      case 'suppressed':
        return ['suppressed', o.detail, reason('suppressed')]
      case 'skipped':
        return ['skipped', o.detail, reason(o.reason)]
      case 'failed': {
        if (!o.temporary) return ['failed', o.detail, reason(o.reason ?? 'permanent')]
        const max = this.deps.maxDeferrals ?? DEFAULT_MAX_DEFERRALS
        if (deferrals + 1 > max)
          return ['failed', `${o.detail}; gave up after ${max} retries`, reason('gave_up')]
        const at = retryAt(this.deps.clock.now(), deferrals + 1, this.deps.backoff ?? DEFAULT_BACKOFF)
        return ['deferred', o.detail, { reason: o.reason ?? 'temporary', retryAt: at }]
      }
    }
  }
}
