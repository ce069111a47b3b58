/**
 * The SendLedger over PostgreSQL, for runners in several processes. `claim` is one
 * INSERT … ON CONFLICT DO NOTHING: of two runners racing for a recipient, exactly one inserts the
 * row (the other's insert waits for it and then does nothing), so only one sends. It does not
 * own the pool.
 */

import { InkError } from '../core/errors.ts'
import { type Failpoints, noFailpoints } from '../core/failpoints.ts'
import { type Clock, systemClock } from '../core/types.ts'
import { migratePg, type PgPool, toInt } from '../db/pg.ts'
import { ownerGone, type ProcessOwner } from '../db/pg-lease.ts'
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
  updated_at: string
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
  updatedAt: toInt(r.updated_at),
})

const COLUMNS = 'workspace_id, campaign_id, recipient, email, state, message_id, attempts, detail, updated_at'
const KEY = 'workspace_id = $1 AND campaign_id = $2 AND recipient = $3'

export class PgSendLedger implements SendLedger {
  readonly #pool: PgPool
  readonly #clock: Clock
  readonly #ready: Promise<void>
  #closed = false

  readonly #owner: string | null

  /**
   * `owner`: this process's lease. Its key is stamped on every claim, and recoverInterrupted then
   * leaves alone the rows of processes still alive. Without one (a single sender), every row left
   * `sending` counts as interrupted.
   */
  readonly #failpoints: Failpoints

  constructor(pool: PgPool, opts: { clock?: Clock; owner?: ProcessOwner; failpoints?: Failpoints } = {}) {
    this.#pool = pool
    this.#failpoints = opts.failpoints ?? noFailpoints
    this.#clock = opts.clock ?? systemClock
    this.#owner = opts.owner?.key ?? null
    this.#ready = migratePg(pool, 'pg-send-ledger', MIGRATIONS)
    this.#ready.catch(() => {})
  }

  /** Resolves once the table exists; every method waits for it too. */
  ready(): Promise<void> {
    return this.#ready
  }

  async #query<R extends object>(text: string, values: unknown[]): Promise<{ rows: R[]; count: number }> {
    if (this.#closed) throw new InkError('INK_ERR_INTERNAL', 'the send ledger is closed')
    await this.#ready
    const { rows, rowCount } = await this.#pool.query<R>(text, values)
    return { rows, count: rowCount ?? 0 }
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

  async #insert(key: LedgerKey, email: string, messageId: string, state: SendState, detail: string | null) {
    const { count } = await this.#query(
      `INSERT INTO send_ledger (${COLUMNS}, owner_key) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)
       ON CONFLICT DO NOTHING`,
      [
        key.workspaceId,
        key.campaignId,
        key.recipient,
        email,
        state,
        messageId,
        detail,
        this.#clock.now(),
        state === 'sending' ? this.#owner : null,
      ],
    )
    return count === 1
  }

  async attempt(key: LedgerKey): Promise<void> {
    await this.#query(
      `UPDATE send_ledger SET attempts = attempts + 1, updated_at = $4 WHERE ${KEY} AND state = 'sending'`,
      [key.workspaceId, key.campaignId, key.recipient, this.#clock.now()],
    )
  }

  async finish(key: LedgerKey, state: FinalState, detail?: string): Promise<void> {
    await this.#failpoints.hit('ledger.before-record')
    const { count } = await this.#query(
      `UPDATE send_ledger SET state = $4, detail = $5, updated_at = $6 WHERE ${KEY} AND state = 'sending'`,
      [key.workspaceId, key.campaignId, key.recipient, state, detail ?? null, this.#clock.now()],
    )
    if (count !== 1)
      throw new InkError(
        'INK_ERR_INTERNAL',
        `no claimed send for "${key.recipient}" in campaign "${key.campaignId}"; finish needs a claim`,
      )
  }

  async addressTaken(key: LedgerKey, email: string): Promise<boolean> {
    const { count } = await this.#query(
      `SELECT 1 FROM send_ledger WHERE workspace_id = $1 AND campaign_id = $2 AND email = $3 AND recipient <> $4
       AND state IN ('sending', 'sent', 'unknown') LIMIT 1`,
      [key.workspaceId, key.campaignId, email, key.recipient],
    )
    return count > 0
  }

  async get(key: LedgerKey): Promise<LedgerEntry | undefined> {
    const { rows } = await this.#query<Row>(`SELECT ${COLUMNS} FROM send_ledger WHERE ${KEY}`, [
      key.workspaceId,
      key.campaignId,
      key.recipient,
    ])
    return rows[0] && toEntry(rows[0])
  }

  async list(workspaceId: string, campaignId: string): Promise<LedgerEntry[]> {
    const { rows } = await this.#query<Row>(
      `SELECT ${COLUMNS} FROM send_ledger WHERE workspace_id = $1 AND campaign_id = $2 ORDER BY recipient`,
      [workspaceId, campaignId],
    )
    return rows.map(toEntry)
  }

  async recoverInterrupted(workspaceId: string, campaignId: string): Promise<string[]> {
    const { rows } = await this.#query<{ recipient: string }>(
      `WITH r AS (
         UPDATE send_ledger SET state = 'unknown', updated_at = $3,
           detail = 'interrupted between claim and the transport answer; not resent'
         WHERE workspace_id = $1 AND campaign_id = $2 AND state = 'sending' AND ${ownerGone('owner_key')}
         RETURNING recipient)
       SELECT recipient FROM r ORDER BY recipient`,
      [workspaceId, campaignId, this.#clock.now()],
    )
    return rows.map((r) => r.recipient)
  }

  async counts(workspaceId: string, campaignId: string): Promise<StateCounts> {
    const { rows } = await this.#query<{ state: SendState; n: string }>(
      `SELECT state, count(*) AS n FROM send_ledger WHERE workspace_id = $1 AND campaign_id = $2
       GROUP BY state`,
      [workspaceId, campaignId],
    )
    const counts = emptyCounts()
    for (const { state, n } of rows) counts[state] = toInt(n)
    return counts
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}
