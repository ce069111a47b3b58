/**
 * The processor's commit seam (DESIGN.md §3): everything one batch changes (profiles,
 * identities, dedupe ids, segment memberships, trigger jobs, applied offsets) in ONE transaction,
 * plus the reads a batch needs before it commits. The rest of the system reads profiles through
 * the read-only ProfileStore. Implementations: SqliteBatchStore, PgBatchStore (beside this file).
 */

import type { Suppression } from '../delivery/suppression-store.ts'
import type { Tombstone } from '../privacy/privacy-schema.ts'
import type { IdentityKind, ProfileStore, StoredProfile } from '../profiles/profile-store.ts'
import type { NewRecentEvent } from '../profiles/recent-events.ts'
import type { SegmentMembership } from '../segments/segment-membership.ts'
import type { TriggerJobOp } from '../triggers/trigger-jobs.ts'

export type { SegmentMembership }

/** Everything one processor batch changes, committed atomically. */
export interface BatchChanges {
  upserts: StoredProfile[]
  /** Profiles merged into another one (`into`: the one they merged into; their recent events move there). */
  deletes: { workspaceId: string; profileId: string; into?: string }[]
  identities: { workspaceId: string; kind: IdentityKind; value: string; profileId: string }[]
  /** Dedupe records for the events applied. */
  messageIds: { workspaceId: string; messageId: string }[]
  /** The last log offset applied, per partition; stored with the changes so a crash cannot split them. */
  offsets: { group: string; partition: number; offset: number }[]
  /**
   * Segment membership of the upserted profiles, each evaluated against `version` of its segment;
   * written by the rule in segments/segment-membership.ts. Memberships of deleted (merged-away)
   * profiles are always removed.
   */
  memberships: SegmentMembership[]
  /**
   * The applied events as the profiles' recent events (profiles/recent-events.ts); the store keeps
   * the newest RECENT_EVENTS_KEPT per profile (UnitOfWork.finish already leaves out those a batch
   * itself pushes beyond them).
   */
  events?: NewRecentEvent[]
  /** Trigger jobs started or cancelled by the batch's events, in event order. */
  triggerJobs?: TriggerJobOp[]
  /**
   * Suppression entries the bounce policy decided (pipeline/bounce-policy.ts), addresses already
   * normalised; written into the suppression list's table unless (workspace, email, reason) exists.
   */
  suppressions?: Suppression[]
  /**
   * Profiles that complained: unsubscribed from every topic their workspace has at commit time
   * (topics/topic-store.ts), unless a newer state is stored.
   */
  topicUnsubscribes?: { workspaceId: string; userId: string; source: string; at: number }[]
  /**
   * For a store several processors write at once (PostgreSQL): what the batch read of the rows it
   * changes: the stored version of each profile it upserts or deletes (profiles it created are not
   * listed), and the profile each identity it binds was bound to (null: unbound). The commit is
   * refused with a ProfileConflictError, writing nothing, when a stored row is no longer so; the
   * processor then drops what it cached and applies the batch again on fresh reads. A single-writer
   * store ignores both.
   */
  expectedProfiles?: { workspaceId: string; profileId: string; version: number }[]
  expectedIdentities?: { workspaceId: string; kind: IdentityKind; value: string; profileId: string | null }[]
  /**
   * The newest erasure tombstone the batch knew of (src/privacy/): the commit is refused with a
   * ProfileConflictError, writing nothing, when a newer one exists (an erasure committed while the
   * batch was folded; applied again, its events of the erased person are dropped). Undefined: no check.
   */
  erasureSeq?: number
}

export type { Tombstone }

/** Another processor changed a profile or identity this batch read; nothing was written. */
export class ProfileConflictError extends Error {
  constructor(readonly what: string) {
    super(`another processor changed ${what} since this batch read it; the batch is applied again`)
    this.name = 'ProfileConflictError'
  }
}

/** One identity to look up. */
export interface IdentityRef {
  workspaceId: string
  kind: IdentityKind
  value: string
}

/** What the store holds for one identity: the profile it is bound to (null: unbound) and that profile's row. */
export interface BoundIdentity {
  profileId: string | null
  /** Undefined when unbound, or when the identity points at a profile the store lacks. */
  profile: StoredProfile | undefined
}

export interface BatchStore extends ProfileStore {
  /**
   * Each of `ids` with its profile, in one statement (or a few for a long list): an identity joined
   * with its profile, so a batch reads what its events refer to in one round trip instead of two
   * or three per event. The answer is in the order of `ids`.
   */
  lookupIdentities(ids: readonly IdentityRef[]): Promise<BoundIdentity[]>
  /** Of the given (workspace, messageId) pairs, those already applied; keys are `${workspaceId}\n${messageId}`. */
  seenMessageIds(ids: readonly { workspaceId: string; messageId: string }[]): Promise<Set<string>>
  /** Last applied offset per partition for a processor group. */
  appliedOffsets(group: string): Promise<Map<number, number>>
  /** Writes all of `changes` in one transaction, or nothing. */
  commit(changes: BatchChanges): Promise<void>
  /** Erasure tombstones after `seq`, oldest first; a store without erasures leaves it out. */
  tombstonesAfter?(seq: number): Promise<Tombstone[]>
  /** Forgets dedupe records first seen before `before` (epoch ms); returns how many. */
  pruneDedupe(before: number): Promise<number>
}

export const dedupeKey = (workspaceId: string, messageId: string) => `${workspaceId}\n${messageId}`
