/**
 * The read-only ProfileStore over PostgreSQL (the scale-out Store). It owns the profile tables'
 * migrations (also the dedupe and offset tables the processor's PgBatchStore writes) and their
 * row mapping.
 */
import type { Clock } from '../core/types.ts'
import { migratePg, type PgPool, pgText, toInt } from '../db/pg.ts'
import { PgStore } from '../db/pg-store.ts'
import type { Identity, IdentityKind, ProfileStore, RecentEvent, StoredProfile } from './profile-store.ts'

const PROFILE_MIGRATIONS = [
  `CREATE TABLE profiles (
     workspace_id text COLLATE "C" NOT NULL,
     profile_id text COLLATE "C" NOT NULL,
     user_id text,
     state jsonb NOT NULL,
     version bigint NOT NULL,
     created_at bigint NOT NULL,
     updated_at bigint NOT NULL,
     last_event_received_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, profile_id)
   );
   CREATE TABLE identities (
     workspace_id text COLLATE "C" NOT NULL,
     kind text COLLATE "C" NOT NULL,
     value text COLLATE "C" NOT NULL,
     profile_id text COLLATE "C" NOT NULL,
     PRIMARY KEY (workspace_id, kind, value)
   );
   CREATE INDEX identities_by_profile ON identities (workspace_id, profile_id);
   CREATE TABLE dedupe (
     workspace_id text COLLATE "C" NOT NULL,
     message_id text COLLATE "C" NOT NULL,
     seen_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, message_id)
   );
   CREATE INDEX dedupe_by_time ON dedupe (seen_at);
   CREATE TABLE processor_offsets (
     group_id text COLLATE "C" NOT NULL,
     log_partition integer NOT NULL,
     log_offset bigint NOT NULL,
     PRIMARY KEY (group_id, log_partition)
   );`,
  // Recent events per profile (recent-events.ts), written by PgBatchStore's commit; `seq` orders
  // events of the same time by arrival.
  `CREATE TABLE profile_events (
     seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     workspace_id text COLLATE "C" NOT NULL,
     profile_id text COLLATE "C" NOT NULL,
     message_id text COLLATE "C" NOT NULL,
     type text COLLATE "C" NOT NULL,
     name text,
     at bigint NOT NULL,
     received_at bigint NOT NULL,
     data jsonb NOT NULL
   );
   CREATE INDEX profile_events_by_profile ON profile_events (workspace_id, profile_id, at DESC, seq DESC);`,
  // Look-up by the email trait (the dashboard's search); lower() under COLLATE "C" folds ASCII only,
  // as SQLite's does.
  `CREATE INDEX profiles_by_email ON profiles (workspace_id, lower((state->'traits'->>'email') COLLATE "C"))
     WHERE jsonb_typeof(state->'traits'->'email') = 'string';`,
]

interface PgRecentEventRow {
  workspace_id: string
  profile_id: string
  message_id: string
  type: RecentEvent['type']
  name: string | null
  at: string
  received_at: string
  data: RecentEvent['data']
}

export const PROFILE_COLUMNS =
  'workspace_id, profile_id, user_id, state, version, created_at, updated_at, last_event_received_at'

export interface PgProfileRow {
  workspace_id: string
  profile_id: string
  user_id: string | null
  state: StoredProfile['state']
  version: string
  created_at: string
  updated_at: string
  last_event_received_at: string
}

export const profileFromPgRow = (r: PgProfileRow): StoredProfile => ({
  workspaceId: r.workspace_id,
  profileId: r.profile_id,
  userId: r.user_id,
  state: r.state,
  version: toInt(r.version),
  createdAt: toInt(r.created_at),
  updatedAt: toInt(r.updated_at),
  lastEventReceivedAt: toInt(r.last_event_received_at),
})

/** Creates the profile tables (and the processor's dedupe and offsets tables). */
export const migratePgProfiles = (pool: PgPool) => migratePg(pool, 'pg-profile-store', PROFILE_MIGRATIONS)

export class PgProfileStore extends PgStore implements ProfileStore {
  /** `migrate` is for a store that reads and writes more tables (PgBatchStore). */
  constructor(pool: PgPool, opts: { clock?: Clock } = {}, migrate = migratePgProfiles) {
    super(pool, migrate, opts.clock)
  }

  async findProfileId(workspaceId: string, kind: IdentityKind, value: string): Promise<string | undefined> {
    const { rows } = await this.query<{ profile_id: string }>({
      name: 'ink-profiles-find',
      text: 'SELECT profile_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value = $3',
      values: [workspaceId, kind, pgText(value)],
    })
    return rows[0]?.profile_id
  }

  async getProfile(workspaceId: string, profileId: string): Promise<StoredProfile | undefined> {
    const { rows } = await this.query<PgProfileRow>({
      name: 'ink-profiles-get',
      text: `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE workspace_id = $1 AND profile_id = $2`,
      values: [workspaceId, profileId],
    })
    return rows[0] && profileFromPgRow(rows[0])
  }

  async identities(workspaceId: string, profileId: string): Promise<Identity[]> {
    const { rows } = await this.query<Identity>(
      'SELECT kind, value FROM identities WHERE workspace_id = $1 AND profile_id = $2 ORDER BY kind, value',
      [workspaceId, profileId],
    )
    return rows
  }

  async findByEmail(workspaceId: string, email: string, limit: number): Promise<string[]> {
    const { rows } = await this.query<{ profile_id: string }>({
      name: 'ink-profiles-by-email',
      text: `SELECT profile_id FROM profiles
             WHERE workspace_id = $1 AND lower((state->'traits'->>'email') COLLATE "C") = lower($2 COLLATE "C")
               AND jsonb_typeof(state->'traits'->'email') = 'string'
             ORDER BY profile_id LIMIT $3`,
      values: [workspaceId, pgText(email), limit],
    })
    return rows.map((r) => r.profile_id)
  }

  async recentEvents(workspaceId: string, profileId: string, limit: number): Promise<RecentEvent[]> {
    const { rows } = await this.query<PgRecentEventRow>({
      name: 'ink-profiles-recent-events',
      text: `SELECT workspace_id, profile_id, message_id, type, name, at, received_at, data FROM profile_events
             WHERE workspace_id = $1 AND profile_id = $2 ORDER BY at DESC, seq DESC LIMIT $3`,
      values: [workspaceId, profileId, limit],
    })
    return rows.map((r) => ({
      workspaceId: r.workspace_id,
      profileId: r.profile_id,
      messageId: r.message_id,
      type: r.type,
      name: r.name,
      at: toInt(r.at),
      receivedAt: toInt(r.received_at),
      data: r.data,
    }))
  }
}
