/** The SuppressionStore over PostgreSQL: one table. It does not own the pool. */
import type { Clock } from '../core/types.ts'
import { migratePg, type PgPool } from '../db/pg.ts'
import { PgStore } from '../db/pg-store.ts'
import * as rules from './suppression-rules.ts'
import type { StoredReason, Suppression, SuppressionReason } from './suppression-store.ts'

const { SUPPRESSION_COLUMNS: COLUMNS, suppressionFromRow } = rules
type Row = rules.SuppressionRow

const MIGRATIONS = [
  `CREATE TABLE delivery_suppressions (
     workspace_id text COLLATE "C" NOT NULL,
     email text COLLATE "C" NOT NULL,
     reason text COLLATE "C" NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained')),
     source text NOT NULL,
     created_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, email, reason)
   );`,
  // The `erased` reason (an erasure's entry, keyed by the address's hash).
  `ALTER TABLE delivery_suppressions DROP CONSTRAINT delivery_suppressions_reason_check,
     ADD CONSTRAINT delivery_suppressions_reason_check
       CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'erased'));`,
]

const WHERE = 'WHERE workspace_id = $1 AND email = $2'

/** Creates the table; the processor's batch store writes into it too (the bounce policy). */
export const migratePgSuppressions = (pool: PgPool) => migratePg(pool, 'pg-suppression-store', MIGRATIONS)

class PgRows extends PgStore implements rules.SuppressionRows {
  constructor(pool: PgPool) {
    super(pool, migratePgSuppressions)
  }

  async insert(e: Suppression) {
    const inserted = await this.query(
      `INSERT INTO delivery_suppressions (${COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [e.workspaceId, e.email, e.reason, e.source, e.createdAt],
    )
    // A conflicting insert is committed by the time ON CONFLICT returns, so this finds a row.
    const { rows } = await this.query<Row>(
      `SELECT ${COLUMNS} FROM delivery_suppressions ${WHERE} AND reason = $3`,
      [e.workspaceId, e.email, e.reason],
    )
    return { created: inserted.count === 1, stored: suppressionFromRow(rows[0]!) }
  }

  async exists(ws: string, email: string) {
    return (await this.query(`SELECT 1 FROM delivery_suppressions ${WHERE} LIMIT 1`, [ws, email])).count > 0
  }

  async entries(ws: string, email: string) {
    const { rows } = await this.query<Row>(
      `SELECT ${COLUMNS} FROM delivery_suppressions ${WHERE} ORDER BY reason`,
      [ws, email],
    )
    return rows.map(suppressionFromRow)
  }

  async suppressedOf(ws: string, emails: readonly string[]) {
    // One statement for any audience size: the addresses travel as one array parameter.
    const { rows } = await this.query<{ email: string }>(
      'SELECT DISTINCT email FROM delivery_suppressions WHERE workspace_id = $1 AND email = ANY($2::text[])',
      [ws, emails],
    )
    return rows.map((r) => r.email)
  }

  async page(ws: string, after: { email: string; reason: string }, only: StoredReason | null, limit: number) {
    const { rows } = await this.query<Row>(
      `SELECT ${COLUMNS} FROM delivery_suppressions
       WHERE workspace_id = $1 AND (email, reason) > ($2, $3)
         AND ($4::text IS NULL OR reason = $4::text)
       ORDER BY email, reason LIMIT $5`,
      [ws, after.email, after.reason, only, limit],
    )
    return rows.map(suppressionFromRow)
  }

  async remove(ws: string, email: string, reason: SuppressionReason | undefined) {
    const { count } =
      reason === undefined
        ? await this.query(`DELETE FROM delivery_suppressions ${WHERE}`, [ws, email])
        : await this.query(`DELETE FROM delivery_suppressions ${WHERE} AND reason = $3`, [ws, email, reason])
    return count
  }
}

export class PgSuppressionStore extends rules.SuppressionRules {
  readonly #rows: PgRows

  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    const rows = new PgRows(pool)
    super(rows, opts.clock)
    this.#rows = rows
  }

  /** Resolves once the table exists; every method waits for it too. */
  ready(): Promise<void> {
    return this.#rows.ready()
  }
}
