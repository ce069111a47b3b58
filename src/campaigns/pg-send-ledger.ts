/**
 * The SendLedger over PostgreSQL, for runners in several processes: SQL only (the rules are in
 * ledger-core.ts). An insert is one INSERT … ON CONFLICT DO NOTHING: of two runners racing for a
 * recipient, exactly one inserts the row (the other's insert waits for it and then does nothing),
 * so only one sends. It does not own the pool.
 */
import type { Failpoints } from '../core/failpoints.ts'
import { type Clock, systemClock } from '../core/types.ts'
import { migratePg, type PgPool, toInt } from '../db/pg.ts'
import { ownerGone, type ProcessOwner } from '../db/pg-lease.ts'
import { PgStore } from '../db/pg-store.ts'
import { LedgerCore, type LedgerSql } from './ledger-core.ts'
import { entryOf, LEDGER_COLUMNS, type LedgerRow, MIGRATE_TEMPORARY_FAILURES } from './ledger-rules.ts'
import { type LedgerKey, SEND_STATES, type SendState } from './send-ledger.ts'

const MIGRATIONS = [
  `CREATE TABLE send_ledger (
     workspace_id text COLLATE "C" NOT NULL,
     campaign_id text COLLATE "C" NOT NULL,
     recipient text COLLATE "C" NOT NULL,
     email text NOT NULL,
     state text NOT NULL CHECK (state IN ('sending', 'sent', 'failed', 'unknown', 'suppressed', 'skipped')),
     message_id text NOT NULL,
     attempts integer NOT NULL DEFAULT 0,
     detail text,
     updated_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, campaign_id, recipient)
   );`,
  // One message per address per campaign: profiles sharing an address are found by it.
  'CREATE INDEX send_ledger_by_email ON send_ledger (workspace_id, campaign_id, email);',
  // The lease key (db/pg-lease.ts) of the process that claimed a row still `sending`.
  'ALTER TABLE send_ledger ADD COLUMN owner_key bigint;',
  // The `deferred` state (a temporary failure, retried later) with its typed reason, retry time and count.
  `ALTER TABLE send_ledger DROP CONSTRAINT send_ledger_state_check;
   ALTER TABLE send_ledger ADD CONSTRAINT send_ledger_state_check
     CHECK (state IN (${SEND_STATES.map((s) => `'${s}'`).join(', ')}));
   ALTER TABLE send_ledger ADD COLUMN reason text, ADD COLUMN retry_at bigint,
     ADD COLUMN deferrals integer NOT NULL DEFAULT 0;
   CREATE INDEX send_ledger_by_state ON send_ledger (workspace_id, campaign_id, state, recipient);
   ${MIGRATE_TEMPORARY_FAILURES};`,
]

const KEY = 'workspace_id = $1 AND campaign_id = $2 AND recipient = $3'
const keyOf = (k: LedgerKey) => [k.workspaceId, k.campaignId, k.recipient]

/** The send_ledger table: migrated by the PgStore preamble; `sql` is the LedgerSql over it. */
class PgLedgerTable extends PgStore {
  constructor(pool: PgPool) {
    super(pool, (p) => migratePg(p, 'pg-send-ledger', MIGRATIONS))
  }

  sql(owner: string | null): LedgerSql {
    const query = <R extends object>(text: string, values: unknown[]) => this.query<R>(text, values)
    return pgLedgerSql(query, owner)
  }
}

type Query = <R extends object>(text: string, values: unknown[]) => Promise<{ rows: R[]; count: number }>

function pgLedgerSql(query: Query, owner: string | null): LedgerSql {
  return {
    async insert(key, email, messageId, m, now) {
      const { count } = await query(
        `INSERT INTO send_ledger (${LEDGER_COLUMNS}, owner_key)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
        [
          ...keyOf(key),
          email,
          m.state,
          messageId,
          m.detail,
          m.reason,
          m.retryAt,
          m.deferral,
          now,
          ownerFor(m.state),
        ],
      )
      return count === 1
    },
    async move(key, from, m, now) {
      const { count } = await query(
        `UPDATE send_ledger SET state = $5, detail = $6, reason = $7, retry_at = $8,
           deferrals = deferrals + $9, updated_at = $10, owner_key = $11
         WHERE ${KEY} AND state = ANY($4::text[])`,
        [...keyOf(key), from, m.state, m.detail, m.reason, m.retryAt, m.deferral, now, ownerFor(m.state)],
      )
      return count
    },
    async attempt(key, from, now) {
      await query(
        `UPDATE send_ledger SET attempts = attempts + 1, updated_at = $5 WHERE ${KEY} AND state = ANY($4::text[])`,
        [...keyOf(key), from, now],
      )
    },
    async get(key) {
      const { rows } = await query<LedgerRow>(
        `SELECT ${LEDGER_COLUMNS} FROM send_ledger WHERE ${KEY}`,
        keyOf(key),
      )
      return rows[0] && entryOf(rows[0])
    },
    async page(ws, campaign, p) {
      const { rows } = await query<LedgerRow>(
        `SELECT ${LEDGER_COLUMNS} FROM send_ledger WHERE workspace_id = $1 AND campaign_id = $2
         AND ($3::text IS NULL OR state = $3) AND recipient > $4 AND ($5::bigint IS NULL OR retry_at <= $5)
         ORDER BY recipient LIMIT $6`,
        [ws, campaign, p.state ?? null, p.after ?? '', p.dueBy ?? null, Math.min(p.limit, 2 ** 53)],
      )
      return rows.map(entryOf)
    },
    async handled(ws, campaign, recipients) {
      const { rows } = await query<{ recipient: string }>(
        `SELECT recipient FROM send_ledger WHERE workspace_id = $1 AND campaign_id = $2
         AND recipient = ANY($3::text[])`,
        [ws, campaign, recipients],
      )
      return rows.map((r) => r.recipient)
    },
    async addressTaken(key, email, states) {
      const { count } = await query(
        `SELECT 1 FROM send_ledger WHERE workspace_id = $1 AND campaign_id = $2 AND email = $3
         AND recipient <> $4 AND state = ANY($5::text[]) LIMIT 1`,
        [key.workspaceId, key.campaignId, email, key.recipient, states],
      )
      return count > 0
    },
    async deferredFor(ws, campaign, reason) {
      const { rows } = await query<{ n: string; last: string | null }>(
        `SELECT count(*) AS n, max(retry_at) AS last FROM send_ledger
         WHERE workspace_id = $1 AND campaign_id = $2 AND state = 'deferred' AND reason = $3`,
        [ws, campaign, reason],
      )
      const last = rows[0]?.last ?? null
      return { n: Number(rows[0]?.n ?? 0), last: last === null ? null : toInt(last) }
    },
    async nextRetryAt(ws, campaign) {
      const { rows } = await query<{ at: string | null }>(
        `SELECT min(retry_at) AS at FROM send_ledger
         WHERE workspace_id = $1 AND campaign_id = $2 AND state = 'deferred'`,
        [ws, campaign],
      )
      const at = rows[0]?.at ?? null
      return at === null ? undefined : toInt(at)
    },
    async recover(ws, campaign, m, now) {
      const { rows } = await query<{ recipient: string }>(
        `WITH r AS (
           UPDATE send_ledger SET state = $3, detail = $4, reason = $5, retry_at = $6,
             deferrals = deferrals + $7, updated_at = $8, owner_key = NULL
           WHERE workspace_id = $1 AND campaign_id = $2 AND state = 'sending' AND ${ownerGone('owner_key')}
           RETURNING recipient)
         SELECT recipient FROM r ORDER BY recipient`,
        [ws, campaign, m.state, m.detail, m.reason, m.retryAt, m.deferral, now],
      )
      return rows.map((r) => r.recipient)
    },
    async counts(ws, campaign) {
      const { rows } = await query<{ state: SendState; n: string }>(
        `SELECT state, count(*) AS n FROM send_ledger WHERE workspace_id = $1 AND campaign_id = $2
         GROUP BY state`,
        [ws, campaign],
      )
      return rows.map((r) => ({ state: r.state, n: toInt(r.n) }))
    },
  }

  function ownerFor(state: SendState): string | null {
    return state === 'sending' ? owner : null
  }
}

export class PgSendLedger extends LedgerCore {
  readonly #table: PgLedgerTable

  /**
   * `owner`: this process's lease. Its key is stamped on every claim, and recoverInterrupted then
   * leaves alone the rows of processes still alive. Without one (a single sender), every row left
   * `sending` counts as interrupted.
   */
  constructor(pool: PgPool, opts: { clock?: Clock; owner?: ProcessOwner; failpoints?: Failpoints } = {}) {
    const table = new PgLedgerTable(pool)
    super(table.sql(opts.owner?.key ?? null), opts.clock ?? systemClock, opts.failpoints)
    this.#table = table
  }

  /** Resolves once the table exists; every method waits for it too. */
  ready(): Promise<void> {
    return this.#table.ready()
  }
}
