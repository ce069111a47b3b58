/** The PrivacyStore over PostgreSQL: one transaction per erasure. It does not own the pool. */
import type { PgPool } from '../db/pg.ts'
import { PgStore } from '../db/pg-store.ts'
import { type Erasure, erasePlan, type StepResult } from './erasure-plan.ts'
import { migratePgPrivacy, TOMBSTONE_LOCK } from './privacy-schema.ts'
import {
  type AuditEntry,
  auditFromRow,
  numbered,
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
export const PENDING_ERASURES_PG = `SELECT id, workspace_id, action, profile_id, actor, at, details FROM privacy_audit
  WHERE action = 'erase' AND at <= $1 AND details->>'log' = 'pending' ORDER BY id`

export class PgPrivacyStore extends PgStore implements PrivacyStore {
  constructor(pool: PgPool) {
    super(pool, migratePgPrivacy)
  }

  async erase(
    workspaceId: string,
    profileId: string,
    now: number,
    actor: string,
  ): Promise<Erasure | undefined> {
    return this.transaction(async (client) => {
      // Exclusive against processors' commits (they take it shared): a batch that read the profile
      // before this erasure either commits first (and is erased with it) or sees the tombstone.
      await client.query(`SELECT pg_advisory_xact_lock(${TOMBSTONE_LOCK})`)
      const plan = erasePlan(workspaceId, profileId, now, actor)
      let step = plan.next(0)
      while (!step.done) {
        const s = step.value
        const res = await client.query(numbered(s.sql), s.params)
        const out: StepResult = s.kind === 'all' ? (res.rows as Row[]) : (res.rowCount ?? 0)
        step = plan.next(out)
      }
      return step.value
    })
  }

  async completeAudit(id: number, details: AuditEntry['details']): Promise<boolean> {
    const { count } = await this.query(
      `UPDATE privacy_audit SET details = $1 WHERE id = $2 AND details->>'log' = 'pending'`,
      [JSON.stringify(details), id],
    )
    return count === 1
  }

  async pendingErasures(before: number): Promise<PendingErasure[]> {
    const { rows } = await this.query<Row>(PENDING_ERASURES_PG, [before])
    const out: PendingErasure[] = []
    for (const e of rows.map(auditFromRow)) {
      const hashes = await this.query<{ id_hash: string }>(numbered(SQL.erasureHashes), [e.workspaceId, e.at])
      out.push({
        auditId: e.id,
        workspaceId: e.workspaceId,
        at: e.at,
        details: e.details,
        idHashes: hashes.rows.map((r) => r.id_hash),
      })
    }
    return out
  }

  async triggerJobsOf(workspaceId: string, profileId: string): Promise<TriggerJobRow[]> {
    const { rows } = await this.query<Row>(numbered(SQL.triggerJobs), [workspaceId, profileId])
    return rows.map(triggerJobFromRow)
  }

  async sendsTo(workspaceId: string, ids: readonly string[]): Promise<SendRow[]> {
    if (ids.length === 0) return []
    const { rows } = await this.query<Row>(numbered(SQL.sends(ids.length)), [workspaceId, ...ids])
    return rows.map(sendFromRow)
  }

  async audit(e: Omit<AuditEntry, 'id'>): Promise<AuditEntry> {
    const { rows } = await this.query<{ id: string }>(numbered(SQL.audit), [
      e.workspaceId,
      e.action,
      e.profileId,
      e.actor,
      e.at,
      JSON.stringify(e.details),
    ])
    return { id: Number(rows[0]!.id), ...e }
  }

  async auditPage(
    workspaceId: string,
    opts: { before?: number | undefined; limit: number },
  ): Promise<AuditEntry[]> {
    const before = opts.before ?? Number.MAX_SAFE_INTEGER
    const { rows } = await this.query<Row>(numbered(SQL.auditPage), [workspaceId, before, opts.limit])
    return rows.map(auditFromRow)
  }
}
