/**
 * One recipient of a campaign, as a typed DeliveryOutcome (src/delivery/outcome.ts), and the
 * campaign's policy for writing it to the ledger. Per recipient: no usable address → skipped; the
 * address already taken by another recipient → skipped; suppressed → suppressed; render and track;
 * claim (`sending`) in the ledger; the transport (with its quick retries, send-retries.ts); the
 * outcome becomes the row's state. Rendering before the claim keeps the window in which a crash
 * leaves a row in `sending` (→ `unknown`, never resent) as short as the send itself.
 *
 * A temporary failure (the transport refused the connection, a 4xx before the body, the profile
 * could not be read) is never failed for good: the row is `deferred`, due again after a backoff of
 * minutes (ledger-rules.ts), until `maxDeferrals`.
 */
import { createHash } from 'node:crypto'
import type { Clock, JsonObject } from '../core/types.ts'
import type { DeliveryOutcome } from '../delivery/outcome.ts'
import { normalizeEmail, type SuppressionStore } from '../delivery/suppression-store.ts'
import type { TokenCodec } from '../delivery/tokens.ts'
import { trackMessage, unsubscribeHeaders } from '../delivery/tracking.ts'
import type { OutgoingMessage, SendOutcome, Transport } from '../delivery/transport.ts'
import { skipDetail } from '../render/render-email.ts'
import type { Renderer, RenderRequest } from '../render/renderer.ts'
import type { Recipient } from './audience.ts'
import { type BackoffPolicy, DEFAULT_BACKOFF, DEFAULT_MAX_DEFERRALS, retryAt } from './ledger-rules.ts'
import type { FinalState, LedgerKey, LedgerReason, Outcome, SendLedger } from './send-ledger.ts'
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_DELAY_MS,
  isRecipientBounce,
  ledgerState,
  sendWithRetries,
} from './send-retries.ts'
import type { Sleep, TokenBucket } from './token-bucket.ts'

/** What one message of a campaign needs to know about the campaign. */
export interface CampaignMessage {
  id: string
  templateId: string
  version?: number
  from: string
  vars?: JsonObject
  /** How long click, open and unsubscribe links verify; default 30 days. */
  trackingTtlMs?: number
}

export interface CampaignSendDeps {
  ledger: SendLedger
  renderer: Pick<Renderer, 'render' | 'compiled'>
  transport: Transport
  suppressions: Pick<SuppressionStore, 'isSuppressed' | 'suppress'>
  codec: TokenCodec
  publicUrl: () => string
  clock: Clock
  logger: { warn(obj: unknown, msg: string): void }
  sleep: Sleep
  maxAttempts?: number
  retryDelayMs?: number
  suppressBounces?: boolean
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

const DEFAULT_TTL_MS = 30 * 86_400_000

/** The same id for every attempt at a recipient, so a retry carries the same Message-ID. */
export function campaignMessageId(workspaceId: string, campaignId: string, recipient: string): string {
  const hash = createHash('sha256').update(`${workspaceId}\n${campaignId}\n${recipient}`).digest('hex')
  return `ink-c.${hash.slice(0, 40)}`
}

/** A transport's answer as a DeliveryOutcome (the one send path's contract). */
export function deliveryOutcome(outcome: SendOutcome, attempts: number): DeliveryOutcome {
  const [, detail] = ledgerState(outcome, attempts)
  if (outcome.outcome === 'sent') return { kind: 'sent', detail, attempts }
  if (isRecipientBounce(outcome)) return { kind: 'bounced', detail }
  if (outcome.outcome === 'temporary' && outcome.accepted === 'unknown') return { kind: 'unknown', detail }
  return { kind: 'failed', detail, temporary: outcome.outcome === 'temporary' }
}

export class CampaignSend {
  constructor(private readonly deps: CampaignSendDeps) {}

  /** Sends to one recipient (`deferrals`: how often its row was deferred before) and records the outcome. */
  async one(
    workspaceId: string,
    campaign: CampaignMessage,
    recipient: Recipient,
    deferrals: number,
    bucket: TokenBucket | undefined,
  ): Promise<Handled> {
    const { ledger } = this.deps
    const key: LedgerKey = { workspaceId, campaignId: campaign.id, recipient: recipient.userId }
    const messageId = campaignMessageId(workspaceId, campaign.id, recipient.userId)
    const email = normalizeEmail(recipient.email)
    // The ledger keeps the normalized address, so profiles sharing one are found whatever their case.
    const record = async (outcome: DeliveryOutcome): Promise<Handled> => {
      const [state, detail, extra] = this.#row(outcome, deferrals)
      const written = await ledger.record(key, email ?? recipient.email, messageId, state, detail, extra)
      return { outcome, state: written ? state : 'already', transportFailure: false }
    }
    if (recipient.unreadable !== undefined)
      return record({
        kind: 'failed',
        temporary: true,
        detail: `profile unreadable: ${recipient.unreadable}`,
      })
    if (email === undefined)
      return record({
        kind: 'skipped',
        reason: 'no_address',
        detail: `"${recipient.email}" is not an email address`,
      })
    // Several profiles may share one address (a household, a merged import): one message per address
    // per campaign, to the first of them in audience order.
    if (await ledger.addressTaken(key, email))
      return record({
        kind: 'skipped',
        reason: 'address_taken',
        detail: `another recipient of this campaign has the address ${email}`,
      })
    if (await this.deps.suppressions.isSuppressed(workspaceId, recipient.email))
      return record({ kind: 'suppressed', detail: 'the address is suppressed' })
    const message = await this.#message(workspaceId, campaign, recipient, messageId)
    // A template's abort_message is the template deciding: the recipient is skipped, not failed.
    if (!message.ok) return record(message.outcome)
    if (!(await ledger.claim(key, email, messageId)))
      return {
        outcome: { kind: 'skipped', reason: 'already_handled', detail: 'another run handled it' },
        state: 'already',
        transportFailure: false,
      }
    const outcome = await this.#send(key, message.message, bucket)
    const [state, detail, extra] = this.#row(outcome, deferrals)
    await ledger.finish(key, state, detail, extra)
    const transportFailure = outcome.kind === 'failed' && outcome.temporary
    return { outcome, state, transportFailure }
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
        if (!o.temporary) return ['failed', o.detail, reason('permanent')]
        const max = this.deps.maxDeferrals ?? DEFAULT_MAX_DEFERRALS
        if (deferrals + 1 > max)
          return ['failed', `${o.detail}; gave up after ${max} retries`, reason('gave_up')]
        const at = retryAt(this.deps.clock.now(), deferrals + 1, this.deps.backoff ?? DEFAULT_BACKOFF)
        return ['deferred', o.detail, { reason: 'temporary', retryAt: at }]
      }
    }
  }

  async #message(
    workspaceId: string,
    campaign: CampaignMessage,
    recipient: Recipient,
    messageId: string,
  ): Promise<{ ok: true; message: OutgoingMessage } | { ok: false; outcome: DeliveryOutcome }> {
    const req: RenderRequest = {
      templateId: campaign.templateId,
      version: campaign.version,
      userId: recipient.userId,
      campaign: { id: campaign.id, ...campaign.vars },
    }
    try {
      const rendered = await this.deps.renderer.render(workspaceId, req)
      if (!rendered.ok)
        return rendered.skip
          ? {
              ok: false,
              outcome: { kind: 'skipped', reason: 'abort_message', detail: skipDetail(rendered.skip) },
            }
          : {
              ok: false,
              outcome: {
                kind: 'failed',
                temporary: false,
                detail: `render failed: ${rendered.error.message}`,
              },
            }
      const tracking = {
        baseUrl: this.deps.publicUrl(),
        codec: this.deps.codec,
        ttlMs: campaign.trackingTtlMs ?? DEFAULT_TTL_MS,
        workspaceId,
        campaignId: campaign.id,
        recipient: recipient.userId,
        messageId,
      }
      const { html } = trackMessage(rendered.html, tracking)
      const headers = unsubscribeHeaders({ ...tracking, email: recipient.email })
      return {
        ok: true,
        message: {
          messageId,
          from: campaign.from,
          to: recipient.email,
          subject: rendered.subject,
          html,
          text: rendered.text,
          headers: { ...headers },
        },
      }
    } catch (err) {
      this.deps.logger.warn({ err, recipient: recipient.userId }, 'campaign message could not be built')
      const detail = `render failed: ${err instanceof Error ? err.message : String(err)}`
      return { ok: false, outcome: { kind: 'failed', temporary: false, detail } }
    }
  }

  async #send(
    key: LedgerKey,
    message: OutgoingMessage,
    bucket: TokenBucket | undefined,
  ): Promise<DeliveryOutcome> {
    const { ledger, transport } = this.deps
    const policy = {
      maxAttempts: this.deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      retryDelayMs: this.deps.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
      sleep: this.deps.sleep,
    }
    const { outcome, attempts } = await sendWithRetries(
      (m) => transport.send(m),
      message,
      policy,
      async () => {
        await bucket?.take()
        await ledger.attempt(key)
      },
    )
    const delivery = deliveryOutcome(outcome, attempts)
    if ((this.deps.suppressBounces ?? true) && delivery.kind === 'bounced')
      await this.deps.suppressions.suppress(key.workspaceId, message.to, {
        reason: 'bounced',
        source: `campaign:${key.campaignId}`,
      })
    return delivery
  }
}
