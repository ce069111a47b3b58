/**
 * Finishes erasures that a crash (or a failed log erasure) interrupted between the store's
 * transaction and the deletion of the person's copies in the event log. The store's transaction
 * writes the audit entry with `log: 'pending'`; the DELETE route then deletes the log's copies and
 * completes the entry (`erased`, with the count, or `retention` where the log cannot delete).
 * Without this, a process killed in between left the person's raw events in the SQLite log until
 * its retention, an audit entry that could not tell that apart from Kafka's, and no way to ask again
 * (a second DELETE answers 404: the profile is gone).
 *
 * The store keeps no ids after an erasure, only their hashes (the tombstones), so the log's copies
 * are found by hashing each event's ids as the scan reaches them (SqliteEventLog.eraseEventsByHash).
 * It runs once when the process starts and then every `intervalMs` for entries older than `graceMs`;
 * an erasure this process is still carrying out is never taken over (`inFlight`).
 */
import type { Clock } from '../core/types.ts'
import type { PrivacyStore } from './privacy-store.ts'

export interface ErasureResumeDeps {
  privacy: Pick<PrivacyStore, 'pendingErasures' | 'completeAudit'>
  /** Deletes the log's events of these identity hashes; undefined where the log cannot delete (Kafka). */
  eraseLogEventsByHash: ((workspaceId: string, idHashes: readonly string[]) => Promise<number>) | undefined
  logger: {
    info(obj: object, msg: string): void
    warn(obj: object, msg: string): void
    error(obj: object, msg: string): void
  }
  clock: Clock
}

/** Audit ids of the erasures this process's routes are still carrying out. */
export class ErasuresInFlight {
  readonly #ids = new Set<number>()

  async around<T>(auditId: number, fn: () => Promise<T>): Promise<T> {
    this.#ids.add(auditId)
    try {
      return await fn()
    } finally {
      this.#ids.delete(auditId)
    }
  }

  has(auditId: number): boolean {
    return this.#ids.has(auditId)
  }
}

/**
 * Finishes every pending erasure audited at or before `before` (not in flight here); answers how
 * many this call completed. One that fails is logged and left pending for the next run; the rest go
 * on (one erasure the log keeps refusing must not hold back everyone audited after it). One that
 * its route (or another process) completed meanwhile keeps what that wrote.
 */
export async function resumeErasures(
  deps: ErasureResumeDeps,
  before: number,
  inFlight: ErasuresInFlight,
): Promise<number> {
  let done = 0
  for (const p of await deps.privacy.pendingErasures(before)) {
    if (inFlight.has(p.auditId)) continue
    const fields = { 'inkstream.audit_id': p.auditId, 'inkstream.workspace': p.workspaceId }
    try {
      const logEvents = deps.eraseLogEventsByHash
        ? await deps.eraseLogEventsByHash(p.workspaceId, p.idHashes)
        : null
      const details = { ...p.details, logEvents, log: logEvents === null ? 'retention' : 'erased' }
      if (await deps.privacy.completeAudit(p.auditId, details)) {
        deps.logger.info({ ...fields, removed: details }, 'interrupted erasure finished')
        done++
      } else deps.logger.warn(fields, 'interrupted erasure was finished meanwhile by another; its entry kept')
    } catch (err) {
      deps.logger.error({ ...fields, err }, 'finishing an interrupted erasure failed; trying again later')
    }
  }
  return done
}

/**
 * Runs resumeErasures at once (every pending entry: none can be in flight before the routes serve),
 * then every `intervalMs` for entries older than `graceMs` (one still being carried out by another
 * process of the deployment is younger). A failure is logged and tried again at the next run.
 */
export function startErasureResume(
  deps: ErasureResumeDeps,
  inFlight: ErasuresInFlight,
  opts: { intervalMs?: number; graceMs?: number } = {},
): { first: Promise<void>; close(): Promise<void> } {
  const intervalMs = opts.intervalMs ?? 60_000
  const graceMs = opts.graceMs ?? 10 * 60_000
  let running: Promise<void> = Promise.resolve()
  const run = (before: number) => {
    running = running.then(async () => {
      try {
        await resumeErasures(deps, before, inFlight)
      } catch (err) {
        deps.logger.error({ err }, 'finishing interrupted erasures failed; trying again later')
      }
    })
    return running
  }
  const first = run(deps.clock.now())
  const timer = setInterval(() => void run(deps.clock.now() - graceMs), intervalMs)
  timer.unref()
  return {
    first,
    async close() {
      clearInterval(timer)
      await running
    },
  }
}
