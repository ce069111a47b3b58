/**
 * The WebhookOutbox over PostgreSQL: one table. Several dispatchers (processes) claim from it at
 * once: the claim locks its rows with FOR UPDATE SKIP LOCKED, so each due row goes to one of them,
 * and moves the row's next attempt to the end of a lease. It does not own the pool.
 */
import { migratePg, type PgPool, pgText, pgTextOrNull } from '../db/pg.ts'
import { PgStore } from '../db/pg-store.ts'
import type { DeliveryKind, DeliveryState, WebhookDelivery } from './outbox.ts'
import * as rules from './outbox-rules.ts'

const { DELIVERY_COLUMNS: COLUMNS, deliveryFromRow } = rules
type Row = rules.DeliveryRow

const MIGRATIONS = [
  `CREATE TABLE webhook_deliveries (
     id text COLLATE "C" NOT NULL PRIMARY KEY,
     workspace_id text COLLATE "C" NOT NULL,
     event_id text COLLATE "C" NOT NULL,
     payload text NOT NULL,
     state text COLLATE "C" NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
     attempts integer NOT NULL,
     next_attempt_at bigint NOT NULL,
     first_attempt_at bigint,
     last_attempt_at bigint,
     last_status integer,
     last_error text,
     created_at bigint NOT NULL,
     delivered_at bigint,
     UNIQUE (workspace_id, event_id)
   );
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
   CREATE INDEX webhook_deliveries_list ON webhook_deliveries (workspace_id, state, id);`,
  // Alerts share the outbox (issue 12): each row has a kind, and each kind its dispatcher.
  `ALTER TABLE webhook_deliveries ADD COLUMN kind text COLLATE "C" NOT NULL DEFAULT 'open'
     CHECK (kind IN ('open', 'alert'));
   DROP INDEX webhook_deliveries_due;
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries (kind, next_attempt_at) WHERE state = 'pending';`,
]

const PARAMS = COLUMNS.split(',')
  .map((_, i) => `$${i + 1}`)
  .join(', ')

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

class PgRows extends PgStore implements rules.OutboxRows {
  constructor(pool: PgPool) {
    super(pool, (p) => migratePg(p, 'pg-webhook-outbox', MIGRATIONS))
  }

  async insert(d: WebhookDelivery) {
    // Text cannot hold U+0000 (an event's messageId may); the body is JSON, where NUL is escaped.
    const values = rules.deliveryValues({ ...d, eventId: pgText(d.eventId) })
    const { count } = await this.query(
      `INSERT INTO webhook_deliveries (${COLUMNS}) VALUES (${PARAMS})
       ON CONFLICT (workspace_id, event_id) DO NOTHING`,
      values,
    )
    return count === 1
  }

  async byEvent(ws: string, eventId: string) {
    const { rows } = await this.query<Row>(
      `SELECT ${COLUMNS} FROM webhook_deliveries WHERE workspace_id = $1 AND event_id = $2`,
      [ws, pgText(eventId)],
    )
    return rows[0] && deliveryFromRow(rows[0])
  }

  async claim(now: number, lease: number, limit: number, kind: DeliveryKind) {
    // SKIP LOCKED: a row another dispatcher is claiming right now is left to it. Under READ COMMITTED
    // the locked row is re-checked against the WHERE, so a row claimed and committed meanwhile (its
    // next attempt moved to its lease) is not claimed again.
    const { rows } = await this.query<Row>(
      `UPDATE webhook_deliveries d
       SET attempts = d.attempts + 1, first_attempt_at = COALESCE(d.first_attempt_at, $1),
           last_attempt_at = $1, next_attempt_at = $2
       FROM (SELECT id FROM webhook_deliveries
             WHERE state = 'pending' AND kind = $4 AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) due
       WHERE d.id = due.id
       RETURNING ${COLUMNS.split(', ')
         .map((c) => `d.${c}`)
         .join(', ')}`,
      [now, lease, limit, kind],
    )
    return rows.map(deliveryFromRow).sort(byId)
  }

  async settle(id: string, attempts: number, change: rules.Settle) {
    const { rows } = await this.query<Row>(
      `UPDATE webhook_deliveries
       SET state = $3, next_attempt_at = $4, last_status = $5, last_error = $6, delivered_at = $7
       WHERE id = $1 AND state = 'pending' AND attempts = $2
       RETURNING ${COLUMNS}`,
      [
        id,
        attempts,
        change.state,
        change.nextAttemptAt,
        change.lastStatus,
        pgTextOrNull(change.lastError),
        change.deliveredAt,
      ],
    )
    return rows[0] && deliveryFromRow(rows[0])
  }

  async page(ws: string, state: DeliveryState | null, before: string | null, limit: number) {
    const { rows } = await this.query<Row>(
      `SELECT ${COLUMNS} FROM webhook_deliveries
       WHERE workspace_id = $1 AND ($2::text IS NULL OR id < $2::text) AND ($3::text IS NULL OR state = $3::text)
       ORDER BY id DESC LIMIT $4`,
      [ws, before, state, limit],
    )
    return rows.map(deliveryFromRow)
  }

  async get(ws: string, id: string) {
    const { rows } = await this.query<Row>(
      `SELECT ${COLUMNS} FROM webhook_deliveries WHERE workspace_id = $1 AND id = $2`,
      [ws, id],
    )
    return rows[0] && deliveryFromRow(rows[0])
  }

  async prune(beforeId: string, limit: number) {
    const { count } = await this.query(
      `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
         WHERE id < $1 AND state <> 'pending' ORDER BY id LIMIT $2)`,
      [beforeId, limit],
    )
    return count
  }

  async nextDueAt(kind: DeliveryKind) {
    const { rows } = await this.query<{ next: string | null }>(
      `SELECT MIN(next_attempt_at) AS next FROM webhook_deliveries WHERE state = 'pending' AND kind = $1`,
      [kind],
    )
    const next = rows[0]?.next ?? null
    return next === null ? undefined : Number(next)
  }
}

export class PgWebhookOutbox extends rules.OutboxRules {
  readonly #rows: PgRows

  constructor(pool: PgPool, opts: rules.OutboxOptions = {}) {
    const rows = new PgRows(pool)
    super(rows, opts)
    this.#rows = rows
  }

  /** Resolves once the table exists; every method waits for it too. */
  ready(): Promise<void> {
    return this.#rows.ready()
  }
}
