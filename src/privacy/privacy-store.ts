/**
 * The privacy seam (GDPR Art. 17 and 20): an erasure in one store transaction (erasure-plan.ts), the
 * rows an export needs that no other store reads by person (trigger jobs, send-ledger rows), and the
 * durable audit of both. Implementations: SqlitePrivacyStore, PgPrivacyStore (beside this file).
 */
import type { Erasure } from './erasure-plan.ts'

export type { Erasure }

export type AuditAction = 'erase' | 'export'

export interface AuditEntry {
  id: number
  workspaceId: string
  action: AuditAction
  /** The profile's opaque id (a random UUID): never the userId or address of the person. */
  profileId: string
  /** Who asked: `admin-key:<first 12 hex of the key's SHA-256>` or `dashboard`. */
  actor: string
  at: number
  /** What was removed (erase: counts per table) or how much was exported (export: counts per section). */
  details: Record<string, number | string | null>
}

/**
 * Where an erasure's copies in the event log stand, in its audit entry's `log` (with `logEvents`, the
 * number deleted there):
 * - `pending`: written with the erasure's transaction, until the log's copies are dealt with (a
 *   crash in between leaves it so; resumeErasures finishes it: see erasure-resume.ts);
 * - `erased`: the log's copies were deleted (the embedded SQLite log), `logEvents` of them;
 * - `retention`: the log cannot delete records (Kafka): they stay until the topic's retention.
 */
export type LogErasure = 'pending' | 'erased' | 'retention'

/** An erasure whose log copies are still `pending`, with the hashes of its identities (its tombstones). */
export interface PendingErasure {
  auditId: number
  workspaceId: string
  at: number
  details: AuditEntry['details']
  idHashes: string[]
}

export interface TriggerJobRow {
  jobId: string
  triggerId: string
  state: string
  eventAt: number
  dueAt: number
  sentAt: number | null
  createdAt: number
}

export interface SendRow {
  campaignId: string
  recipient: string
  email: string
  state: string
  updatedAt: number
}

export interface PrivacyStore {
  /**
   * Erases the profile in one transaction, with its audit entry (action `erase`, by `actor`, details
   * the counts removed, `logEvents: null` and `log: 'pending'` until completeAudit): an erasure is never committed
   * without its audit row. Undefined (nothing changed, nothing audited) when the workspace has no
   * such profile.
   */
  erase(workspaceId: string, profileId: string, now: number, actor: string): Promise<Erasure | undefined>
  /**
   * Replaces the details of an erasure's audit entry once what follows its transaction is done, only
   * while it is still `log: 'pending'`: the first to finish it (its route, or erasure-resume.ts after
   * a crash) is what the entry says. Answers whether this call completed it.
   */
  completeAudit(id: number, details: AuditEntry['details']): Promise<boolean>
  /** Erasures audited at or before `before` whose log copies are still `pending`, oldest first. */
  pendingErasures(before: number): Promise<PendingErasure[]>
  /** Every trigger job of the profile, oldest first. */
  triggerJobsOf(workspaceId: string, profileId: string): Promise<TriggerJobRow[]>
  /** Send-ledger rows whose recipient is one of `ids`, oldest first. */
  sendsTo(workspaceId: string, ids: readonly string[]): Promise<SendRow[]>
  audit(entry: Omit<AuditEntry, 'id'>): Promise<AuditEntry>
  /** Audit entries of a workspace, newest first, with an id below `before` when given. */
  auditPage(workspaceId: string, opts: { before?: number | undefined; limit: number }): Promise<AuditEntry[]>
  close(): Promise<void>
}

type Row = Record<string, unknown>

export const triggerJobFromRow = (r: Row): TriggerJobRow => ({
  jobId: String(r.job_id),
  triggerId: String(r.trigger_id),
  state: String(r.state),
  eventAt: Number(r.event_at),
  dueAt: Number(r.due_at),
  sentAt: r.sent_at === null ? null : Number(r.sent_at),
  createdAt: Number(r.created_at),
})

export const sendFromRow = (r: Row): SendRow => ({
  campaignId: String(r.campaign_id),
  recipient: String(r.recipient),
  email: String(r.email),
  state: String(r.state),
  updatedAt: Number(r.updated_at),
})

export const auditFromRow = (r: Row): AuditEntry => ({
  id: Number(r.id),
  workspaceId: String(r.workspace_id),
  action: r.action === 'erase' ? 'erase' : 'export',
  profileId: String(r.profile_id),
  actor: String(r.actor),
  at: Number(r.at),
  details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as AuditEntry['details'],
})

/** The SQL both stores share (`?` placeholders; PostgreSQL's store numbers them). */
export const SQL = {
  triggerJobs: `SELECT job_id, trigger_id, state, event_at, due_at, sent_at, created_at FROM trigger_jobs
    WHERE workspace_id = ? AND profile_id = ? ORDER BY created_at, job_id`,
  sends: (n: number) => `SELECT campaign_id, recipient, email, state, updated_at FROM send_ledger
    WHERE workspace_id = ? AND recipient IN (${Array.from({ length: n }, () => '?').join(', ')})
    ORDER BY updated_at, campaign_id`,
  audit: `INSERT INTO privacy_audit (workspace_id, action, profile_id, actor, at, details)
    VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
  /** The tombstones an erasure wrote: same workspace, same time (erasure-plan.ts writes both with `now`). */
  erasureHashes: `SELECT id_hash FROM privacy_tombstones WHERE workspace_id = ? AND erased_at = ? ORDER BY seq`,
  auditPage: `SELECT id, workspace_id, action, profile_id, actor, at, details FROM privacy_audit
    WHERE workspace_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
}

/** `?` → `$1, $2, …` for PostgreSQL. */
export const numbered = (sql: string): string => {
  let i = 0
  return sql.replace(/\?/g, () => `$${++i}`)
}
