/** The embedded SuppressionStore: one table in the shared SQLite file. It does not own the database. */
import type { Clock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
import * as rules from './suppression-rules.ts'
import type { Suppression, SuppressionReason } from './suppression-store.ts'

const { SUPPRESSION_COLUMNS: COLUMNS, suppressionFromRow } = rules
type Row = rules.SuppressionRow

const MIGRATIONS = [
  `CREATE TABLE delivery_suppressions (
     workspace_id TEXT NOT NULL,
     email TEXT NOT NULL,
     reason TEXT NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained')),
     source TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, email, reason)
   ) WITHOUT ROWID;`,
  // The `erased` reason (an erasure's entry, keyed by the address's hash). SQLite cannot change a
  // CHECK: the table is copied into one with the new constraint.
  `CREATE TABLE delivery_suppressions_v2 (
     workspace_id TEXT NOT NULL,
     email TEXT NOT NULL,
     reason TEXT NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'erased')),
     source TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, email, reason)
   ) WITHOUT ROWID;
   INSERT INTO delivery_suppressions_v2 SELECT workspace_id, email, reason, source, created_at
     FROM delivery_suppressions;
   DROP TABLE delivery_suppressions;
   ALTER TABLE delivery_suppressions_v2 RENAME TO delivery_suppressions;`,
]

const WHERE = 'WHERE workspace_id = ? AND email = ?'

/** Creates the table; the processor's batch store writes into it too (the bounce policy). */
export function migrateSqliteSuppressions(db: SqliteDatabase): void {
  migrate(db, 'sqlite-suppression-store', MIGRATIONS)
}

function sqliteRows(db: SqliteDatabase): rules.SuppressionRows {
  migrateSqliteSuppressions(db)
  const s = {
    insert: db.prepare(
      `INSERT INTO delivery_suppressions (${COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    one: db.prepare(`SELECT ${COLUMNS} FROM delivery_suppressions ${WHERE} AND reason = ?`),
    get: db.prepare(`SELECT ${COLUMNS} FROM delivery_suppressions ${WHERE} ORDER BY reason`),
    exists: db.prepare(`SELECT EXISTS (SELECT 1 FROM delivery_suppressions ${WHERE})`).pluck(),
    // One statement for any audience size: the addresses travel as a JSON array, not as N parameters.
    batch: db
      .prepare(
        `SELECT DISTINCT email FROM delivery_suppressions
         WHERE workspace_id = ? AND email IN (SELECT value FROM json_each(?))`,
      )
      .pluck(),
    list: db.prepare(
      `SELECT ${COLUMNS} FROM delivery_suppressions
       WHERE workspace_id = @ws AND (email, reason) > (@email, @reason)
         AND (@only IS NULL OR reason = @only)
       ORDER BY email, reason LIMIT @limit`,
    ),
    removeOne: db.prepare(`DELETE FROM delivery_suppressions ${WHERE} AND reason = ?`),
    removeAll: db.prepare(`DELETE FROM delivery_suppressions ${WHERE}`),
  }
  return {
    async insert(e: Suppression) {
      const { changes } = s.insert.run(e.workspaceId, e.email, e.reason, e.source, e.createdAt)
      const row = s.one.get(e.workspaceId, e.email, e.reason) as Row
      return { created: changes === 1, stored: suppressionFromRow(row) }
    },
    exists: async (ws: string, email: string) => s.exists.get(ws, email) === 1,
    entries: async (ws: string, email: string) => (s.get.all(ws, email) as Row[]).map(suppressionFromRow),
    suppressedOf: async (ws: string, emails: readonly string[]) =>
      s.batch.all(ws, JSON.stringify(emails)) as string[],
    page: async (ws, after, only, limit) =>
      (s.list.all({ ws, ...after, only, limit }) as Row[]).map(suppressionFromRow),
    remove: async (ws: string, email: string, reason: SuppressionReason | undefined) =>
      (reason === undefined ? s.removeAll.run(ws, email) : s.removeOne.run(ws, email, reason)).changes,
  }
}

export class SqliteSuppressionStore extends rules.SuppressionRules {
  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    super(sqliteRows(db), opts.clock)
  }
}
