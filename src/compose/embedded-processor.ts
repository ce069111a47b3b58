/**
 * The processor's backends in embedded mode, opened inside the processor's worker thread (its own
 * SQLite connections: it reads the log file, WAL lets it read while the main thread appends, and
 * it is the only writer of the store file). The one place besides embedded.ts that names the
 * SQLite classes, kept apart so the worker loads only what it uses.
 */
import { type Failpoints, parseFailpoints } from '../core/failpoints.ts'
import { openSqlite, type Synchronous } from '../db/sqlite.ts'
import type { EventLog } from '../log/event-log.ts'
import { SqliteEventLog } from '../log/sqlite-event-log.ts'
import type { BatchStore } from '../pipeline/batch-store.ts'
import { SqliteBatchStore } from '../pipeline/sqlite-batch-store.ts'
import type { SegmentIndex } from '../segments/segment-store.ts'
import { SqliteSegmentStore } from '../segments/sqlite-segment-store.ts'
import { SqliteTriggerStore } from '../triggers/sqlite-trigger-store.ts'
import type { TriggerIndex } from '../triggers/trigger-matcher.ts'

export interface ProcessorBackends {
  log: EventLog
  /** Events were appended (by the main thread): read now instead of at the next poll. */
  wake(): void
  store: BatchStore
  segments: SegmentIndex
  triggers: TriggerIndex
  /** Parsed once: the log's and the processor's fault points count together. */
  failpoints: Failpoints
  close(): Promise<void>
}

export function openEmbeddedProcessorBackends(opts: {
  databaseFile: string
  logFile: string
  synchronous: Synchronous
  /** INKSTREAM_FAILPOINTS (tests). */
  failpoints?: string | undefined
}): ProcessorBackends {
  // The processor's commits to the store skip their fsync (synchronous=NORMAL, this connection
  // only): what they write is derived from the log, which stays FULL, and the applied offsets commit
  // with it, so a power loss that drops its last commits only makes it fold those events again
  // (deduplicated, as after any crash). Nothing outside acts on a commit before it is durable: a WAL
  // is fsynced whole, and everything that sends (the send ledger's claims, the trigger dispatcher,
  // the webhook outbox) commits FULL from its own connection first, which makes every earlier
  // processor commit durable with it. `kill -9` loses nothing either way (the WAL is in the page
  // cache). It took one fsync off every event's lag (docs/benchmarks.md, "Lag p99").
  const db = openSqlite(opts.databaseFile, 'normal')
  const logDb = openSqlite(opts.logFile, opts.synchronous)
  const failpoints = parseFailpoints(opts.failpoints)
  const log = new SqliteEventLog(logDb, { pollMs: 250, failpoints })
  const store = new SqliteBatchStore(db)
  // Same connection as the profile store: membership and trigger jobs commit with the profile changes.
  const segments = new SqliteSegmentStore(db)
  const triggers = new SqliteTriggerStore(db)
  return {
    log,
    wake: () => log.notify(),
    store,
    segments,
    triggers,
    failpoints,
    async close() {
      await segments.close()
      await triggers.close()
      await store.close()
      await log.close()
      logDb.close()
      db.close()
    },
  }
}
