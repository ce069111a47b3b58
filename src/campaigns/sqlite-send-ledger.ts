/**
 * The embedded SendLedger: one table, SQL only (the rules are in ledger-core.ts). An insert is a
 * single INSERT … ON CONFLICT DO NOTHING, so two runners racing for a recipient cannot both win.
 * It does not own the database.
 */
import type { Failpoints } from '../core/failpoints.ts'
import { type Clock, systemClock } from '../core/types.ts'
import { migrate, type SqliteDatabase } from '../db/sqlite.ts'
import { GroupCommit } from './group-commit.ts'
import { LedgerCore, type LedgerSql } from './ledger-core.ts'
import { entryOf, LEDGER_COLUMNS, type LedgerRow, MIGRATE_TEMPORARY_FAILURES } from './ledger-rules.ts'
import { SEND_STATES, type SendState } from './send-ledger.ts'

const STATE_CHECK = `CHECK (state IN (${SEND_STATES.map((s) => `'${s}'`).join(', ')}))`

const MIGRATIONS = [
  `CREATE TABLE send_ledger (
     workspace_id TEXT NOT NULL,
     campaign_id TEXT NOT NULL,
     recipient TEXT NOT NULL,
     email TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed', 'unknown', 'suppressed', 'skipped')),
     message_id TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     detail TEXT,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, campaign_id, recipient)
   ) WITHOUT ROWID;`,
  // One message per address per campaign: profiles sharing an address are found by it.
  'CREATE INDEX send_ledger_by_email ON send_ledger (workspace_id, campaign_id, email);',
  // Without statistics SQLite preferred the primary key (workspace_id, campaign_id) for
  // addressTaken: a scan of the whole campaign per recipient, quadratic over a campaign (a 100k run
  // slowed to ~80 recipients/s past 80k). With state in the index the lookup is covered by it, and
  // the query names it (INDEXED BY), so a plan change is an error, not a slow campaign.
  `DROP INDEX send_ledger_by_email;
   CREATE INDEX send_ledger_by_email_state ON send_ledger (workspace_id, campaign_id, email, state);`,
  // The `deferred` state (a temporary failure, retried later) with its typed reason, retry time and
  // count. SQLite cannot change a CHECK: the table is copied into one with the new constraint.
  `CREATE TABLE send_ledger_v2 (
     workspace_id TEXT NOT NULL,
     campaign_id TEXT NOT NULL,
     recipient TEXT NOT NULL,
     email TEXT NOT NULL,
     state TEXT NOT NULL ${STATE_CHECK},
     message_id TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     detail TEXT,
     reason TEXT,
     retry_at INTEGER,
     deferrals INTEGER NOT NULL DEFAULT 0,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, campaign_id, recipient)
   ) WITHOUT ROWID;
   INSERT INTO send_ledger_v2 (workspace_id, campaign_id, recipient, email, state, message_id, attempts,
     detail, updated_at)
   SELECT workspace_id, campaign_id, recipient, email, state, message_id, attempts, detail, updated_at
   FROM send_ledger;
   DROP TABLE send_ledger;
   ALTER TABLE send_ledger_v2 RENAME TO send_ledger;
   CREATE INDEX send_ledger_by_email_state ON send_ledger (workspace_id, campaign_id, email, state);
   CREATE INDEX send_ledger_by_state ON send_ledger (workspace_id, campaign_id, state, recipient);
   ${MIGRATE_TEMPORARY_FAILURES};`,
]

const KEY = 'workspace_id = ? AND campaign_id = ? AND recipient = ?'
const IN_STATES = 'state IN (SELECT value FROM json_each(?))'
const keyOf = (k: { workspaceId: string; campaignId: string; recipient: string }) => [
  k.workspaceId,
  k.campaignId,
  k.recipient,
]

function sqliteLedgerSql(db: SqliteDatabase): LedgerSql {
  const s = {
    insert: db.prepare(
      `INSERT INTO send_ledger (${LEDGER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),
    move: db.prepare(
      `UPDATE send_ledger SET state = ?, detail = ?, reason = ?, retry_at = ?, deferrals = deferrals + ?,
         updated_at = ? WHERE ${KEY} AND ${IN_STATES}`,
    ),
    attempt: db.prepare(
      `UPDATE send_ledger SET attempts = attempts + 1, updated_at = ? WHERE ${KEY} AND ${IN_STATES}`,
    ),
    get: db.prepare(`SELECT ${LEDGER_COLUMNS} FROM send_ledger WHERE ${KEY}`),
    page: db.prepare(
      `SELECT ${LEDGER_COLUMNS} FROM send_ledger WHERE workspace_id = ? AND campaign_id = ?
       AND (? IS NULL OR state = ?) AND recipient > ? AND (? IS NULL OR retry_at <= ?)
       ORDER BY recipient LIMIT ?`,
    ),
    handled: db
      .prepare(
        `SELECT recipient FROM send_ledger WHERE workspace_id = ? AND campaign_id = ?
         AND recipient IN (SELECT value FROM json_each(?))`,
      )
      .pluck(),
    addressTaken: db.prepare(
      `SELECT 1 FROM send_ledger INDEXED BY send_ledger_by_email_state
       WHERE workspace_id = ? AND campaign_id = ? AND email = ? AND recipient <> ? AND ${IN_STATES} LIMIT 1`,
    ),
    nextRetryAt: db
      .prepare(
        `SELECT min(retry_at) FROM send_ledger WHERE workspace_id = ? AND campaign_id = ? AND state = 'deferred'`,
      )
      .pluck(),
    deferredFor: db.prepare(
      `SELECT count(*) AS n, max(retry_at) AS last FROM send_ledger
       WHERE workspace_id = ? AND campaign_id = ? AND state = 'deferred' AND reason = ?`,
    ),
    recover: db
      .prepare(
        `UPDATE send_ledger SET state = ?, detail = ?, reason = ?, retry_at = ?, deferrals = deferrals + ?,
           updated_at = ? WHERE workspace_id = ? AND campaign_id = ? AND state = 'sending' RETURNING recipient`,
      )
      .pluck(),
    counts: db.prepare(
      'SELECT state, count(*) AS n FROM send_ledger WHERE workspace_id = ? AND campaign_id = ? GROUP BY state',
    ),
  }
  // The writes of concurrent sends share a commit; reads go straight to the database (a send
  // awaits its own writes before it reads again, so it sees them).
  const group = new GroupCommit(db)
  return {
    insert(key, email, messageId, m, now) {
      const args = [...keyOf(key), email, m.state, messageId, m.detail, m.reason, m.retryAt, m.deferral, now]
      return group.run(() => s.insert.run(...args).changes === 1)
    },
    move(key, from, m, now) {
      const set = [m.state, m.detail, m.reason, m.retryAt, m.deferral, now]
      return group.run(() => s.move.run(...set, ...keyOf(key), JSON.stringify(from)).changes)
    },
    async attempt(key, from, now) {
      await group.run(() => s.attempt.run(now, ...keyOf(key), JSON.stringify(from)))
    },
    async get(key) {
      const row = s.get.get(...keyOf(key)) as LedgerRow | undefined
      return row && entryOf(row)
    },
    async page(ws, campaign, p) {
      const state = p.state ?? null
      const due = p.dueBy ?? null
      const rows = s.page.all(ws, campaign, state, state, p.after ?? '', due, due, p.limit) as LedgerRow[]
      return rows.map(entryOf)
    },
    async handled(ws, campaign, recipients) {
      return s.handled.all(ws, campaign, JSON.stringify(recipients)) as string[]
    },
    async addressTaken(key, email, states) {
      return (
        s.addressTaken.get(key.workspaceId, key.campaignId, email, key.recipient, JSON.stringify(states)) !==
        undefined
      )
    },
    async nextRetryAt(ws, campaign) {
      const at = s.nextRetryAt.get(ws, campaign) as number | null
      return at ?? undefined
    },
    async deferredFor(ws, campaign, reason) {
      return s.deferredFor.get(ws, campaign, reason) as { n: number; last: number | null }
    },
    async recover(ws, campaign, m, now) {
      return s.recover.all(m.state, m.detail, m.reason, m.retryAt, m.deferral, now, ws, campaign) as string[]
    },
    async counts(ws, campaign) {
      return s.counts.all(ws, campaign) as { state: SendState; n: number }[]
    },
  }
}

export class SqliteSendLedger extends LedgerCore {
  constructor(db: SqliteDatabase, opts: { clock?: Clock; failpoints?: Failpoints } = {}) {
    migrate(db, 'sqlite-send-ledger', MIGRATIONS)
    super(sqliteLedgerSql(db), opts.clock ?? systemClock, opts.failpoints)
  }
}
