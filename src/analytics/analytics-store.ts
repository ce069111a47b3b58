/**
 * The analytics store seam: per-message rows, users' last engagements, counted event ids and
 * counters by (workspace, campaign, template version, 5-minute bucket), with the consumer's applied
 * offsets committed in the same transaction. SQLite (embedded, the store's file) and PostgreSQL
 * (scale-out) implement it; the rules are engagement-rules.ts.
 */
import type { Tombstone } from '../privacy/privacy-schema.ts'
import type { BatchKeys, Counters, Folded, Loaded, MessageRow } from './engagement-rules.ts'

/** The consumer group of the analytics consumer on the EventLog. */
export const ANALYTICS_GROUP = 'analytics'

export interface AnalyticsChanges extends Folded {
  /** Highest offset applied per partition by this batch (only forward). */
  offsets: { partition: number; offset: number }[]
  /**
   * The applied offsets this batch was folded against. The commit fails with
   * AnalyticsConflictError when the store holds others (another consumer applied the partition
   * meanwhile, a Kafka rebalance): the batch is then folded again from fresh reads.
   */
  expected: Map<number, number>
}

export class AnalyticsConflictError extends Error {
  constructor(partition: number) {
    super(`analytics offsets of partition ${partition} moved under this consumer`)
    this.name = 'AnalyticsConflictError'
  }
}

/** Counters of one template version of a campaign or trigger. */
export interface VersionCounters {
  templateId: string
  templateVersion: number
  counters: Counters
}

export interface SeriesPoint {
  /** Start of the bucket, epoch ms. */
  t: number
  counters: Counters
}

export type SeriesFilter = { campaignId: string } | { templateId: string }

export interface Retention {
  /** Message rows created before this are deleted (no token of theirs verifies any more). */
  messagesBefore: number
  /** Engagements older than this can no longer be converted. */
  engagedBefore: number
  /** Counted event ids older than this are forgotten (as the processor's dedupe window). */
  seenBefore: number
}

export interface AnalyticsStore {
  appliedOffsets(): Promise<Map<number, number>>
  /** The rows a batch needs; with the message rows of the users' last engagements. */
  load(keys: BatchKeys): Promise<Loaded>
  /** Rows, counters, counted ids and offsets in ONE transaction. */
  commit(changes: AnalyticsChanges): Promise<void>
  /** Counters of a campaign id (`trigger:<id>` for a trigger), summed per template version. */
  totals(workspaceId: string, campaignId: string): Promise<VersionCounters[]>
  /** Counters summed per bucket of `bucketMs` (a multiple of 5 minutes) in [from, to). */
  series(
    workspaceId: string,
    filter: SeriesFilter,
    from: number,
    to: number,
    bucketMs: number,
  ): Promise<SeriesPoint[]>
  /** The messages to any of `userIds` (a profile's userIds and anonymousIds), newest first; at most `limit`. */
  messagesTo(workspaceId: string, userIds: readonly string[], limit: number): Promise<MessageRow[]>
  /** The row of one message by our email id (the Message-ID's local part); undefined when unknown. */
  message(workspaceId: string, emailId: string): Promise<MessageRow | undefined>
  /**
   * The row of one message by our email id in whichever workspace sent it (our ids hash the
   * workspace in, messageIdFor: one id, one message); for a source that names no workspace, the
   * bounce mailbox. A source that does name one (an ESP webhook's URL) uses `message`.
   */
  messageById(emailId: string): Promise<MessageRow | undefined>
  /** Deletes what the retention allows; returns rows deleted. */
  prune(r: Retention): Promise<number>
  /** Erasure tombstones after `seq` (src/privacy/): the consumer drops the erased ids' events. */
  tombstonesAfter?(seq: number): Promise<Tombstone[]>
  close(): Promise<void>
}
