/** The SuppressionStore over PostgreSQL: one table. It does not own the pool. */
import { InkError } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import { migratePg, type PgPool, toInt } from '../db/pg.ts'
import {
  type ListOptions,
  normalizeEmail,
  SUPPRESSION_REASONS,
  type Suppression,
  type SuppressionReason,
  type SuppressionStore,
} from './suppression-store.ts'

const MIGRATIONS = [
  `CREATE TABLE delivery_suppressions (
     workspace_id text COLLATE "C" NOT NULL,
     email text COLLATE "C" NOT NULL,
     reason text COLLATE "C" NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained')),
     source text NOT NULL,
     created_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, email, reason)
   );`,
]

interface Row {
  workspace_id: string
  email: string
  reason: SuppressionReason
  source: string
  created_at: string
}

const toSuppression = (r: Row): Suppression => ({
  workspaceId: r.workspace_id,
  email: r.email,
  reason: r.reason,
  source: r.source,
  createdAt: toInt(r.created_at),
})

const COLUMNS = 'workspace_id, email, reason, source, created_at'
const WHERE = 'WHERE workspace_id = $1 AND email = $2'

export class PgSuppressionStore implements SuppressionStore {
  readonly #pool: PgPool
  readonly #clock: Clock
  readonly #ready: Promise<void>
  #closed = false

  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    this.#pool = pool
    this.#clock = opts.clock ?? systemClock
    this.#ready = migratePg(pool, 'pg-suppression-store', MIGRATIONS)
    this.#ready.catch(() => {})
  }

  /** Resolves once the table exists; every method waits for it too. */
  ready(): Promise<void> {
    return this.#ready
  }

  #open(): void {
    if (this.#closed) throw new InkError('INK_ERR_INTERNAL', 'the suppression store is closed')
  }

  async #query<R extends object>(text: string, values: unknown[]): Promise<{ rows: R[]; count: number }> {
    this.#open()
    await this.#ready
    const { rows, rowCount } = await this.#pool.query<R>(text, values)
    return { rows, count: rowCount ?? 0 }
  }

  async suppress(
    workspaceId: string,
    email: string,
    entry: { reason: SuppressionReason; source: string },
  ): Promise<{ created: boolean; suppression: Suppression }> {
    this.#open()
    const key = normalizeEmail(email)
    if (key === undefined)
      throw new InkError('INK_ERR_BAD_REQUEST', `"${email}" is not an email address; nothing was suppressed`)
    if (!SUPPRESSION_REASONS.includes(entry.reason))
      throw new InkError('INK_ERR_BAD_REQUEST', `unknown suppression reason "${entry.reason}"`)
    const inserted = await this.#query(
      `INSERT INTO delivery_suppressions (${COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [workspaceId, key, entry.reason, entry.source, this.#clock.now()],
    )
    // A conflicting insert is committed by the time ON CONFLICT returns, so this finds a row.
    const { rows } = await this.#query<Row>(
      `SELECT ${COLUMNS} FROM delivery_suppressions ${WHERE} AND reason = $3`,
      [workspaceId, key, entry.reason],
    )
    return { created: inserted.count === 1, suppression: toSuppression(rows[0]!) }
  }

  async isSuppressed(workspaceId: string, email: string): Promise<boolean> {
    this.#open()
    const key = normalizeEmail(email)
    if (key === undefined) return false
    const { count } = await this.#query(`SELECT 1 FROM delivery_suppressions ${WHERE} LIMIT 1`, [
      workspaceId,
      key,
    ])
    return count > 0
  }

  async get(workspaceId: string, email: string): Promise<Suppression[]> {
    this.#open()
    const key = normalizeEmail(email)
    if (key === undefined) return []
    const { rows } = await this.#query<Row>(
      `SELECT ${COLUMNS} FROM delivery_suppressions ${WHERE} ORDER BY reason`,
      [workspaceId, key],
    )
    return rows.map(toSuppression)
  }

  async suppressed(workspaceId: string, emails: readonly string[]): Promise<Set<string>> {
    this.#open()
    const byKey = new Map<string, string[]>()
    for (const email of emails) {
      const key = normalizeEmail(email)
      if (key === undefined) continue
      const same = byKey.get(key)
      if (same) same.push(email)
      else byKey.set(key, [email])
    }
    const result = new Set<string>()
    if (byKey.size === 0) return result
    // One statement for any audience size: the addresses travel as one array parameter.
    const { rows } = await this.#query<{ email: string }>(
      `SELECT DISTINCT email FROM delivery_suppressions WHERE workspace_id = $1 AND email = ANY($2::text[])`,
      [workspaceId, [...byKey.keys()]],
    )
    for (const { email: key } of rows) for (const email of byKey.get(key) ?? []) result.add(email)
    return result
  }

  async list(workspaceId: string, opts: ListOptions = {}): Promise<Suppression[]> {
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 100), 1), 1000)
    const { rows } = await this.#query<Row>(
      `SELECT ${COLUMNS} FROM delivery_suppressions
       WHERE workspace_id = $1 AND (email, reason) > ($2, $3)
         AND ($4::text IS NULL OR reason = $4::text)
       ORDER BY email, reason LIMIT $5`,
      // '' sorts before every address, so no `after` means "from the start".
      [workspaceId, opts.after?.email ?? '', opts.after?.reason ?? '', opts.reason ?? null, limit],
    )
    return rows.map(toSuppression)
  }

  async remove(workspaceId: string, email: string, reason?: SuppressionReason): Promise<number> {
    this.#open()
    const key = normalizeEmail(email)
    if (key === undefined) return 0
    const { count } =
      reason === undefined
        ? await this.#query(`DELETE FROM delivery_suppressions ${WHERE}`, [workspaceId, key])
        : await this.#query(`DELETE FROM delivery_suppressions ${WHERE} AND reason = $3`, [
            workspaceId,
            key,
            reason,
          ])
    return count
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}
