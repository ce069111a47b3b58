/**
 * The read side of profiles (DESIGN.md §3): what the API, rendering and segment backfill read. It is
 * read-only; the processor writes profiles through its BatchStore (src/pipeline/batch-store.ts).
 */
import type { ProfileState } from '../traits/computed-traits.ts'
import type { RecentEvent } from './recent-events.ts'

export type { RecentEvent }

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

export interface ProfileStore {
  findProfileId(workspaceId: string, kind: IdentityKind, value: string): Promise<string | undefined>
  getProfile(workspaceId: string, profileId: string): Promise<StoredProfile | undefined>
  identities(workspaceId: string, profileId: string): Promise<Identity[]>
  /**
   * Profiles whose `email` trait equals `email`, ASCII case-insensitively (as both backends' index
   * folds it), by profileId; at most `limit`.
   */
  findByEmail(workspaceId: string, email: string, limit: number): Promise<string[]>
  /** The profile's recent events (recent-events.ts), newest first (event time, then arrival). */
  recentEvents(workspaceId: string, profileId: string, limit: number): Promise<RecentEvent[]>
  close(): Promise<void>
}
