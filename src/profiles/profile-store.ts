/** The profile part of the Store seam (DESIGN.md §3): profiles, identities, dedupe, processor offsets. */
import type { ProfileState } from '../pipeline/computed-traits.ts'
import type { TriggerJobOp } from '../triggers/trigger-jobs.ts'

export type IdentityKind = 'userId' | 'anonymousId'

export interface StoredProfile {
  workspaceId: string
  profileId: string
  userId: string | null
  state: ProfileState
  /** Bumped on every committed change. */
  version: number
  createdAt: number
  updatedAt: number
  /** When the collector received the newest event folded into this profile. */
  lastEventReceivedAt: number
}

export interface Identity {
  kind: IdentityKind
  value: string
}

/** Everything one processor batch changes, committed atomically. */
export interface ProfileChanges {
  upserts: StoredProfile[]
  /** Profiles merged into another one. */
  deletes: { workspaceId: string; profileId: string }[]
  identities: { workspaceId: string; kind: IdentityKind; value: string; profileId: string }[]
  /** Dedupe records for the events applied. */
  messageIds: { workspaceId: string; messageId: string }[]
  /** The last log offset applied, per partition; stored with the changes so a crash cannot split them. */
  offsets: { group: string; partition: number; offset: number }[]
  /**
   * Segment membership of the upserted profiles, evaluated against `version` of each segment.
   * Rows for a segment whose stored version differs (changed or deleted since) are skipped: its
   * backfill recomputes them. Memberships of deleted (merged-away) profiles are always removed.
   * A store whose backfill can run between a batch's evaluation and its commit (PostgreSQL, several
   * processes) also queues such profiles for re-evaluation by the next backfill step.
   */
  memberships: SegmentMembership[]
  /** Trigger jobs started or cancelled by the batch's events, in event order. */
  triggerJobs?: TriggerJobOp[]
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
}

/** Another processor changed a profile or identity this batch read; nothing was written. */
export class ProfileConflictError extends Error {
  constructor(readonly what: string) {
    super(`another processor changed ${what} since this batch read it; the batch is applied again`)
    this.name = 'ProfileConflictError'
  }
}

export interface SegmentMembership {
  workspaceId: string
  segmentId: string
  version: number
  profileId: string
  userId: string | null
  email: string | null
  member: boolean
}

export interface ProfileStore {
  findProfileId(workspaceId: string, kind: IdentityKind, value: string): Promise<string | undefined>
  getProfile(workspaceId: string, profileId: string): Promise<StoredProfile | undefined>
  identities(workspaceId: string, profileId: string): Promise<Identity[]>
  /** Of the given (workspace, messageId) pairs, those already applied; keys are `${workspaceId}\n${messageId}`. */
  seenMessageIds(ids: readonly { workspaceId: string; messageId: string }[]): Promise<Set<string>>
  /** Last applied offset per partition for a processor group. */
  appliedOffsets(group: string): Promise<Map<number, number>>
  commit(changes: ProfileChanges): Promise<void>
  /** Forgets dedupe records first seen before `before` (epoch ms); returns how many. */
  pruneDedupe(before: number): Promise<number>
  close(): Promise<void>
}

export const dedupeKey = (workspaceId: string, messageId: string) => `${workspaceId}\n${messageId}`
