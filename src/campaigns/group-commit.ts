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
 * the group commit.
 *
 * The write lock is waited for without blocking the event loop. The processor and the analytics
 * consumer commit to the same file from their threads; SQLite's own busy handler would sleep in
 * this thread (1, 2, 5, 10 … ms) until the lock is free, and in a campaign that was a third of the
 * main thread's time (docs/benchmarks.md, "Fourth run"). So each try runs with busy_timeout 0, and a
 * group that finds the database busy is tried again after a short timer, first in line, until the
 * connection's own busy_timeout (plus BUSY_RETRIES × BUSY_PAUSE_MS) has passed since its first try;
 * then every write of the group is rejected, none kept.
 */
import type { SqliteDatabase } from '../db/sqlite.ts'

interface Pending {
  op: () => unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

/** What a busy group waits beyond the connection's busy_timeout before it gives up. */
const BUSY_RETRIES = 3
const BUSY_PAUSE_MS = 50
/** The pause between two tries of a busy group: the first, doubling up to the last. */
const RETRY_FIRST_MS = 1
const RETRY_MAX_MS = 8

const isBusy = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && String(Reflect.get(err, 'code')).startsWith('SQLITE_BUSY')

export class GroupCommit {
  #queue: Pending[] = []
  #scheduled = false
  /** The connection's own busy_timeout (read once): the budget of a busy group, restored after each try. */
  readonly #budgetMs: number

  constructor(private readonly db: SqliteDatabase) {
    this.#budgetMs = Number(db.pragma('busy_timeout', { simple: true })) || 0
  }

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

  /** `since`: when the group was first tried (performance.now()); `pause`: the next pause if busy. */
  #flush(since?: number, pause = RETRY_FIRST_MS): void {
    this.#scheduled = false
    const group = this.#queue
    this.#queue = []
    const results: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = []
    const started = since ?? performance.now()
    try {
      // The lock is tried, not waited for, in this thread (see above).
      // (exec: PRAGMA busy_timeout acts when compiled, so a statement prepared once would not act again.)
      this.db.exec('PRAGMA busy_timeout = 0')
      // IMMEDIATE: the write lock is taken at BEGIN, not at the first write, where a busy database
      // would fail one statement and commit the rest.
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
      // Busy: nothing of the group was written, so it is tried again, first in line, until its time is up.
      if (isBusy(err) && performance.now() - started < this.#budgetMs + BUSY_RETRIES * BUSY_PAUSE_MS) {
        this.#queue = [...group, ...this.#queue]
        this.#scheduled = true
        setTimeout(() => this.#flush(started, Math.min(pause * 2, RETRY_MAX_MS)), pause)
        return
      }
      for (const p of group) p.reject(err)
      return
    } finally {
      this.db.exec(`PRAGMA busy_timeout = ${this.#budgetMs}`)
    }
    group.forEach((p, i) => {
      const r = results[i]!
      if (r.ok) p.resolve(r.value)
      else p.reject(r.err)
    })
  }
}
