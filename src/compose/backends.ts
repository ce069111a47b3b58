/**
 * The Backends record (DESIGN.md §3): what one mode's opener (embedded.ts, scale-out.ts) hands the
 * composition, typed by seam interfaces only. Nothing outside the two openers names a backend class;
 * services.ts builds the same services from either record.
 */
import type { CountedConversion } from '../analytics/analytics-consumer.ts'
import type { AnalyticsStore } from '../analytics/analytics-store.ts'
import type { CampaignStore } from '../campaigns/campaign-store.ts'
import type { SendLedger } from '../campaigns/send-ledger.ts'
import type { Cache } from '../content/cache/cache.ts'
import type { TemplateStore } from '../content/template-store.ts'
import type { SuppressionStore } from '../delivery/suppression-store.ts'
import type { TokenKeys } from '../delivery/token-keys.ts'
import type { EventLog } from '../log/event-log.ts'
import type { AlertStore } from '../observe/alerts/alert-store.ts'
import type { RollupStore } from '../observe/rollups/rollup-store.ts'
import type { SpanOutcomes } from '../observe/tracing.ts'
import type { BatchReport } from '../pipeline/processor.ts'
import type { PrivacyStore } from '../privacy/privacy-store.ts'
import type { ProfileStore } from '../profiles/profile-store.ts'
import type { SegmentStore } from '../segments/segment-store.ts'
import type { TopicStore } from '../topics/topic-store.ts'
import type { TriggerStore } from '../triggers/trigger-store.ts'
import type { WebhookOutbox } from '../webhooks/outbox.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'

/** The stores the api and sender roles use (the processor commits through its own). */
export interface ServiceStores {
  segments: SegmentStore
  templates: TemplateStore
  triggers: TriggerStore
  suppressions: SuppressionStore
  /** Subscription topics and each profile's state per topic. */
  topics: TopicStore
  campaigns: CampaignStore
  ledger: SendLedger
  /** The keys that sign tracking and unsubscribe links, shared by every process of a deployment. */
  tokenKeys: TokenKeys
  /** The open webhook's outbox: the api enqueues opens, the sender dispatches them. */
  webhooks: WebhookOutbox
  /** Erasures, the export's person-keyed reads, and their audit (src/privacy/). */
  privacy: PrivacyStore
}

/** What the composition tells the processor about (metrics, cache invalidation, waking senders). */
export interface ProcessorHooks {
  onBatch(report: BatchReport): void
  /** A batch raced another processor and is applied again (several processors on one store). */
  onConflict(): void
  /** The processor failed (embedded: its thread died and is restarted). */
  onError(err: unknown): void
  /**
   * The span outcomes of a processor thread's own tracer (embedded, with tracing on), after each of
   * its exports, `source` naming that thread's tracer (a restarted thread is a new source); a
   * processor in this thread (scale-out) shares the thread's tracer and reports none.
   */
  onSpans?(spans: SpanOutcomes, source: string): void
}

/** The processor of this process: a worker thread (embedded) or in process (scale-out). */
export interface ProcessorBackend {
  /** Starts consuming; resolves once it runs (or, scale-out, once it waits for the broker). */
  start(hooks: ProcessorHooks): Promise<void>
  /** Stops after the batch in flight; safe to call twice. */
  close(): Promise<void>
}

/** The analytics consumer as the opener runs it (embedded: a worker thread of its own). */
export interface AnalyticsBackend {
  /** Starts consuming; resolves once it runs. */
  start(hooks: {
    /** The conversions of each committed batch (the main thread's metrics count them). */
    onConversions(conversions: readonly CountedConversion[]): void
    onError(err: unknown): void
  }): Promise<void>
  close(): Promise<void>
}

/** The backends' part of GET /healthz: 503 when not ready, and the fields of the body. */
export interface BackendHealth {
  ready: boolean
  /** Body fields after `status`; a not-ready answer carries `reason` among them. */
  body: Record<string, unknown>
}

/** Campaign locks held under this process's liveness lease (several processes on one store). */
export interface ProcessLocks {
  tryHold(name: string): Promise<boolean>
  release(name: string): Promise<void>
}

export interface Backends {
  log: EventLog
  workspaces: WorkspaceStore
  /** The read side of profiles; undefined in a process that neither processes nor renders. */
  profiles: ProfileStore | undefined
  /** Per-minute metric rollups (every process writes its own) and anomaly alerts. */
  observe: { rollups: RollupStore; alerts: AlertStore }
  /** The api's and sender's stores; undefined in a process that runs neither role. */
  stores: ServiceStores | undefined
  /** The profile cache (in-process or Redis, opened once per process); undefined when unused. */
  profileCache: Cache | undefined
  /** Rendered open-time images (in-process, or Redis scale-out); undefined without the api role's stores. */
  blockCache: Cache | undefined
  /** Engagement analytics (read by the api role, written by the analytics consumer); undefined when unused. */
  analytics: AnalyticsStore | undefined
  /** This process's processor; undefined without the processor role (or `processor: false`). */
  processor: ProcessorBackend | undefined
  /**
   * The analytics consumer when the opener runs it (embedded: in its own thread, next to the
   * processor's). Undefined otherwise: a scale-out processor process runs it in process.
   */
  analyticsConsumer: AnalyticsBackend | undefined
  /**
   * Owner-aware stores (scale-out): campaigns run under these locks, and a sender takes over the
   * sends of senders that died, periodically. Undefined with one process per store (embedded).
   */
  locks: ProcessLocks | undefined
  /**
   * Hears trigger jobs committed by processors in other processes (PostgreSQL LISTEN/NOTIFY);
   * returns stop(). Undefined where this process's own processor reports them (embedded).
   */
  listenForJobs:
    | ((onDue: (dueAt: number) => void, onError: (err: unknown) => void) => Promise<() => Promise<void>>)
    | undefined
  /**
   * Deletes a person's events from the log (an erasure): the embedded SQLite log can; undefined
   * where the log cannot delete records (Kafka: they stay until the topic's retention).
   */
  eraseLogEvents: ((workspaceId: string, ids: readonly string[]) => Promise<number>) | undefined
  /**
   * The same by the identities' hashes (an interrupted erasure's tombstones: src/privacy/erasure-resume.ts);
   * undefined where the log cannot delete.
   */
  eraseLogEventsByHash: ((workspaceId: string, idHashes: readonly string[]) => Promise<number>) | undefined
  /** What /healthz says about the backends (embedded: the processor thread; scale-out: the log). */
  health(): Promise<BackendHealth>
  /** Shown after "Inkstream" in the start banner, e.g. the roles; undefined for none. */
  label: string | undefined
  /** Start banner lines saying where the data lives. */
  describe: string[]
  /** Closes everything the opener opened, in reverse order. */
  close(): Promise<void>
}

/** Closes in reverse order of registration; `run` is idempotent. */
export class Closers {
  readonly #closers: (() => Promise<void> | void)[] = []
  #closed = false

  push(close: () => Promise<void> | void): void {
    this.#closers.push(close)
  }

  async run(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const close of this.#closers.reverse()) await close()
  }
}

/** Runs `open` with a Closers; on failure closes what was opened before rethrowing. */
export async function openWith<T>(closers: Closers, open: () => Promise<T>): Promise<T> {
  try {
    return await open()
  } catch (err) {
    await closers.run()
    throw err
  }
}
