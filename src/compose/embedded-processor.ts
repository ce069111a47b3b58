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
  const db = openSqlite(opts.databaseFile, opts.synchronous)
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
