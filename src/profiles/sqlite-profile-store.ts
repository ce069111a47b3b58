/**
 * The read-only ProfileStore over the embedded SQLite database. It owns the profile tables'
 * migrations (also the dedupe and offset tables the processor's SqliteBatchStore writes).
 */
import type { Clock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
import type { Identity, IdentityKind, ProfileStore, StoredProfile } from './profile-store.ts'

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
]

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

  async close(): Promise<void> {}
}
