/**
 * The embedded SendLedger: one table. `claim` is a single INSERT … ON CONFLICT DO NOTHING, so two
 * runners racing for a recipient cannot both win. It does not own the database.
 */

import { InkError } from '../core/errors.ts'
import { type Failpoints, noFailpoints } from '../core/failpoints.ts'
import { type Clock, systemClock } from '../core/types.ts'
import { migrate, type SqliteDatabase } from '../db/sqlite.ts'
import {
  emptyCounts,
  type FinalState,
  type LedgerEntry,
  type LedgerKey,
  type SendLedger,
  type SendState,
  type StateCounts,
} from './send-ledger.ts'

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
]

interface Row {
  workspace_id: string
  campaign_id: string
  recipient: string
  email: string
  state: SendState
  message_id: string
  attempts: number
  detail: string | null
  updated_at: number
}

const toEntry = (r: Row): LedgerEntry => ({
  workspaceId: r.workspace_id,
  campaignId: r.campaign_id,
  recipient: r.recipient,
  email: r.email,
  state: r.state,
  messageId: r.message_id,
  attempts: r.attempts,
  detail: r.detail,
  updatedAt: r.updated_at,
})

const COLUMNS = 'workspace_id, campaign_id, recipient, email, state, message_id, attempts, detail, updated_at'
const KEY = 'workspace_id = ? AND campaign_id = ? AND recipient = ?'

export class SqliteSendLedger implements SendLedger {
  readonly #clock: Clock
  readonly #stmts
  #closed = false

  readonly #failpoints: Failpoints

  constructor(db: SqliteDatabase, opts: { clock?: Clock; failpoints?: Failpoints } = {}) {
    this.#clock = opts.clock ?? systemClock
    this.#failpoints = opts.failpoints ?? noFailpoints
    migrate(db, 'sqlite-send-ledger', MIGRATIONS)
    this.#stmts = {
      insert: db.prepare(
        `INSERT INTO send_ledger (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      attempt: db.prepare(
        `UPDATE send_ledger SET attempts = attempts + 1, updated_at = ? WHERE ${KEY} AND state = 'sending'`,
      ),
      finish: db.prepare(
        `UPDATE send_ledger SET state = ?, detail = ?, updated_at = ? WHERE ${KEY} AND state = 'sending'`,
      ),
      get: db.prepare(`SELECT ${COLUMNS} FROM send_ledger WHERE ${KEY}`),
      list: db.prepare(
        `SELECT ${COLUMNS} FROM send_ledger WHERE workspace_id = ? AND campaign_id = ? ORDER BY recipient`,
      ),
      recover: db
        .prepare(
          `UPDATE send_ledger SET state = 'unknown', updated_at = ?,
             detail = 'interrupted between claim and the transport answer; not resent'
           WHERE workspace_id = ? AND campaign_id = ? AND state = 'sending'
           RETURNING recipient`,
        )
        .pluck(),
      counts: db.prepare(
        'SELECT state, count(*) AS n FROM send_ledger WHERE workspace_id = ? AND campaign_id = ? GROUP BY state',
      ),
      addressTaken: db.prepare(
        `SELECT 1 FROM send_ledger INDEXED BY send_ledger_by_email_state
         WHERE workspace_id = ? AND campaign_id = ? AND email = ? AND recipient <> ?
         AND state IN ('sending', 'sent', 'unknown') LIMIT 1`,
      ),
    }
  }

  #open(): void {
    if (this.#closed) throw new InkError('INK_ERR_INTERNAL', 'the send ledger is closed')
  }

  async claim(key: LedgerKey, email: string, messageId: string): Promise<boolean> {
    const claimed = await this.#insert(key, email, messageId, 'sending', null)
    if (claimed) await this.#failpoints.hit('ledger.after-claim')
    return claimed
  }

  async record(
    key: LedgerKey,
    email: string,
    messageId: string,
    state: FinalState,
    detail?: string,
  ): Promise<boolean> {
    return this.#insert(key, email, messageId, state, detail ?? null)
  }

  #insert(key: LedgerKey, email: string, messageId: string, state: SendState, detail: string | null) {
    this.#open()
    const { workspaceId, campaignId, recipient } = key
    const { changes } = this.#stmts.insert.run(
      workspaceId,
      campaignId,
      recipient,
      email,
      state,
      messageId,
      detail,
      this.#clock.now(),
    )
    return changes === 1
  }

  async attempt(key: LedgerKey): Promise<void> {
    this.#open()
    this.#stmts.attempt.run(this.#clock.now(), key.workspaceId, key.campaignId, key.recipient)
  }

  async finish(key: LedgerKey, state: FinalState, detail?: string): Promise<void> {
    await this.#failpoints.hit('ledger.before-record')
    this.#open()
    const { changes } = this.#stmts.finish.run(
      state,
      detail ?? null,
      this.#clock.now(),
      key.workspaceId,
      key.campaignId,
      key.recipient,
    )
    if (changes !== 1)
      throw new InkError(
        'INK_ERR_INTERNAL',
        `no claimed send for "${key.recipient}" in campaign "${key.campaignId}"; finish needs a claim`,
      )
  }

  async addressTaken(key: LedgerKey, email: string): Promise<boolean> {
    this.#open()
    return this.#stmts.addressTaken.get(key.workspaceId, key.campaignId, email, key.recipient) !== undefined
  }

  async get(key: LedgerKey): Promise<LedgerEntry | undefined> {
    this.#open()
    const row = this.#stmts.get.get(key.workspaceId, key.campaignId, key.recipient) as Row | undefined
    return row && toEntry(row)
  }

  async list(workspaceId: string, campaignId: string): Promise<LedgerEntry[]> {
    this.#open()
    return (this.#stmts.list.all(workspaceId, campaignId) as Row[]).map(toEntry)
  }

  async recoverInterrupted(workspaceId: string, campaignId: string): Promise<string[]> {
    this.#open()
    return this.#stmts.recover.all(this.#clock.now(), workspaceId, campaignId) as string[]
  }

  async counts(workspaceId: string, campaignId: string): Promise<StateCounts> {
    this.#open()
    const counts = emptyCounts()
    for (const { state, n } of this.#stmts.counts.all(workspaceId, campaignId) as {
      state: SendState
      n: number
    }[])
      counts[state] = n
    return counts
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}
