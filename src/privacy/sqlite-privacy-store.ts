/** The PrivacyStore over the embedded SQLite store file. It does not own the database. */
import type { SqliteDatabase } from '../db/sqlite.ts'
import { type Erasure, erasePlan, type StepResult } from './erasure-plan.ts'
import { migratePrivacy } from './privacy-schema.ts'
import {
  type AuditEntry,
  auditFromRow,
  type PendingErasure,
  type PrivacyStore,
  type SendRow,
  SQL,
  sendFromRow,
  type TriggerJobRow,
  triggerJobFromRow,
} from './privacy-store.ts'

type Row = Record<string, unknown>

/** The pending erasures (the partial index privacy_audit_pending has this predicate). */
export const PENDING_ERASURES_SQLITE = `SELECT id, workspace_id, action, profile_id, actor, at, details FROM privacy_audit
  WHERE action = 'erase' AND at <= ? AND json_extract(details, '$.log') = 'pending' ORDER BY id`

export class SqlitePrivacyStore implements PrivacyStore {
  readonly #db: SqliteDatabase
  readonly #erase

  constructor(db: SqliteDatabase) {
    this.#db = db
    migratePrivacy(db)
    // One IMMEDIATE transaction: the processor's commits (another connection) wait for it, or it for them.
    this.#erase = db.transaction(
      (ws: string, profileId: string, now: number, actor: string): Erasure | undefined => {
        const plan = erasePlan(ws, profileId, now, actor)
        let step = plan.next(0)
        while (!step.done) {
          const s = step.value
          const stmt = db.prepare(s.sql)
          const out: StepResult =
            s.kind === 'all' ? (stmt.all(...s.params) as Row[]) : stmt.run(...s.params).changes
          step = plan.next(out)
        }
        return step.value
      },
    )
  }

  async erase(
    workspaceId: string,
    profileId: string,
    now: number,
    actor: string,
  ): Promise<Erasure | undefined> {
    return this.#erase.immediate(workspaceId, profileId, now, actor)
  }

  async completeAudit(id: number, details: AuditEntry['details']): Promise<boolean> {
    const sql = `UPDATE privacy_audit SET details = ? WHERE id = ? AND json_extract(details, '$.log') = 'pending'`
    return this.#db.prepare(sql).run(JSON.stringify(details), id).changes === 1
  }

  async pendingErasures(before: number): Promise<PendingErasure[]> {
    const rows = this.#db.prepare(PENDING_ERASURES_SQLITE).all(before) as Row[]
    const hashes = this.#db.prepare(SQL.erasureHashes).pluck()
    return rows.map(auditFromRow).map((e) => ({
      auditId: e.id,
      workspaceId: e.workspaceId,
      at: e.at,
      details: e.details,
      idHashes: hashes.all(e.workspaceId, e.at) as string[],
    }))
  }

  async triggerJobsOf(workspaceId: string, profileId: string): Promise<TriggerJobRow[]> {
    return (this.#db.prepare(SQL.triggerJobs).all(workspaceId, profileId) as Row[]).map(triggerJobFromRow)
  }

  async sendsTo(workspaceId: string, ids: readonly string[]): Promise<SendRow[]> {
    if (ids.length === 0) return []
    return (this.#db.prepare(SQL.sends(ids.length)).all(workspaceId, ...ids) as Row[]).map(sendFromRow)
  }

  async audit(e: Omit<AuditEntry, 'id'>): Promise<AuditEntry> {
    const row = this.#db
      .prepare(SQL.audit)
      .get(e.workspaceId, e.action, e.profileId, e.actor, e.at, JSON.stringify(e.details)) as { id: number }
    return { id: row.id, ...e }
  }

  async auditPage(
    workspaceId: string,
    opts: { before?: number | undefined; limit: number },
  ): Promise<AuditEntry[]> {
    const before = opts.before ?? Number.MAX_SAFE_INTEGER
    return (this.#db.prepare(SQL.auditPage).all(workspaceId, before, opts.limit) as Row[]).map(auditFromRow)
  }

  async close(): Promise<void> {}
}
