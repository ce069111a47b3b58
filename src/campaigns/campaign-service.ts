/**
 * Runs stored campaigns in the background of this process: at most one run per campaign, live
 * progress (rate, ETA) for GET, resume of campaigns a crash left `running`, and a clean stop on
 * close (abort between recipients, wait for the send in flight; the campaign stays `running` and
 * is resumed on the next start). The ledger makes every resume send nothing twice.
 *
 * A run that stops on repeated transport failures leaves the campaign `paused` with its reason;
 * `pause` and `cancel` stop a run on request (in another process too: the runner asks between
 * pages whether the campaign is still `running`). A paused campaign resumes with `start`; a
 * cancelled one never runs again.
 */
import { InkError, notFound } from '../core/errors.ts'
import { type LocalDateTime, parseLocalDateTime } from '../core/local-time.ts'
import { type Clock, systemClock } from '../core/types.ts'
import { checkFrom } from '../delivery/mailbox.ts'
import type { AudienceResolver } from './audience.ts'
import type { CampaignRunner, Progress } from './campaign-runner.ts'
import type { CampaignDefinition, CampaignSendAt, CampaignStore } from './campaign-store.ts'
import type { LedgerEntry, LedgerPage, StateCounts } from './send-ledger.ts'

export interface CampaignServiceDeps {
  store: CampaignStore
  runner: Pick<CampaignRunner, 'run' | 'progress'> & Partial<Pick<CampaignRunner, 'recipients' | 'held'>>
  audience: Pick<AudienceResolver, 'check' | 'pages'> & Partial<Pick<AudienceResolver, 'count' | 'recipient'>>
  renderer: { compiled(ws: string, templateId: string, version?: number): Promise<{ version: number }> }
  /** INKSTREAM_FROM: the sender of campaigns that set none. */
  defaultFrom: string | undefined
  logger: { warn(obj: unknown, msg: string): void; error(obj: unknown, msg: string): void }
  /**
   * With several processes on one database (scale-out): a lock per campaign, held while this
   * process runs it (PgProcessLease), so a campaign runs in one process at a time and a starting
   * sender does not resume a campaign another live process is sending. Without it (one process),
   * the in-process check is enough.
   */
  locks?: { tryHold(name: string): Promise<boolean>; release(name: string): Promise<void> }
  /** INKSTREAM_CAMPAIGN_PAUSE_AFTER_FAILURES: for campaigns that set none; the runner's default when absent. */
  pauseAfterFailures?: number
  /** For the ETA of a local-time send; default the system clock. */
  clock?: Clock
}

export interface CampaignProgress extends StateCounts {
  /** Audience size of the current or last run in this process; undefined before one. */
  total: number | undefined
  remaining: number | undefined
  /** While running: recipients handled a second, and the estimated ms to the end. */
  ratePerSecond?: number
  etaMs?: number
  /** A local-time send: recipients waiting for their time, and when the last one's comes. */
  held?: number
  heldUntil?: number
}

interface Active {
  id: string
  controller: AbortController
  done: Promise<void>
  progress?: Progress
}

const key = (ws: string, id: string) => `${ws}\n${id}`

type Recipients = NonNullable<AudienceResolver['recipient']>

const cancelled = (id: string) =>
  new InkError('INK_ERR_CAMPAIGN_CANCELLED', `campaign "${id}" was cancelled; it cannot run again`)

const pauseAfter = (n: number | null | undefined) => (n == null ? {} : { pauseAfterFailures: n })

export class CampaignService {
  readonly #active = new Map<string, Active>()
  readonly #totals = new Map<string, number>()
  #closed = false

  constructor(private readonly deps: CampaignServiceDeps) {}

  /** Starts (or resumes) a campaign in the background; resolves once it is marked running. */
  async start(workspaceId: string, id: string): Promise<CampaignDefinition> {
    if (this.#closed) throw new InkError('INK_ERR_INTERNAL', 'the server is shutting down')
    const k = key(workspaceId, id)
    if (this.#active.has(k))
      throw new InkError('INK_ERR_CAMPAIGN_RUNNING', `campaign "${id}" is already running`)
    const campaign = await this.deps.store.get(workspaceId, id)
    if (!campaign) throw notFound(`campaign "${id}"`)
    if (campaign.state === 'cancelled') throw cancelled(id)
    const from = campaign.from ?? this.deps.defaultFrom
    if (from === undefined)
      throw new InkError(
        'INK_ERR_BAD_REQUEST',
        `campaign "${id}" has no "from", and INKSTREAM_FROM is not set`,
      )
    // A draft saved before `from` was checked at save: refused here rather than failing every recipient.
    checkFrom(from)
    await this.deps.audience.check(workspaceId, campaign.audience)
    // Pins the version on first start; throws (404, 422) before anything is marked.
    const compiled = await this.deps.renderer.compiled(
      workspaceId,
      campaign.templateId,
      campaign.templateVersion ?? undefined,
    )
    if (this.#active.has(k))
      throw new InkError('INK_ERR_CAMPAIGN_RUNNING', `campaign "${id}" is already running`)
    const active: Active = { id, controller: new AbortController(), done: Promise.resolve() }
    this.#active.set(k, active)
    const lock = `inkstream.campaign\n${k}`
    try {
      if (this.deps.locks && !(await this.deps.locks.tryHold(lock)))
        throw new InkError('INK_ERR_CAMPAIGN_RUNNING', `campaign "${id}" is running in another process`)
      if (!(await this.deps.store.marks.running(workspaceId, id, compiled.version))) throw cancelled(id)
    } catch (err) {
      this.#active.delete(k)
      if (!(err instanceof InkError && err.code === 'INK_ERR_CAMPAIGN_RUNNING'))
        await this.deps.locks?.release(lock)
      throw err
    }
    active.done = this.#run(
      workspaceId,
      { ...campaign, templateVersion: compiled.version },
      from,
      active,
    ).finally(() => this.deps.locks?.release(lock))
    return (await this.deps.store.get(workspaceId, id)) ?? campaign
  }

  async #run(workspaceId: string, c: CampaignDefinition, from: string, active: Active): Promise<void> {
    const k = key(workspaceId, c.id)
    try {
      const { audience } = this.deps
      const total = await audience.count?.(workspaceId, c.audience)
      if (total !== undefined) this.#totals.set(k, total)
      const summary = await this.deps.runner.run(
        workspaceId,
        {
          id: c.id,
          templateId: c.templateId,
          ...(c.templateVersion === null ? {} : { version: c.templateVersion }),
          from,
          // Pages of the audience; recipients with a ledger row come marked, not read again.
          audience: (handled) => audience.pages(workspaceId, c.audience, { handled }),
          ...(total === undefined ? {} : { total }),
          ...(audience.recipient
            ? { recipient: (userId: string) => (audience.recipient as Recipients)(workspaceId, userId) }
            : {}),
          vars: c.vars,
          ...(c.topic === null ? {} : { topic: c.topic }),
          ...(c.ratePerSecond === null ? {} : { ratePerSecond: c.ratePerSecond }),
          ...pauseAfter(c.pauseAfterFailures ?? this.deps.pauseAfterFailures),
          ...(c.sendAt === null ? {} : { sendAt: sendAtOf(c.sendAt) }),
        },
        (p) => {
          active.progress = p
          if (p.total !== undefined) this.#totals.set(k, p.total)
        },
        {
          signal: active.controller.signal,
          // Paused or cancelled by another process (or by pause() here): stop between pages.
          stillWanted: async () => (await this.deps.store.get(workspaceId, c.id))?.state === 'running',
        },
      )
      if (summary.paused !== undefined) {
        this.deps.logger.warn({ campaign: c.id, reason: summary.paused }, 'campaign paused')
        await this.deps.store.marks.paused(workspaceId, c.id, summary.paused)
      }
      // Aborted by close(): stays `running`, resumed on the next start. Paused, cancelled: already marked.
      else if (summary.remaining === 0) await this.deps.store.marks.finished(workspaceId, c.id, 'done')
    } catch (err) {
      this.deps.logger.error({ err, campaign: c.id }, 'campaign failed')
      await this.deps.store.marks
        .finished(workspaceId, c.id, 'failed', err instanceof Error ? err.message : String(err))
        .catch(() => {})
    } finally {
      this.#active.delete(k)
    }
  }

  /** Stops a running campaign and marks it `paused` with the reason; `start` resumes it. */
  async pause(workspaceId: string, id: string, reason = 'paused by request'): Promise<CampaignDefinition> {
    const c = await this.deps.store.get(workspaceId, id)
    if (!c) throw notFound(`campaign "${id}"`)
    if (!(await this.deps.store.marks.paused(workspaceId, id, reason)))
      throw new InkError(
        'INK_ERR_CAMPAIGN_NOT_RUNNING',
        `campaign "${id}" is ${(await this.deps.store.get(workspaceId, id))?.state ?? c.state}; only a running campaign can be paused`,
      )
    await this.#stop(workspaceId, id)
    return (await this.deps.store.get(workspaceId, id)) ?? c
  }

  /** Stops it for good: `cancelled`, never resumed; recipients not sent to stay unsent. */
  async cancel(
    workspaceId: string,
    id: string,
    reason = 'cancelled by request',
  ): Promise<CampaignDefinition> {
    const c = await this.deps.store.get(workspaceId, id)
    if (!c) throw notFound(`campaign "${id}"`)
    if (!(await this.deps.store.marks.cancelled(workspaceId, id, reason)))
      throw new InkError(
        'INK_ERR_CAMPAIGN_FINISHED',
        `campaign "${id}" is ${(await this.deps.store.get(workspaceId, id))?.state ?? c.state}; it cannot be cancelled`,
      )
    await this.#stop(workspaceId, id)
    return (await this.deps.store.get(workspaceId, id)) ?? c
  }

  /** Aborts this process's run of the campaign, if any, and waits for its sends in flight. */
  async #stop(workspaceId: string, id: string): Promise<void> {
    const a = this.#active.get(key(workspaceId, id))
    if (!a) return
    a.controller.abort()
    await a.done
  }

  /** A page of the campaign's send ledger, by recipient. */
  async recipients(workspaceId: string, id: string, page: LedgerPage): Promise<LedgerEntry[]> {
    return (await this.deps.runner.recipients?.(workspaceId, id, page)) ?? []
  }

  /** The campaigns this process is running: audience size (when known) and recipients handled (metrics). */
  runs(): { id: string; total: number | undefined; done: number }[] {
    return [...this.#active].map(([k, a]) => ({
      id: a.id,
      total: a.progress?.total ?? this.#totals.get(k),
      done: a.progress?.done ?? 0,
    }))
  }

  isRunning(workspaceId: string, id: string): boolean {
    return this.#active.has(key(workspaceId, id))
  }

  /** Counts from the ledger, with rate and ETA while this process runs the campaign. */
  async progress(workspaceId: string, campaign: CampaignDefinition): Promise<CampaignProgress> {
    const k = key(workspaceId, campaign.id)
    const counts = await this.deps.runner.progress(workspaceId, campaign.id)
    // Deferred rows are not handled yet: they are retried.
    const handled = Object.values(counts).reduce((a, b) => a + b, 0) - counts.sending - counts.deferred
    const total =
      this.#totals.get(k) ??
      ('userIds' in campaign.audience ? new Set(campaign.audience.userIds).size : undefined)
    const out: CampaignProgress = {
      ...counts,
      total,
      remaining: total === undefined ? undefined : Math.max(total - handled, 0),
    }
    const p = this.#active.get(k)?.progress
    if (p) {
      out.ratePerSecond = Math.round(p.ratePerSecond * 100) / 100
      if (p.etaMs !== undefined) out.etaMs = p.etaMs
    }
    if (campaign.sendAt !== null && this.deps.runner.held) {
      const held = await this.deps.runner.held(workspaceId, campaign.id)
      out.held = held.count
      if (held.until !== undefined) {
        out.heldUntil = held.until
        // Not done before the last held recipient's local time, whatever the rate says.
        const wait = Math.max(held.until - (this.deps.clock ?? systemClock).now(), 0)
        out.etaMs = Math.max(out.etaMs ?? 0, wait)
      }
    }
    return out
  }

  /** Resumes every campaign left `running` (a crash, or a shutdown mid-send). */
  async resumeInterrupted(): Promise<void> {
    for (const { workspaceId, id } of await this.deps.store.running()) {
      try {
        await this.start(workspaceId, id)
      } catch (err) {
        // Another live process is sending it (scale-out): not interrupted, nothing to do.
        if (err instanceof InkError && err.code === 'INK_ERR_CAMPAIGN_RUNNING') continue
        this.deps.logger.warn({ err, campaign: id }, 'an interrupted campaign could not be resumed')
        await this.deps.store.marks
          .finished(workspaceId, id, 'failed', err instanceof Error ? err.message : String(err))
          .catch(() => {})
      }
    }
  }

  /** Stops every run between two recipients and waits for the sends in flight. */
  async close(): Promise<void> {
    this.#closed = true
    const runs = [...this.#active.values()]
    for (const a of runs) a.controller.abort()
    await Promise.all(runs.map((a) => a.done))
  }
}

/** A stored local-time send as the runner takes it (the route checked both parts at save). */
function sendAtOf(s: CampaignSendAt): { localTime: LocalDateTime; defaultTimezone: string } {
  const localTime = parseLocalDateTime(s.localTime)
  if (localTime === undefined)
    throw new Error(`campaign sendAt.localTime "${s.localTime}" is not a local date and time`)
  return { localTime, defaultTimezone: s.defaultTimezone }
}
