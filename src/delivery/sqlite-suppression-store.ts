/** The embedded SuppressionStore: one table in the shared SQLite file. It does not own the database. */
import { InkError } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
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
     workspace_id TEXT NOT NULL,
     email TEXT NOT NULL,
     reason TEXT NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained')),
     source TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, email, reason)
   ) WITHOUT ROWID;`,
]

interface Row {
  workspace_id: string
  email: string
  reason: SuppressionReason
  source: string
  created_at: number
}

const toSuppression = (r: Row): Suppression => ({
  workspaceId: r.workspace_id,
  email: r.email,
  reason: r.reason,
  source: r.source,
  createdAt: r.created_at,
})

const COLUMNS = 'workspace_id, email, reason, source, created_at'

export interface SqliteSuppressionStoreOptions {
  clock?: Clock
}

export class SqliteSuppressionStore implements SuppressionStore {
  readonly #clock: Clock
  readonly #stmts
  #closed = false

  constructor(db: SqliteDatabase, opts: SqliteSuppressionStoreOptions = {}) {
    this.#clock = opts.clock ?? systemClock
    migrate(db, 'sqlite-suppression-store', MIGRATIONS)
    const where = 'WHERE workspace_id = ? AND email = ?'
    this.#stmts = {
      insert: db.prepare(
        `INSERT INTO delivery_suppressions (${COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      one: db.prepare(`SELECT ${COLUMNS} FROM delivery_suppressions ${where} AND reason = ?`),
      get: db.prepare(`SELECT ${COLUMNS} FROM delivery_suppressions ${where} ORDER BY reason`),
      exists: db.prepare(`SELECT EXISTS (SELECT 1 FROM delivery_suppressions ${where})`).pluck(),
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
      removeOne: db.prepare(`DELETE FROM delivery_suppressions ${where} AND reason = ?`),
      removeAll: db.prepare(`DELETE FROM delivery_suppressions ${where}`),
    }
  }

  #open(): void {
    if (this.#closed) throw new InkError('INK_ERR_INTERNAL', 'the suppression store is closed')
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
    const { changes } = this.#stmts.insert.run(
      workspaceId,
      key,
      entry.reason,
      entry.source,
      this.#clock.now(),
    )
    const row = this.#stmts.one.get(workspaceId, key, entry.reason) as Row
    return { created: changes === 1, suppression: toSuppression(row) }
  }

  async isSuppressed(workspaceId: string, email: string): Promise<boolean> {
    this.#open()
    const key = normalizeEmail(email)
    return key !== undefined && this.#stmts.exists.get(workspaceId, key) === 1
  }

  async get(workspaceId: string, email: string): Promise<Suppression[]> {
    this.#open()
    const key = normalizeEmail(email)
    if (key === undefined) return []
    return (this.#stmts.get.all(workspaceId, key) as Row[]).map(toSuppression)
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
    const hits = this.#stmts.batch.all(workspaceId, JSON.stringify([...byKey.keys()])) as string[]
    for (const key of hits) for (const email of byKey.get(key) ?? []) result.add(email)
    return result
  }

  async list(workspaceId: string, opts: ListOptions = {}): Promise<Suppression[]> {
    this.#open()
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 100), 1), 1000)
    const rows = this.#stmts.list.all({
      ws: workspaceId,
      // '' sorts before every address, so no `after` means "from the start".
      email: opts.after?.email ?? '',
      reason: opts.after?.reason ?? '',
      only: opts.reason ?? null,
      limit,
    }) as Row[]
    return rows.map(toSuppression)
  }

  async remove(workspaceId: string, email: string, reason?: SuppressionReason): Promise<number> {
    this.#open()
    const key = normalizeEmail(email)
    if (key === undefined) return 0
    const { changes } =
      reason === undefined
        ? this.#stmts.removeAll.run(workspaceId, key)
        : this.#stmts.removeOne.run(workspaceId, key, reason)
    return changes
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}
