/**
 * The processor: consumes the event log and folds events into profiles.
 * Per batch: skip records at or below the applied offset (stored with the profiles, so a crash
 * between the profile commit and the log's offset commit cannot apply a record twice), skip
 * messageIds already applied (dedupe across retries and replays), read the events' identities and
 * profiles not in the warm cache in one go (UnitOfWork.prefetch), resolve identities, fold
 * computed traits and the bounce policy (bounce-policy.ts), evaluate segment membership of the
 * touched profiles, then commit profiles + identities + memberships + suppressions + dedupe records
 * + offsets in one go. Between batches (on a timer) it
 * backfills the membership of segments created or changed since (see SegmentMaintainer).
 */
import { type Failpoints, noFailpoints } from '../core/failpoints.ts'
import type { Clock, LogRecord } from '../core/types.ts'
import type { Consumer, EventLog } from '../log/event-log.ts'
import { inSpan, linksTo, SPANS } from '../observe/tracing.ts'
import { ErasedIdentities } from '../privacy/erased-identities.ts'
import { recentEventOf } from '../profiles/recent-events.ts'
import type { SegmentIndex } from '../segments/segment-store.ts'
import { foldEvent } from '../traits/computed-traits.ts'
import type { TraitDef } from '../traits/traits-config.ts'
import { type TriggerIndex, TriggerMatcher } from '../triggers/trigger-matcher.ts'
import { type BatchChanges, type BatchStore, dedupeKey, ProfileConflictError } from './batch-store.ts'
import { applyBouncePolicy, type BouncePolicies, DEFAULT_BOUNCE_POLICY } from './bounce-policy.ts'
import { resolveProfile } from './identity.ts'
import { SegmentMaintainer } from './segment-maintainer.ts'
import { UnitOfWork } from './unit-of-work.ts'
import { WarmCache } from './warm-cache.ts'

export const PROFILES_GROUP = 'profiles'

/** What one committed batch did; plain data, so it can cross a worker-thread boundary. */
export interface BatchReport {
  /** Seconds from collector receipt to commit, per applied event. */
  lagSeconds: number[]
  applied: number
  duplicates: number
  /** userIds and anonymousIds of the events in the batch: cached copies of their profiles are stale. */
  ids: { workspaceId: string; id: string }[]
  /** The earliest due time of the trigger jobs the batch created; null when it created none. */
  triggerJobsDueAt: number | null
  /** Log records in the batch (applied, duplicates and records at or below the applied offset). */
  size: number
  /** Seconds the store's commit of the batch took. */
  commitSeconds: number
}

export interface ProcessorDeps {
  log: EventLog
  store: BatchStore
  traits: readonly TraitDef[]
  /** Told after each committed batch: metrics, cache invalidation, tests waiting for catch-up. */
  onBatch?: (report: BatchReport) => void
  /** Told when a batch raced another processor (ProfileConflictError) and is applied again. */
  onConflict?: () => void
  clock: Clock
  logger: { error(obj: unknown, msg: string): void; warn(obj: unknown, msg: string): void }
  batchSize: number
  dedupeWindowMs: number
  /** Wait after a small batch so commits are fewer; see ConsumeOptions.lingerMs. */
  lingerMs?: number
  /** Segment definitions and backfill; without it no membership is maintained. */
  segments?: SegmentIndex
  /** How often to look for new or changed segments to backfill while idle; default 1000. */
  segmentPollMs?: number
  /** Profiles per backfill transaction; default 500. */
  backfillChunk?: number
  /** Trigger definitions; without them no trigger jobs are created. */
  triggers?: TriggerIndex
  /** Fault points around the batch's commit (tests); disarmed by default. */
  failpoints?: Failpoints
  /** The bounce and complaint policy per workspace (bounce-policy.ts); default DEFAULT_BOUNCE_POLICY. */
  bouncePolicy?: BouncePolicies
  /**
   * How long events of an erased identity are dropped after its erasure (src/privacy/); default 30
   * days. Past it, an event of the same id starts a new, empty profile.
   */
  erasureTombstoneMs?: number
}

export class Processor {
  #consumer: Consumer | undefined
  #applied = new Map<number, number>()
  #pruneTimer: NodeJS.Timeout | undefined
  readonly #warm = new WarmCache()
  /** Erasures read so far (src/privacy/); undefined for a store without them. */
  readonly #erased: ErasedIdentities | undefined
  readonly #segments: SegmentMaintainer | undefined
  readonly #triggers: TriggerMatcher | undefined

  constructor(private readonly deps: ProcessorDeps) {
    const { store } = deps
    if (store.tombstonesAfter !== undefined)
      this.#erased = new ErasedIdentities((seq) => store.tombstonesAfter!(seq), deps.erasureTombstoneMs)
    if (deps.triggers) this.#triggers = new TriggerMatcher(deps.triggers)
    if (deps.segments) {
      this.#segments = new SegmentMaintainer({
        index: deps.segments,
        traits: deps.traits,
        clock: deps.clock,
        logger: deps.logger,
        chunk: deps.backfillChunk ?? 500,
      })
    }
  }

  async start(): Promise<void> {
    const { log, store, logger, batchSize, dedupeWindowMs, clock } = this.deps
    await this.deps.failpoints?.hit('processor.start')
    this.#applied = await store.appliedOffsets(PROFILES_GROUP)
    this.#consumer = log.consume(PROFILES_GROUP, (records) => this.handle(records), {
      maxBatch: batchSize,
      lingerMs: this.deps.lingerMs ?? 0,
      // The applied offset is committed with the profiles; the log's copy only feeds lag reports.
      commitIntervalMs: this.deps.lingerMs === undefined ? 0 : 250,
      onError: (err) => {
        if (!(err instanceof ProfileConflictError))
          return logger.error({ err }, 'processor batch failed; retrying')
        this.deps.onConflict?.()
        logger.warn({ err }, 'processor batch raced another processor; applying it again')
      },
      // A lost race is applied again almost at once: the other processor has committed.
      retryDelayMs: (err) => (err instanceof ProfileConflictError ? 20 : 500),
      // Partitions moved between processors (Kafka): another one may have applied records and
      // changed profiles since; reload the applied offsets and drop cached profiles.
      onAssigned: async () => {
        this.#warm.clear()
        this.#applied = await store.appliedOffsets(PROFILES_GROUP)
      },
    })
    const prune = () => void store.pruneDedupe(clock.now() - dedupeWindowMs).catch(() => {})
    this.#pruneTimer = setInterval(prune, 3_600_000).unref()
    this.#segments?.start(this.deps.segmentPollMs ?? 1000)
  }

  /** Runs segment backfill until none is pending; public for tests. */
  async backfillSegments(): Promise<void> {
    await this.#segments?.drain()
  }

  /** Applies one batch; public for tests that drive the processor without a consumer loop. */
  handle(records: readonly LogRecord[]): Promise<void> {
    // A batch is a trace of its own, linked to the appends of its events.
    const links = () => linksTo(records.map((r) => r.event.traceparent))
    const attributes = () => ({ 'inkstream.records': records.length })
    return inSpan(SPANS.batch, { root: true, links, attributes }, () => this.#apply(records))
  }

  async #apply(records: readonly LogRecord[]): Promise<void> {
    const { store, clock, onBatch } = this.deps
    const fresh = records.filter((r) => r.offset > (this.#applied.get(r.partition) ?? 0))
    const seen = await store.seenMessageIds(fresh.map((r) => r.event))
    const uow = new UnitOfWork(store, clock.now(), this.#warm)
    const last = new Map<number, number>()
    for (const r of records) last.set(r.partition, Math.max(last.get(r.partition) ?? 0, r.offset))
    let applied: LogRecord[]
    let dueAt: number | null = null
    let commitSeconds = 0
    // Profiles are changed in place, also those held by the warm cache: if the batch fails
    // before its commit, the cache may hold uncommitted state and is dropped.
    try {
      await this.#segments?.reload()
      await this.#triggers?.reload()
      const erasures = await this.#readErasures()
      ;[applied, dueAt] = await this.#fold(fresh, seen, uow)
      const changes: BatchChanges = uow.finish()
      if (erasures && this.#erased) changes.erasureSeq = this.#erased.seq
      this.#segments?.evaluate(changes, uow.now)
      // Only forward: a redelivered older batch (after a rebalance) must not move the offsets back.
      changes.offsets = [...last]
        .filter(([partition, offset]) => offset > (this.#applied.get(partition) ?? 0))
        .map(([partition, offset]) => ({ group: PROFILES_GROUP, partition, offset }))
      const failpoints = this.deps.failpoints ?? noFailpoints
      await failpoints.hit('processor.before-commit')
      const commitStarted = performance.now()
      await store.commit(changes)
      commitSeconds = (performance.now() - commitStarted) / 1000
      await failpoints.hit('processor.after-commit')
    } catch (err) {
      this.#warm.clear()
      throw err
    }
    uow.keepWarm()
    for (const [p, o] of last) this.#applied.set(p, Math.max(this.#applied.get(p) ?? 0, o))

    if (!onBatch) return
    const committedAt = clock.now()
    const ids: BatchReport['ids'] = []
    for (const { event: e } of records) {
      if (e.userId !== undefined) ids.push({ workspaceId: e.workspaceId, id: e.userId })
      if (e.anonymousId !== undefined) ids.push({ workspaceId: e.workspaceId, id: e.anonymousId })
    }
    onBatch({
      lagSeconds: applied.map((r) => (committedAt - Date.parse(r.event.receivedAt)) / 1000),
      applied: applied.length,
      duplicates: records.length - applied.length,
      ids,
      triggerJobsDueAt: dueAt,
      size: records.length,
      commitSeconds,
    })
  }

  /**
   * Reads erasures committed since the last batch (false: the store has none to tell). After one, the
   * warm cache is dropped: an erased profile must not come back from this processor's memory.
   */
  async #readErasures(): Promise<boolean> {
    if (this.#erased === undefined) return false
    if (await this.#erased.refresh(this.deps.clock.now())) this.#warm.clear()
    return true
  }

  /**
   * Folds the events not seen before into their profiles and matches them against the triggers;
   * returns the records applied and the earliest due time of the trigger jobs created.
   */
  async #fold(
    batch: readonly LogRecord[],
    seen: Set<string>,
    uow: UnitOfWork,
  ): Promise<[LogRecord[], number | null]> {
    const { traits } = this.deps
    const policyOf = this.deps.bouncePolicy ?? (() => DEFAULT_BOUNCE_POLICY)
    const applied: LogRecord[] = []
    const matcher = this.#triggers?.empty === false ? this.#triggers : undefined
    const jobs: NonNullable<BatchChanges['triggerJobs']> = []
    let dueAt: number | null = null
    let fresh = batch
    // Events of erased identities are dropped, with a log line (ids stay out of it): see src/privacy/.
    const erased = fresh.filter((r) => this.#erased?.has(r.event, uow.now) === true)
    if (erased.length > 0) {
      const dropped = new Set(erased)
      fresh = fresh.filter((r) => !dropped.has(r))
      this.deps.logger.warn(
        {
          'inkstream.erased_events': erased.length,
          workspaces: [...new Set(erased.map((r) => r.event.workspaceId))],
        },
        'dropped events of erased identities (erasure tombstones)',
      )
    }
    // The identities and profiles of the batch's events in one read, not two or three per event.
    const unseen = fresh.filter((r) => !seen.has(dedupeKey(r.event.workspaceId, r.event.messageId)))
    await uow.prefetch(unseen.map((r) => r.event))
    for (const r of fresh) {
      const e = r.event
      const key = dedupeKey(e.workspaceId, e.messageId)
      if (seen.has(key)) continue
      seen.add(key)
      uow.changes.messageIds.push({ workspaceId: e.workspaceId, messageId: e.messageId })
      const profile = await resolveProfile(uow, e, traits, uow.now)
      foldEvent(profile.state, e, traits, uow.now)
      // Bounces and complaints suppress in this batch's transaction: exactly once, like the fold.
      const suppress = applyBouncePolicy(profile.state, e, policyOf(e.workspaceId))
      if (suppress?.email !== undefined) {
        const entry = { workspaceId: e.workspaceId, ...suppress, email: suppress.email, createdAt: uow.now }
        if (uow.changes.suppressions) uow.changes.suppressions.push(entry)
        else uow.changes.suppressions = [entry]
      }
      if (suppress?.reason === 'complained' && profile.userId !== null) {
        const leave = { workspaceId: e.workspaceId, userId: profile.userId, source: 'complaint', at: uow.now }
        if (uow.changes.topicUnsubscribes) uow.changes.topicUnsubscribes.push(leave)
        else uow.changes.topicUnsubscribes = [leave]
      }
      profile.lastEventReceivedAt = Math.max(profile.lastEventReceivedAt, Date.parse(e.receivedAt))
      uow.touch(profile)
      uow.changes.events?.push(recentEventOf(e, profile.profileId))
      applied.push(r)
      const due = matcher?.match(e, profile.profileId, jobs)
      if (due !== undefined) dueAt = dueAt === null ? due : Math.min(dueAt, due)
    }
    if (jobs.length > 0) uow.changes.triggerJobs = jobs
    return [applied, dueAt]
  }

  async close(): Promise<void> {
    if (this.#pruneTimer) clearInterval(this.#pruneTimer)
    await this.#segments?.close()
    await this.#consumer?.close()
    this.#consumer = undefined
  }
}
