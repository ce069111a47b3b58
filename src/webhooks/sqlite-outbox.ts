/** The embedded WebhookOutbox: one table in the shared SQLite file. It does not own the database. */
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
import type { DeliveryState } from './outbox.ts'
import * as rules from './outbox-rules.ts'

const { DELIVERY_COLUMNS: COLUMNS, deliveryFromRow } = rules
type Row = rules.DeliveryRow

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

const MIGRATIONS = [
  `CREATE TABLE webhook_deliveries (
     id TEXT NOT NULL PRIMARY KEY,
     workspace_id TEXT NOT NULL,
     event_id TEXT NOT NULL,
     payload TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
     attempts INTEGER NOT NULL,
     next_attempt_at INTEGER NOT NULL,
     first_attempt_at INTEGER,
     last_attempt_at INTEGER,
     last_status INTEGER,
     last_error TEXT,
     created_at INTEGER NOT NULL,
     delivered_at INTEGER,
     UNIQUE (workspace_id, event_id)
   );
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
   CREATE INDEX webhook_deliveries_list ON webhook_deliveries (workspace_id, state, id);`,
  // Alerts share the outbox (issue 12): each row has a kind, and each kind its dispatcher.
  `ALTER TABLE webhook_deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'open' CHECK (kind IN ('open', 'alert'));
   DROP INDEX webhook_deliveries_due;
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries (kind, next_attempt_at) WHERE state = 'pending';`,
]

function sqliteRows(db: SqliteDatabase): rules.OutboxRows {
  migrate(db, 'sqlite-webhook-outbox', MIGRATIONS)
  const s = {
    insert: db.prepare(
      `INSERT INTO webhook_deliveries (${COLUMNS}) VALUES (${COLUMNS.split(',')
        .map(() => '?')
        .join(', ')}) ON CONFLICT (workspace_id, event_id) DO NOTHING`,
    ),
    byEvent: db.prepare(`SELECT ${COLUMNS} FROM webhook_deliveries WHERE workspace_id = ? AND event_id = ?`),
    // One statement: SQLite runs it under the database's write lock, so two processes never claim one row.
    claim: db.prepare(
      `UPDATE webhook_deliveries
       SET attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, @now),
           last_attempt_at = @now, next_attempt_at = @lease
       WHERE id IN (SELECT id FROM webhook_deliveries
                    WHERE state = 'pending' AND kind = @kind AND next_attempt_at <= @now
                    ORDER BY next_attempt_at, id LIMIT @limit)
       RETURNING ${COLUMNS}`,
    ),
    settle: db.prepare(
      `UPDATE webhook_deliveries
       SET state = @state, next_attempt_at = @nextAttemptAt, last_status = @lastStatus,
           last_error = @lastError, delivered_at = @deliveredAt
       WHERE id = @id AND state = 'pending' AND attempts = @attempts
       RETURNING ${COLUMNS}`,
    ),
    page: db.prepare(
      `SELECT ${COLUMNS} FROM webhook_deliveries
       WHERE workspace_id = @ws AND (@before IS NULL OR id < @before) AND (@state IS NULL OR state = @state)
       ORDER BY id DESC LIMIT @limit`,
    ),
    get: db.prepare(`SELECT ${COLUMNS} FROM webhook_deliveries WHERE workspace_id = ? AND id = ?`),
    next: db
      .prepare(`SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending' AND kind = ?`)
      .pluck(),
    prune: db.prepare(
      `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
         WHERE id < ? AND state <> 'pending' ORDER BY id LIMIT ?)`,
    ),
  }
  const one = (row: unknown) => (row === undefined ? undefined : deliveryFromRow(row as Row))
  return {
    insert: async (d) => s.insert.run(...rules.deliveryValues(d)).changes === 1,
    byEvent: async (ws, eventId) => one(s.byEvent.get(ws, eventId)),
    claim: async (now, lease, limit, kind) =>
      (s.claim.all({ now, lease, limit, kind }) as Row[]).map(deliveryFromRow).sort(byId),
    settle: async (id, attempts, change) => one(s.settle.get({ id, attempts, ...change })),
    page: async (ws, state: DeliveryState | null, before, limit) =>
      (s.page.all({ ws, state, before, limit }) as Row[]).map(deliveryFromRow),
    get: async (ws, id) => one(s.get.get(ws, id)),
    prune: async (beforeId, limit) => s.prune.run(beforeId, limit).changes,
    nextDueAt: async (kind) => {
      const v = s.next.get(kind) as number | null
      return v === null ? undefined : v
    },
  }
}

export class SqliteWebhookOutbox extends rules.OutboxRules {
  constructor(db: SqliteDatabase, opts: rules.OutboxOptions = {}) {
    super(sqliteRows(db), opts)
  }
}
