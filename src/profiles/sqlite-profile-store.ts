/**
 * The read-only ProfileStore over the embedded SQLite database. It owns the profile tables'
 * migrations (also the dedupe and offset tables the processor's SqliteBatchStore writes).
 */
import type { Clock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
import type { Identity, IdentityKind, ProfileStore, RecentEvent, StoredProfile } from './profile-store.ts'

const MIGRATIONS = [
  `CREATE TABLE profiles (
     workspace_id TEXT NOT NULL,
     profile_id TEXT NOT NULL,
     user_id TEXT,
     state TEXT NOT NULL,
     version INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     last_event_received_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, profile_id)
   ) WITHOUT ROWID;
   CREATE TABLE identities (
     workspace_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     value TEXT NOT NULL,
     profile_id TEXT NOT NULL,
     PRIMARY KEY (workspace_id, kind, value)
   ) WITHOUT ROWID;
   CREATE INDEX identities_by_profile ON identities (workspace_id, profile_id);
   CREATE TABLE dedupe (
     workspace_id TEXT NOT NULL,
     message_id TEXT NOT NULL,
     seen_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, message_id)
   ) WITHOUT ROWID;
   CREATE INDEX dedupe_by_time ON dedupe (seen_at);
   CREATE TABLE processor_offsets (
     group_id TEXT NOT NULL,
     partition INTEGER NOT NULL,
     offset INTEGER NOT NULL,
     PRIMARY KEY (group_id, partition)
   ) WITHOUT ROWID;`,
  // Recent events per profile (recent-events.ts), written by SqliteBatchStore's commit; `seq` orders
  // events of the same time by arrival.
  `CREATE TABLE profile_events (
     seq INTEGER PRIMARY KEY,
     workspace_id TEXT NOT NULL,
     profile_id TEXT NOT NULL,
     message_id TEXT NOT NULL,
     type TEXT NOT NULL,
     name TEXT,
     at INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX profile_events_by_profile ON profile_events (workspace_id, profile_id, at DESC, seq DESC);`,
  // Look-up by the email trait (the dashboard's search); lower() folds ASCII only, as PostgreSQL's
  // lower() under COLLATE "C" does.
  `CREATE INDEX profiles_by_email ON profiles (workspace_id, lower(json_extract(state, '$.traits.email')))
     WHERE json_type(state, '$.traits.email') = 'text';`,
  // How many profile_events rows the profile has, kept by SqliteBatchStore's commit: it trims only
  // the profiles that go past RECENT_EVENTS_KEPT instead of looking at every profile it touches.
  `ALTER TABLE profiles ADD COLUMN recent_events INTEGER NOT NULL DEFAULT 0;
   UPDATE profiles SET recent_events = (SELECT count(*) FROM profile_events e
     WHERE e.workspace_id = profiles.workspace_id AND e.profile_id = profiles.profile_id);`,
]

interface RecentEventRow {
  workspace_id: string
  profile_id: string
  message_id: string
  type: RecentEvent['type']
  name: string | null
  at: number
  received_at: number
  data: string
}

const recentEventFromRow = (r: RecentEventRow): RecentEvent => ({
  workspaceId: r.workspace_id,
  profileId: r.profile_id,
  messageId: r.message_id,
  type: r.type,
  name: r.name,
  at: r.at,
  receivedAt: r.received_at,
  data: JSON.parse(r.data),
})

export interface ProfileRow {
  workspace_id: string
  profile_id: string
  user_id: string | null
  state: string
  version: number
  created_at: number
  updated_at: number
  last_event_received_at: number
}

export const profileFromRow = (row: ProfileRow): StoredProfile => ({
  workspaceId: row.workspace_id,
  profileId: row.profile_id,
  userId: row.user_id,
  state: JSON.parse(row.state),
  version: row.version,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  lastEventReceivedAt: row.last_event_received_at,
})

export class SqliteProfileStore implements ProfileStore {
  readonly #stmts

  /** `_opts` is taken for symmetry with the other stores' constructors; reads need no clock. */
  constructor(db: SqliteDatabase, _opts: { clock?: Clock } = {}) {
    migrate(db, 'sqlite-profile-store', MIGRATIONS)
    this.#stmts = {
      findProfileId: db
        .prepare('SELECT profile_id FROM identities WHERE workspace_id = ? AND kind = ? AND value = ?')
        .pluck(),
      getProfile: db.prepare('SELECT * FROM profiles WHERE workspace_id = ? AND profile_id = ?'),
      identities: db.prepare(
        'SELECT kind, value FROM identities WHERE workspace_id = ? AND profile_id = ? ORDER BY kind, value',
      ),
      byEmail: db
        .prepare(
          `SELECT profile_id FROM profiles INDEXED BY profiles_by_email
           WHERE workspace_id = ? AND lower(json_extract(state, '$.traits.email')) = lower(?)
             AND json_type(state, '$.traits.email') = 'text'
           ORDER BY profile_id LIMIT ?`,
        )
        .pluck(),
      recentEvents: db.prepare(
        `SELECT * FROM profile_events WHERE workspace_id = ? AND profile_id = ?
         ORDER BY at DESC, seq DESC LIMIT ?`,
      ),
    }
  }

  async findProfileId(workspaceId: string, kind: IdentityKind, value: string): Promise<string | undefined> {
    return this.#stmts.findProfileId.get(workspaceId, kind, value) as string | undefined
  }

  async getProfile(workspaceId: string, profileId: string): Promise<StoredProfile | undefined> {
    const row = this.#stmts.getProfile.get(workspaceId, profileId) as ProfileRow | undefined
    return row && profileFromRow(row)
  }

  async identities(workspaceId: string, profileId: string): Promise<Identity[]> {
    return this.#stmts.identities.all(workspaceId, profileId) as Identity[]
  }

  async findByEmail(workspaceId: string, email: string, limit: number): Promise<string[]> {
    return this.#stmts.byEmail.all(workspaceId, email, limit) as string[]
  }

  async recentEvents(workspaceId: string, profileId: string, limit: number): Promise<RecentEvent[]> {
    const rows = this.#stmts.recentEvents.all(workspaceId, profileId, limit) as RecentEventRow[]
    return rows.map(recentEventFromRow)
  }

  async close(): Promise<void> {}
}
