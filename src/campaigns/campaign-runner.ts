/**
 * Sends a campaign to its audience, at most once per (campaign, recipient).
 *
 * Per recipient, in audience order: a recipient with a ledger row is skipped (whatever its state);
 * a suppressed address is recorded as `suppressed`; the message is rendered and tracked; the
 * recipient is claimed (`sending`) in the ledger; the message goes to the transport, and the
 * outcome becomes the final state. Rendering before the claim keeps the window in which a crash
 * leaves a row in `sending` (→ `unknown`, never resent) as short as the send itself.
 *
 * Retries (send-retries.ts): only a temporary failure where the server certainly does not have the
 * message (`accepted: 'no'`) is retried, with the same Message-ID. `accepted: 'unknown'` ends as `unknown`.
 * One runner per campaign at a time: `run` first turns rows left in `sending` into `unknown`.
 */
import { createHash } from 'node:crypto'
import type { Clock, JsonObject } from '../core/types.ts'
import { normalizeEmail, type SuppressionStore } from '../delivery/suppression-store.ts'
import type { TokenCodec } from '../delivery/tokens.ts'
import { trackMessage, unsubscribeHeaders } from '../delivery/tracking.ts'
import type { OutgoingMessage, Transport } from '../delivery/transport.ts'
import { skipDetail } from '../render/render-email.ts'
import type { Renderer, RenderRequest } from '../render/renderer.ts'
import type { FinalState, LedgerKey, SendLedger, StateCounts } from './send-ledger.ts'
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_DELAY_MS,
  isRecipientBounce,
  ledgerState,
  sendWithRetries,
} from './send-retries.ts'
import { realSleep, type Sleep, TokenBucket } from './token-bucket.ts'

export interface Recipient {
  userId: string
  email: string
}

export interface Campaign {
  id: string
  templateId: string
  version?: number
  from: string
  audience: readonly Recipient[]
  /** Campaign variables for the template (`{{ campaign.… }}`). */
  vars?: JsonObject
  /** Messages a second for this campaign; no limit when absent. */
  ratePerSecond?: number
  /** How long click, open and unsubscribe links verify; default 30 days. */
  trackingTtlMs?: number
}

export interface RunSummary {
  /** Outcomes of this run. */
  sent: number
  failed: number
  suppressed: number
  /** Recipients that already had a ledger row, or no usable address. */
  skipped: number
  /** Sent but unconfirmed (the server may have it), including rows a crash left in `sending`. */
  unknown: number
  /** Audience members not handled by this run (it was aborted). */
  remaining: number
}

export interface Progress extends RunSummary {
  campaignId: string
  total: number
  done: number
  /** Recipients handled a second, since the run started. */
  ratePerSecond: number
  /** Estimated ms to the end at that rate; undefined before the first recipient. */
  etaMs: number | undefined
}

export interface CampaignRunnerDeps {
  ledger: SendLedger
  renderer: Pick<Renderer, 'render' | 'compiled'>
  transport: Transport
  suppressions: Pick<SuppressionStore, 'isSuppressed' | 'suppress'>
  codec: TokenCodec
  /** Base of tracking links, read per message: with port 0 it is known only once the server listens. */
  publicUrl: () => string
  clock: Clock
  logger: { warn(obj: unknown, msg: string): void }
  sleep?: Sleep
  /** Sends per recipient for `temporary` + `accepted: 'no'`; default 3. */
  maxAttempts?: number
  /**
   * Recipients handled at once (render, send) — default 8. Every one is claimed in the ledger before
   * its send, so a crash leaves at most this many `unknown`. Profiles sharing an address still go one
   * after the other, in audience order.
   */
  concurrency?: number
  /** Delay before the first retry, doubled for each next one; default 200 ms. */
  retryDelayMs?: number
  /** Suppress an address as `bounced` when the server said the mailbox does not exist; default true. */
  suppressBounces?: boolean
}

const DEFAULT_TTL_MS = 30 * 86_400_000

/** The same id for every attempt at a recipient, so a retry carries the same Message-ID. */
export function campaignMessageId(workspaceId: string, campaignId: string, recipient: string): string {
  const hash = createHash('sha256').update(`${workspaceId}\n${campaignId}\n${recipient}`).digest('hex')
  return `ink-c.${hash.slice(0, 40)}`
}

type Handled = FinalState | 'already'

/** Recipients handled at once unless CampaignRunnerDeps.concurrency says otherwise. */
export const DEFAULT_CONCURRENCY = 8

export class CampaignRunner {
  readonly #sleep: Sleep

  constructor(private readonly deps: CampaignRunnerDeps) {
    this.#sleep = deps.sleep ?? realSleep
  }

  /** Counts by ledger state for a campaign. */
  progress(workspaceId: string, campaignId: string): Promise<StateCounts> {
    return this.deps.ledger.counts(workspaceId, campaignId)
  }

  async run(
    workspaceId: string,
    campaign: Campaign,
    onProgress?: (p: Progress) => void,
    opts: { signal?: AbortSignal } = {},
  ): Promise<RunSummary> {
    const { ledger, clock } = this.deps
    // Throws (not found, does not compile) before any recipient is touched.
    await this.deps.renderer.compiled(workspaceId, campaign.templateId, campaign.version)
    const recovered = new Set(await ledger.recoverInterrupted(workspaceId, campaign.id))
    const summary: RunSummary = {
      sent: 0,
      failed: 0,
      suppressed: 0,
      skipped: 0,
      unknown: 0,
      remaining: campaign.audience.length,
    }
    const bucket =
      campaign.ratePerSecond === undefined
        ? undefined
        : new TokenBucket(campaign.ratePerSecond, clock, this.#sleep)
    const started = clock.now()
    let done = 0
    let next = 0
    // Profiles sharing an address are chained, so the first in audience order is the one sent to.
    const byAddress = new Map<string, Promise<Handled>>()
    const report = (recipient: Recipient, handled: Handled) => {
      // A row this run recovered from `sending` counts as unknown, not as done by an earlier run.
      if (handled !== 'already') summary[handled]++
      else summary[recovered.has(recipient.userId) ? 'unknown' : 'skipped']++
      summary.remaining--
      done++
      if (onProgress) {
        const elapsed = Math.max(clock.now() - started, 1)
        const rate = (done * 1000) / elapsed
        onProgress({
          ...summary,
          campaignId: campaign.id,
          total: campaign.audience.length,
          done,
          ratePerSecond: rate,
          etaMs: Math.round((summary.remaining * 1000) / rate),
        })
      }
    }
    const worker = async () => {
      while (next < campaign.audience.length && !opts.signal?.aborted) {
        const recipient = campaign.audience[next++]!
        const address = normalizeEmail(recipient.email)
        const before = address === undefined ? undefined : byAddress.get(address)
        const mine = (before ?? Promise.resolve()).then(() =>
          this.#one(workspaceId, campaign, recipient, bucket),
        )
        if (address !== undefined) byAddress.set(address, mine)
        const handled = await mine
        if (address !== undefined && byAddress.get(address) === mine) byAddress.delete(address)
        report(recipient, handled)
      }
    }
    await Promise.all(
      Array.from({ length: Math.max(1, this.deps.concurrency ?? DEFAULT_CONCURRENCY) }, worker),
    )
    return summary
  }

  async #one(
    workspaceId: string,
    campaign: Campaign,
    recipient: Recipient,
    bucket: TokenBucket | undefined,
  ): Promise<Handled> {
    const { ledger } = this.deps
    const key: LedgerKey = { workspaceId, campaignId: campaign.id, recipient: recipient.userId }
    if (await ledger.get(key)) return 'already'
    const messageId = campaignMessageId(workspaceId, campaign.id, recipient.userId)
    const email = normalizeEmail(recipient.email)
    // The ledger keeps the normalized address, so profiles sharing one are found whatever their case.
    const record = async (state: FinalState, detail: string): Promise<Handled> =>
      (await ledger.record(key, email ?? recipient.email, messageId, state, detail)) ? state : 'already'
    if (email === undefined) return record('skipped', `"${recipient.email}" is not an email address`)
    // Several profiles may share one address (a household, a merged import): one message per address
    // per campaign, to the first of them in audience order.
    if (await ledger.addressTaken(key, email))
      return record('skipped', `another recipient of this campaign has the address ${email}`)
    if (await this.deps.suppressions.isSuppressed(workspaceId, recipient.email))
      return record('suppressed', 'the address is suppressed')
    const message = await this.#message(workspaceId, campaign, recipient, messageId)
    // A template's abort_message is the template deciding: the recipient is skipped, not failed.
    if (!message.ok) return record(message.skipped ? 'skipped' : 'failed', message.detail)
    if (!(await ledger.claim(key, email, messageId))) return 'already'
    const [state, detail] = await this.#send(key, message.message, bucket)
    await ledger.finish(key, state, detail)
    return state
  }

  async #message(
    workspaceId: string,
    campaign: Campaign,
    recipient: Recipient,
    messageId: string,
  ): Promise<{ ok: true; message: OutgoingMessage } | { ok: false; skipped: boolean; detail: string }> {
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
          ? { ok: false, skipped: true, detail: skipDetail(rendered.skip) }
          : { ok: false, skipped: false, detail: `render failed: ${rendered.error.message}` }
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
      return {
        ok: false,
        skipped: false,
        detail: `render failed: ${err instanceof Error ? err.message : String(err)}`,
      }
    }
  }

  async #send(
    key: LedgerKey,
    message: OutgoingMessage,
    bucket: TokenBucket | undefined,
  ): Promise<[FinalState, string]> {
    const { ledger, transport } = this.deps
    const policy = {
      maxAttempts: this.deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      retryDelayMs: this.deps.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
      sleep: this.#sleep,
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
    if ((this.deps.suppressBounces ?? true) && isRecipientBounce(outcome))
      await this.deps.suppressions.suppress(key.workspaceId, message.to, {
        reason: 'bounced',
        source: `campaign:${key.campaignId}`,
      })
    return ledgerState(outcome, attempts)
  }
}
