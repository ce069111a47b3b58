/**
 * Sends a campaign to its audience, at most once per (campaign, recipient); the per-recipient send
 * and its ledger policy are campaign-send.ts. The runner keeps the campaign's policy: the order,
 * concurrency, the rate limit, retries of deferred recipients, and the pause on repeated failures.
 *
 * A run, in order:
 *   1. rows a crash left in `sending` become `unknown` (never resent);
 *   2. every `deferred` row (a temporary failure) is retried, whatever its retry time: a start is a resume;
 *   3. the audience, page by page (memory does not grow with it): recipients with a ledger row are
 *      skipped, found by one query per page (a stored audience does not even read their profiles);
 *   4. while rows are `deferred`, the run waits for the earliest retry time (minutes) and retries
 *      the due ones.
 * After `pauseAfterFailures` consecutive transport failures (every recipient refused, an outage) the
 * run stops handing out recipients and ends with `paused` set; its deferred rows are retried by the
 * next start. One runner per campaign at a time.
 */
import { setTimeout as delay } from 'node:timers/promises'
import type { LocalDateTime } from '../core/local-time.ts'
import type { JsonObject } from '../core/types.ts'
import { normalizeEmail } from '../delivery/suppression-store.ts'
import type { Renderer } from '../render/renderer.ts'
import type { HandledFilter, Recipient } from './audience.ts'
import { CampaignSend, type CampaignSendDeps, type Handled } from './campaign-send.ts'
import type { LedgerEntry, LedgerPage, StateCounts } from './send-ledger.ts'
import { realSleep, type Sleep, TokenBucket } from './token-bucket.ts'

export type { Recipient } from './audience.ts'
export { campaignMessageId } from './campaign-send.ts'

export interface Campaign {
  id: string
  templateId: string
  version?: number
  from: string
  /**
   * Recipients in pages: a stored audience, given the ledger's filter so it marks recipients that
   * already have a row (`handled`) without reading them again; or pages / one array (tests,
   * benchmarks), which the runner checks against the ledger itself.
   */
  audience: ((handled: HandledFilter) => AsyncIterable<readonly Recipient[]>) | Recipients
  /** Audience size for progress; the length of an array audience when absent. */
  total?: number
  /** A deferred recipient's address as of now; without it the address in its ledger row is used. */
  recipient?: (userId: string) => Promise<Recipient>
  /** Campaign variables for the template (`{{ campaign.… }}`). */
  vars?: JsonObject
  /** Messages a second for this campaign; no limit when absent. */
  ratePerSecond?: number
  /** How long click, open and unsubscribe links verify; default 30 days. */
  trackingTtlMs?: number
  /** Consecutive transport failures after which the run pauses; CampaignRunnerDeps' default when absent. */
  pauseAfterFailures?: number
  /** Each recipient at this wall time on their own clock; held rows wait in the ledger (`local_time`). */
  sendAt?: { localTime: LocalDateTime; defaultTimezone: string }
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
  /** Temporary failures of this run, retried later. */
  deferred: number
  /** 0 when every recipient has a final row; else the run was aborted or paused before the end. */
  remaining: number
  /** Why the run paused itself (repeated transport failures); absent otherwise. */
  paused?: string
}

export interface Progress extends RunSummary {
  campaignId: string
  /** Audience size; undefined while a paged audience without a count is being read. */
  total: number | undefined
  done: number
  /** Recipients handled a second, since the run started. */
  ratePerSecond: number
  /** Estimated ms to the end at that rate; undefined before the first recipient or without a total. */
  etaMs: number | undefined
}

export interface CampaignRunnerDeps extends Omit<CampaignSendDeps, 'sleep' | 'renderer'> {
  renderer: Pick<Renderer, 'render' | 'compiled'>
  sleep?: Sleep
  /**
   * Recipients handled at once (render, send) — default 8. Every one is claimed in the ledger before
   * its send, so a crash leaves at most this many `unknown`. Profiles sharing an address still go one
   * after the other, in audience order.
   */
  concurrency?: number
  /** Consecutive transport failures after which a campaign pauses; default 10. */
  pauseAfterFailures?: number
}

/** Recipients handled at once unless CampaignRunnerDeps.concurrency says otherwise. */
export const DEFAULT_CONCURRENCY = 8
export const DEFAULT_PAUSE_AFTER_FAILURES = 10
const DEFERRED_PAGE = 500

type Item = { recipient: Recipient; deferrals: number } | { already: Recipient }

export interface RunOptions {
  signal?: AbortSignal
  /** Called between pages: answering false stops the run (paused or cancelled elsewhere). */
  stillWanted?: () => Promise<boolean>
}

export class CampaignRunner {
  readonly #sleep: Sleep
  readonly #send: CampaignSend

  constructor(private readonly deps: CampaignRunnerDeps) {
    this.#sleep = deps.sleep ?? realSleep
    this.#send = new CampaignSend({ ...deps, sleep: this.#sleep })
  }

  /** A page of a campaign's ledger rows (GET /v1/campaigns/:id/recipients). */
  recipients(workspaceId: string, campaignId: string, page: LedgerPage): Promise<LedgerEntry[]> {
    return this.deps.ledger.page(workspaceId, campaignId, page)
  }

  /** Counts by ledger state for a campaign. */
  progress(workspaceId: string, campaignId: string): Promise<StateCounts> {
    return this.deps.ledger.counts(workspaceId, campaignId)
  }

  /** Recipients waiting for their local send time, and when the last of them is due. */
  held(workspaceId: string, campaignId: string): Promise<{ count: number; until?: number }> {
    return this.deps.ledger.held(workspaceId, campaignId)
  }

  async run(
    workspaceId: string,
    campaign: Campaign,
    onProgress?: (p: Progress) => void,
    opts: RunOptions = {},
  ): Promise<RunSummary> {
    const { ledger, clock } = this.deps
    // Throws (not found, does not compile) before any recipient is touched.
    await this.deps.renderer.compiled(workspaceId, campaign.templateId, campaign.version)
    const recovered = new Set(await ledger.recoverInterrupted(workspaceId, campaign.id))
    const source = campaign.audience
    const total =
      campaign.total ?? (typeof source !== 'function' && isArray(source) ? source.length : undefined)
    const summary: RunSummary = {
      sent: 0,
      failed: 0,
      suppressed: 0,
      skipped: 0,
      unknown: 0,
      deferred: 0,
      remaining: 0,
    }
    const bucket =
      campaign.ratePerSecond === undefined
        ? undefined
        : new TokenBucket(campaign.ratePerSecond, clock, this.#sleep)
    const threshold =
      campaign.pauseAfterFailures ?? this.deps.pauseAfterFailures ?? DEFAULT_PAUSE_AFTER_FAILURES
    const started = clock.now()
    let done = 0
    let failuresInARow = 0
    let wanted = true
    const stopped = () => opts.signal?.aborted === true || summary.paused !== undefined || !wanted
    const report = (recipient: Recipient, handled: Handled | 'already') => {
      // A row this run recovered from `sending` counts as unknown, not as done by an earlier run.
      if (handled === 'already') summary[recovered.has(recipient.userId) ? 'unknown' : 'skipped']++
      else if (handled.state === 'already') summary.skipped++
      else summary[handled.state]++
      done++
      if (handled !== 'already' && handled.transportFailure) {
        failuresInARow++
        if (failuresInARow >= threshold && summary.paused === undefined)
          summary.paused = `paused after ${failuresInARow} consecutive transport failures; last: ${handled.outcome.detail}`
      } else if (handled !== 'already' && handled.outcome.kind === 'sent') failuresInARow = 0
      if (onProgress) {
        const rate = (done * 1000) / Math.max(clock.now() - started, 1)
        const left = total === undefined ? undefined : Math.max(total - done, 0)
        onProgress({
          ...summary,
          remaining: left ?? 0,
          campaignId: campaign.id,
          total,
          done,
          ratePerSecond: rate,
          etaMs: left === undefined ? undefined : Math.round((left * 1000) / rate),
        })
      }
    }
    const retried = new Set<string>()
    const self = this
    async function* firstPass(): AsyncGenerator<Item> {
      yield* self.#deferred(workspaceId, campaign, undefined, retried)
      const filter: HandledFilter = (ids) => ledger.handled(workspaceId, campaign.id, ids)
      const source = campaign.audience
      const marked = typeof source === 'function'
      for await (const page of marked ? source(filter) : pagesOf(source)) {
        if (stopped()) return
        const handled = marked ? undefined : await filter(page.map((r) => r.userId))
        for (const recipient of page) {
          if (retried.has(recipient.userId)) continue
          const already = marked ? recipient.handled === true : handled?.has(recipient.userId)
          yield already ? { already: recipient } : { recipient, deferrals: 0 }
        }
        if (opts.stillWanted && !(await opts.stillWanted())) wanted = false
      }
    }
    await this.#drain(workspaceId, campaign, firstPass(), bucket, report, stopped)
    // Deferred recipients, each when its retry time comes, until none is left.
    for (;;) {
      if (stopped()) break
      const next = await ledger.nextRetryAt(workspaceId, campaign.id)
      if (next === undefined) break
      if (!(await this.#waitUntil(next, opts.signal))) break
      if (opts.stillWanted && !(await opts.stillWanted())) wanted = false
      const due = this.#deferred(workspaceId, campaign, clock.now(), new Set())
      await this.#drain(workspaceId, campaign, due, bucket, report, stopped)
    }
    summary.remaining = stopped() ? Math.max((total ?? done + 1) - done, 1) : 0
    return summary
  }

  /** Runs `concurrency` workers over the items; profiles sharing an address go one after the other. */
  async #drain(
    workspaceId: string,
    campaign: Campaign,
    items: AsyncIterator<Item>,
    bucket: TokenBucket | undefined,
    report: (r: Recipient, h: Handled | 'already') => void,
    stopped: () => boolean,
  ): Promise<void> {
    const byAddress = new Map<string, Promise<Handled | undefined>>()
    const worker = async () => {
      while (!stopped()) {
        const next = await items.next()
        if (next.done) return
        const item = next.value
        if ('already' in item) {
          report(item.already, 'already')
          continue
        }
        const { recipient, deferrals } = item
        const address = normalizeEmail(recipient.email)
        const before = address === undefined ? undefined : byAddress.get(address)
        const mine = (before ?? Promise.resolve()).then(async () => {
          // The rate token comes before the claim: a run paused or cancelled while its workers wait
          // for tokens claims and sends nothing more (it used to send the ones already claimed).
          if (bucket) {
            await bucket.take()
            if (stopped()) return undefined
          }
          return this.#send.one(workspaceId, campaign, recipient, deferrals, bucket, bucket !== undefined)
        })
        if (address !== undefined) byAddress.set(address, mine)
        const handled = await mine
        if (address !== undefined && byAddress.get(address) === mine) byAddress.delete(address)
        // Not started (stopped while waiting for a token): no row, the next start handles it.
        if (handled !== undefined) report(recipient, handled)
      }
    }
    await Promise.all(
      Array.from({ length: Math.max(1, this.deps.concurrency ?? DEFAULT_CONCURRENCY) }, worker),
    )
    // Stopped early (a pause, an abort): the audience is not read further.
    await items.return?.(undefined)
  }

  /** The campaign's deferred rows (due by `dueBy`, or all), by recipient, as items to retry. */
  async *#deferred(
    workspaceId: string,
    campaign: Campaign,
    dueBy: number | undefined,
    retried: Set<string>,
  ): AsyncGenerator<Item> {
    for (let after = ''; ; ) {
      const page: LedgerEntry[] = await this.deps.ledger.page(workspaceId, campaign.id, {
        state: 'deferred',
        after,
        limit: DEFERRED_PAGE,
        ...(dueBy === undefined ? {} : { dueBy }),
      })
      for (const row of page) {
        retried.add(row.recipient)
        const recipient = campaign.recipient
          ? await campaign.recipient(row.recipient)
          : { userId: row.recipient, email: row.email }
        yield { recipient, deferrals: row.deferrals }
      }
      if (page.length < DEFERRED_PAGE) return
      after = page[page.length - 1]?.recipient ?? after
    }
  }

  /** Waits until `at` on the clock; false when aborted first. */
  async #waitUntil(at: number, signal: AbortSignal | undefined): Promise<boolean> {
    const ms = at - this.deps.clock.now()
    if (ms > 0 && signal?.aborted !== true) {
      if (this.deps.sleep === undefined) {
        // A real timer of minutes must not outlive an abort (it would hold the process open).
        await delay(ms, undefined, signal ? { signal } : {}).catch(() => {})
      } else {
        let wake = () => {}
        const aborted = new Promise<void>((resolve) => {
          wake = () => resolve()
        })
        signal?.addEventListener('abort', wake, { once: true })
        await Promise.race([this.deps.sleep(ms), aborted])
        signal?.removeEventListener('abort', wake)
      }
    }
    return signal?.aborted !== true
  }
}

type Recipients = AsyncIterable<readonly Recipient[]> | readonly Recipient[]

async function* pagesOf(audience: Recipients): AsyncGenerator<readonly Recipient[]> {
  if (!isArray(audience)) {
    yield* audience
    return
  }
  // An array is paged too, so the ledger is asked once per page, not once per recipient.
  for (let i = 0; i < audience.length; i += 1000) yield audience.slice(i, i + 1000)
}

const isArray = (a: Recipients): a is readonly Recipient[] => Array.isArray(a)
