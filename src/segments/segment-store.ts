/**
 * The segment part of the Store seam. Definitions are saved by the API (main thread); membership
 * rows are written only by the processor (worker thread), in the same transaction as the
 * profile changes that caused them, so "who is in segment X" is a plain read.
 */
import type { JsonObject } from '../core/types.ts'
import type { StoredProfile } from '../profiles/profile-store.ts'

export interface SegmentDef {
  workspaceId: string
  segmentId: string
  name: string
  /** A MongoDB-style query (mingo) over the profile's materialized traits. */
  condition: JsonObject
  /** Bumped when the condition changes; membership is backfilled for each version. */
  version: number
  /** The version whose backfill over all existing profiles has finished; null before the first. */
  membersVersion: number | null
  updatedAt: number
}

export interface SegmentMember {
  profileId: string
  userId: string | null
  email: string | null
}

/** A segment a profile is a member of (the profile page). */
export interface ProfileMembership {
  segmentId: string
  name: string
  joinedAt: number
  /** False while the segment's current version is being backfilled: membership may still change. */
  backfilled: boolean
}

/** The read/write API the HTTP routes use. */
export interface SegmentStore {
  /**
   * Creates or replaces a segment; throws INK_ERR_BAD_REQUEST for a condition mingo rejects and
   * INK_ERR_CONDITION_REFUSED for one it would run but that is unsafe here (condition-guard.ts).
   */
  put(
    workspaceId: string,
    segmentId: string,
    input: { name?: string; condition: unknown },
  ): Promise<SegmentDef>
  get(workspaceId: string, segmentId: string): Promise<SegmentDef | undefined>
  list(workspaceId: string): Promise<SegmentDef[]>
  /** Removes the segment and its membership rows; false if there was none. */
  delete(workspaceId: string, segmentId: string): Promise<boolean>
  /** Members ordered by profileId, starting after `after`. */
  members(
    workspaceId: string,
    segmentId: string,
    page: { after?: string; limit: number },
  ): Promise<SegmentMember[]>
  isMember(workspaceId: string, segmentId: string, profileId: string): Promise<boolean>
  /**
   * How many members, counting at most `max` (default: all). A count reads the membership rows'
   * index (one range scan, no profile is evaluated), so its cost grows with the answer; `max`
   * bounds it: an answer equal to `max` means "at least max".
   */
  countMembers(workspaceId: string, segmentId: string, max?: number): Promise<number>
  /** The segments a profile is a member of, by segment id (one indexed read of the member rows). */
  membershipsOf(workspaceId: string, profileId: string): Promise<ProfileMembership[]>
  close(): Promise<void>
}

/** What the processor needs: change detection, all definitions, and backfill steps. */
export interface SegmentIndex {
  /** A number that changes whenever any definition is saved or deleted; one cheap read. */
  definitionsStamp(): Promise<number>
  allDefinitions(): Promise<SegmentDef[]>
  /**
   * Recomputes the membership of up to `limit` profiles for one segment whose backfill is
   * pending (version newer than membersVersion), atomically with reading those profiles.
   * Returns undefined when no backfill is pending.
   */
  backfillStep(limit: number, evaluate: Evaluate): Promise<BackfillProgress | undefined>
  /**
   * Removes every member row of a segment whose version is still `version` (its condition was
   * suspended: it matches nobody); returns how many. Rows of a newer version are its backfill's.
   */
  clearMembers(workspaceId: string, segmentId: string, version: number): Promise<number>
}

/** What a segment backend implements: the API's store and the processor's index. */
export interface SegmentBackend extends SegmentStore, SegmentIndex {}

/** Decides membership of one profile: the member row's fields, or null when not a member. */
export type Evaluate = (segment: SegmentDef, profile: StoredProfile) => { email: string | null } | null

export interface BackfillProgress {
  workspaceId: string
  segmentId: string
  version: number
  processed: number
  /** True once every profile of the workspace has been evaluated for this version. */
  done: boolean
}
