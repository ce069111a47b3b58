/**
 * The analytics consumer: its own consumer group (`analytics`) on the EventLog, folding send
 * outcomes, opens, clicks, unsubscribes and conversion events into the analytics store as they
 * arrive — a stats request then reads a few counter rows, never the log.
 *
 * At-least-once in, exactly-once effect (as the processor): records at or below the applied offset
 * of their partition are skipped (the offsets are committed with the counters in one transaction),
 * and every counted event's messageId is remembered, so the same event appended twice counts once.
 */

import { Counter } from 'prom-client'
import type { Clock, LogRecord } from '../core/types.ts'
import { TRACKING_TTL_MS } from '../delivery/tracking-events.ts'
import type { Consumer, EventLog } from '../log/event-log.ts'
import type { Metrics } from '../observe/metrics.ts'
import { ErasedIdentities } from '../privacy/erased-identities.ts'
import { ANALYTICS_GROUP, AnalyticsConflictError, type AnalyticsStore } from './analytics-store.ts'
import { batchKeys, type ConversionRules, foldBatch } from './engagement-rules.ts'

/** Conversions attributed to a message, by origin; created once per registry. */
export function conversionCounters(metrics: Pick<Metrics, 'registry'>): {
  conversions: Counter<'origin'>
  revenue: Counter<'origin'>
} {
  const counter = (name: string, help: string): Counter<'origin'> => {
    const existing = metrics.registry.getSingleMetric(name)
    if (existing instanceof Counter) return existing as Counter<'origin'>
    return new Counter({ name, help, labelNames: ['origin'], registers: [metrics.registry] })
  }
  return {
    conversions: counter(
      'inkstream_conversions_total',
      'Conversion events attributed to an email (within the window after an open or click), by origin (campaign, trigger).',
    ),
    revenue: counter(
      'inkstream_conversion_revenue_total',
      'Revenue of the attributed conversions (properties.revenue, else total, else value), by origin.',
    ),
  }
}

/** A conversion attributed in a committed batch, as the metrics count it. */
export interface CountedConversion {
  origin: string
  revenue: number
}

/** Counts conversions in these counters (the main thread's, for a consumer in another thread too). */
export function countConversions(
  metrics: Pick<Metrics, 'registry'>,
): (conversions: readonly CountedConversion[]) => void {
  const counters = conversionCounters(metrics)
  return (conversions) => {
    for (const c of conversions) {
      counters.conversions.inc({ origin: c.origin })
      if (c.revenue > 0) counters.revenue.inc({ origin: c.origin }, c.revenue)
    }
  }
}

/** What the consumer's rules and retention come from. */
export type AnalyticsSettings = Pick<
  AnalyticsConsumerDeps,
  'rules' | 'messageRetentionMs' | 'seenRetentionMs'
>

/** The consumer's rules and retention from the configuration (the same in every mode and thread). */
export function analyticsSettings(config: {
  conversionEvent: string
  conversionWindowDays: number
  openTimeTtlDays: number
  dedupeWindowDays: number
}): AnalyticsSettings {
  return {
    rules: { event: config.conversionEvent, windowMs: config.conversionWindowDays * 86_400_000 },
    // A message row lives as long as any of its links can still record an open or click, and a
    // conversion window after that: a row pruned earlier came back empty on a late click, and its
    // opens and clicks counted as unique a second time.
    messageRetentionMs:
      Math.max(config.openTimeTtlDays * 86_400_000, TRACKING_TTL_MS) +
      config.conversionWindowDays * 86_400_000,
    seenRetentionMs: config.dedupeWindowDays * 86_400_000,
  }
}

export interface AnalyticsConsumerDeps {
  log: EventLog
  store: AnalyticsStore
  rules: ConversionRules
  clock: Clock
  logger: { error(obj: unknown, msg: string): void; warn(obj: unknown, msg: string): void }
  /** Told the conversions of each committed batch (the metrics; a thread posts them to the main one). */
  onConversions?: ((conversions: readonly CountedConversion[]) => void) | undefined
  /** How long message rows are kept (the longest a token of theirs verifies, plus the conversion window). */
  messageRetentionMs: number
  /** How long counted event ids are remembered (the processor's dedupe window). */
  seenRetentionMs: number
  batchSize?: number
  /** Told after each committed batch (tests wait for catch-up). */
  onBatch?: (applied: number) => void
}

export class AnalyticsConsumer {
  #consumer: Consumer | undefined
  #applied = new Map<number, number>()
  #pruneTimer: NodeJS.Timeout | undefined
  /** Erasures read so far (src/privacy/): events of erased ids count nothing, create no row. */
  readonly #erased: ErasedIdentities | undefined
  constructor(private readonly deps: AnalyticsConsumerDeps) {
    const { store } = deps
    if (store.tombstonesAfter !== undefined)
      this.#erased = new ErasedIdentities((seq) => store.tombstonesAfter!(seq))
  }

  async start(): Promise<void> {
    const { log, store, logger } = this.deps
    this.#applied = await store.appliedOffsets()
    this.#consumer = log.consume(ANALYTICS_GROUP, (records) => this.handle(records), {
      maxBatch: this.deps.batchSize ?? 500,
      lingerMs: 10,
      // The applied offsets are committed with the counters; the log's copy feeds lag reports.
      commitIntervalMs: 250,
      onError: (err) => {
        if (err instanceof AnalyticsConflictError)
          return logger.warn({ err }, 'analytics batch raced; folding it again')
        logger.error({ err }, 'analytics batch failed; retrying')
      },
      retryDelayMs: (err) => (err instanceof AnalyticsConflictError ? 20 : 500),
      onAssigned: async () => {
        this.#applied = await store.appliedOffsets()
      },
    })
    this.prune()
    this.#pruneTimer = setInterval(() => this.prune(), 3_600_000).unref()
  }

  /** Folds and commits one batch; public for tests that drive it without a consumer loop. */
  async handle(records: readonly LogRecord[]): Promise<void> {
    const { store, rules } = this.deps
    const fresh = records.filter((r) => r.offset > (this.#applied.get(r.partition) ?? 0))
    const last = new Map<number, number>()
    for (const r of fresh) last.set(r.partition, Math.max(last.get(r.partition) ?? 0, r.offset))
    if (last.size === 0) return
    // Offsets advance over them, but events of erased identities fold into nothing (an open of an
    // erased person's old email must not bring back a message row naming them).
    const now = this.deps.clock.now()
    await this.#erased?.refresh(now)
    const kept = this.#erased ? fresh.filter((r) => !this.#erased!.has(r.event, now)) : fresh
    const keys = batchKeys(kept, rules)
    // No engagement or conversion in the batch (most traffic: page views, tracks): no row can
    // change, so no load and no transaction (in embedded mode its fsync ran on the HTTP thread for
    // every batch of the log). The applied offsets stay as they are; these records, if read again
    // after a rebalance or a restart, still count nothing.
    if (keys.events.length === 0) {
      this.deps.onBatch?.(fresh.length)
      return
    }
    const expected = new Map(this.#applied)
    const loaded = await store.load(keys)
    const folded = foldBatch(kept, loaded, rules)
    try {
      await store.commit({
        ...folded,
        offsets: [...last].map(([partition, offset]) => ({ partition, offset })),
        expected,
      })
    } catch (err) {
      // Someone else applied these partitions: read the offsets again before the retry.
      if (err instanceof AnalyticsConflictError) this.#applied = await store.appliedOffsets()
      throw err
    }
    for (const [p, o] of last) this.#applied.set(p, o)
    if (folded.conversions.length > 0)
      this.deps.onConversions?.(folded.conversions.map((c) => ({ origin: c.origin, revenue: c.revenue })))
    this.deps.onBatch?.(fresh.length)
  }

  prune(): void {
    const now = this.deps.clock.now()
    void this.deps.store
      .prune({
        messagesBefore: now - this.deps.messageRetentionMs,
        engagedBefore: now - this.deps.rules.windowMs,
        seenBefore: now - this.deps.seenRetentionMs,
      })
      .catch((err) => this.deps.logger.warn({ err }, 'analytics prune failed'))
  }

  async close(): Promise<void> {
    if (this.#pruneTimer) clearInterval(this.#pruneTimer)
    await this.#consumer?.close()
    this.#consumer = undefined
  }
}
