/**
 * The segment tables, on the store database. Both SqliteSegmentStore (definitions, reads,
 * backfill) and SqliteBatchStore (membership changes committed with profile changes) use them,
 * so either may be constructed first.
 */
import { migrate, type SqliteDatabase } from '../db/sqlite.ts'
import type { SegmentVersions } from './segment-membership.ts'

const MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS segments (
     workspace_id TEXT NOT NULL,
     segment_id TEXT NOT NULL,
     name TEXT NOT NULL,
     condition TEXT NOT NULL,
     version INTEGER NOT NULL,
     members_version INTEGER,
     backfill_cursor TEXT,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, segment_id)
   ) WITHOUT ROWID;
   CREATE TABLE IF NOT EXISTS segment_members (
     workspace_id TEXT NOT NULL,
     segment_id TEXT NOT NULL,
     profile_id TEXT NOT NULL,
     user_id TEXT,
     email TEXT,
     joined_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, segment_id, profile_id)
   ) WITHOUT ROWID;
   CREATE INDEX IF NOT EXISTS segment_members_by_profile ON segment_members (workspace_id, profile_id);
   CREATE TABLE IF NOT EXISTS segment_meta (
     id INTEGER PRIMARY KEY CHECK (id = 0),
     stamp INTEGER NOT NULL
   );`,
]

export function migrateSegments(db: SqliteDatabase): void {
  migrate(db, 'sqlite-segment-store', MIGRATIONS)
}

/** Membership writes; run inside the caller's transaction. */
export function membershipStatements(db: SqliteDatabase) {
  const versionsOf = db.prepare('SELECT segment_id, version FROM segments WHERE workspace_id = ?').raw()
  return {
    upsert: db.prepare(
      `INSERT INTO segment_members (workspace_id, segment_id, profile_id, user_id, email, joined_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (workspace_id, segment_id, profile_id) DO UPDATE SET user_id = excluded.user_id,
         email = excluded.email
       WHERE user_id IS NOT excluded.user_id OR email IS NOT excluded.email`,
    ),
    remove: db.prepare(
      'DELETE FROM segment_members WHERE workspace_id = ? AND segment_id = ? AND profile_id = ?',
    ),
    removeProfile: db.prepare('DELETE FROM segment_members WHERE workspace_id = ? AND profile_id = ?'),
    /** The segments' versions as stored now, read once per workspace per call of the result. */
    versions(): SegmentVersions {
      const byWorkspace = new Map<string, Map<string, number>>()
      return (ws) => {
        let versions = byWorkspace.get(ws)
        if (!versions) {
          versions = new Map(versionsOf.all(ws) as [string, number][])
          byWorkspace.set(ws, versions)
        }
        return versions
      }
    },
  }
}
