/**
 * Group commit for the embedded send ledger: the writes that concurrent sends ask for within one
 * turn of the event loop go into one SQLite transaction, so they share one fsync (at
 * synchronous=FULL every commit is one) instead of paying one each. A campaign keeps up to 8
 * recipients in flight, each with three ledger writes (claim, attempt, finish); on this machine a
 * commit per write was the largest share of a campaign's main thread (issue 14).
 *
 * What a caller sees does not change: its promise settles only after the transaction holding its
 * write has committed (or failed), so a claim is durable before the send it guards, as before. A
 * write that throws (a constraint) rejects alone: SQLite undoes that statement only, the others of
 * the group commit. A group whose transaction finds the database busy past busy_timeout (the
 * processor and the event log write the same file) is tried again BUSY_RETRIES times; a
 * transaction that still cannot start or commit rejects every write of the group, none kept.
 */
import type { SqliteDatabase } from '../db/sqlite.ts'

interface Pending {
  op: () => unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

/** Tries of a group that found the database busy, after the first; a pause between them. */
const BUSY_RETRIES = 3
const BUSY_PAUSE_MS = 50

const isBusy = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && String(Reflect.get(err, 'code')).startsWith('SQLITE_BUSY')

export class GroupCommit {
  #queue: Pending[] = []
  #scheduled = false

  constructor(private readonly db: SqliteDatabase) {}

  /** Runs `op` (synchronous SQL) in the next group's transaction; settles after it committed. */
  run<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, resolve: resolve as (value: unknown) => void, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        // setImmediate, not a microtask: the writes of every send whose reply arrived in this poll
        // phase are queued by then.
        setImmediate(() => this.#flush())
      }
    })
  }

  #flush(attempt = 0): void {
    this.#scheduled = false
    const group = this.#queue
    this.#queue = []
    const results: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = []
    try {
      // IMMEDIATE: the write lock is taken at BEGIN (waiting up to busy_timeout), not at the first
      // write, where a busy database would fail one statement and commit the rest.
      this.db
        .transaction(() => {
          for (const p of group) {
            try {
              results.push({ ok: true, value: p.op() })
            } catch (err) {
              results.push({ ok: false, err })
            }
          }
        })
        .immediate()
    } catch (err) {
      // Busy past busy_timeout (other writers of the same file: the processor, the event log):
      // nothing of the group was written, so it is tried again, first in line, a few times.
      if (isBusy(err) && attempt < BUSY_RETRIES) {
        this.#queue = [...group, ...this.#queue]
        this.#scheduled = true
        setTimeout(() => this.#flush(attempt + 1), BUSY_PAUSE_MS)
        return
      }
      for (const p of group) p.reject(err)
      return
    }
    group.forEach((p, i) => {
      const r = results[i]!
      if (r.ok) p.resolve(r.value)
      else p.reject(r.err)
    })
  }
}
