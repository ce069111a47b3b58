/**
 * The privacy tables, in the store (both backends): the erasure tombstones (hashes of the erased
 * identities, read by the processor to drop their later events) and the audit of erasures and exports.
 * Migrated by whichever of the privacy store (api) and the batch store (processor) opens first.
 */

import { migratePg, type PgPool } from '../db/pg.ts'
import { migrate, type SqliteDatabase } from '../db/sqlite.ts'

const SQLITE = [
  `CREATE TABLE IF NOT EXISTS privacy_tombstones (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     workspace_id TEXT NOT NULL,
     id_hash TEXT NOT NULL,
     erased_at INTEGER NOT NULL
   );
   CREATE TABLE IF NOT EXISTS privacy_audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     workspace_id TEXT NOT NULL,
     action TEXT NOT NULL CHECK (action IN ('erase', 'export')),
     profile_id TEXT NOT NULL,
     actor TEXT NOT NULL,
     at INTEGER NOT NULL,
     details TEXT NOT NULL
   );
   CREATE INDEX IF NOT EXISTS privacy_audit_by_workspace ON privacy_audit (workspace_id, id);`,
  // The erasures still pending (erasure-resume.ts reads them every minute: without this, a scan of
  // the whole audit with a JSON predicate), and an erasure's tombstones by its time.
  `CREATE INDEX privacy_audit_pending ON privacy_audit (id)
     WHERE action = 'erase' AND json_extract(details, '$.log') = 'pending';
   CREATE INDEX privacy_tombstones_by_erasure ON privacy_tombstones (workspace_id, erased_at);`,
]

const PG = [
  `CREATE TABLE privacy_tombstones (
     seq bigserial PRIMARY KEY,
     workspace_id text COLLATE "C" NOT NULL,
     id_hash text COLLATE "C" NOT NULL,
     erased_at bigint NOT NULL
   );
   CREATE TABLE privacy_audit (
     id bigserial PRIMARY KEY,
     workspace_id text COLLATE "C" NOT NULL,
     action text NOT NULL CHECK (action IN ('erase', 'export')),
     profile_id text COLLATE "C" NOT NULL,
     actor text NOT NULL,
     at bigint NOT NULL,
     details jsonb NOT NULL
   );
   CREATE INDEX privacy_audit_by_workspace ON privacy_audit (workspace_id, id);`,
  // As SQLite's second step (the predicate written as the query writes it, or it is not used).
  `CREATE INDEX privacy_audit_pending ON privacy_audit (id) WHERE action = 'erase' AND details->>'log' = 'pending';
   CREATE INDEX privacy_tombstones_by_erasure ON privacy_tombstones (workspace_id, erased_at);`,
]

export const migratePrivacy = (db: SqliteDatabase): void => migrate(db, 'sqlite-privacy', SQLITE)
export const migratePgPrivacy = (pool: PgPool): Promise<void> => migratePg(pool, 'pg-privacy', PG)

/** New tombstones after `seq` (the processor keeps the rest); both dialects' `?` become `$n` for PostgreSQL. */
export const TOMBSTONES_AFTER =
  'SELECT seq, workspace_id, id_hash, erased_at FROM privacy_tombstones WHERE seq > ? ORDER BY seq'

/** The newest tombstone's seq (0: none), read by a processor's commit to refuse a batch an erasure raced. */
export const TOMBSTONE_HEAD = 'SELECT coalesce(max(seq), 0) AS seq FROM privacy_tombstones'

export interface TombstoneRow {
  seq: number | string
  workspace_id: string
  id_hash: string
  erased_at: number | string
}

/**
 * The PostgreSQL advisory lock an erasure takes exclusively and a processor's commit shared (per
 * schema): a commit that read a profile before the erasure either commits before it or, after it,
 * sees its tombstone and is applied again.
 */
export const TOMBSTONE_LOCK = "hashtextextended('inkstream.erasure\n' || current_schema(), 0)"

/** An erased identity (src/privacy/erasure-plan.ts): its hash, never the id. */
export interface Tombstone {
  seq: number
  workspaceId: string
  idHash: string
  erasedAt: number
}

export const tombstoneOf = (r: TombstoneRow): Tombstone => ({
  seq: Number(r.seq),
  workspaceId: r.workspace_id,
  idHash: r.id_hash,
  erasedAt: Number(r.erased_at),
})
