/**
 * The processor in its own thread (the embedded default), so folding events does not compete
 * with the collector for the HTTP event loop. It opens its own connections: it reads the log file
 * (WAL lets it read while the main thread appends) and is the only writer of the store file.
 * Messages in: 'appended' (wake up), 'stop'. Messages out: 'ready', BatchReport, 'stopped', errors.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { pino } from 'pino'
import { parseFailpoints } from '../core/failpoints.ts'
import { openSqlite, type Synchronous } from '../db/sqlite.ts'
import { SqliteEventLog } from '../log/sqlite-event-log.ts'
import { SqliteSegmentStore } from '../segments/sqlite-segment-store.ts'
import { loadTraitsConfig } from '../traits/traits-config.ts'
import { SqliteTriggerStore } from '../triggers/sqlite-trigger-store.ts'
import { Processor } from './processor.ts'
import { SqliteBatchStore } from './sqlite-batch-store.ts'

export interface ProcessorWorkerData {
  databaseFile: string
  logFile: string
  synchronous: Synchronous
  traitsFile: string | undefined
  batchSize: number
  dedupeWindowMs: number
  logLevel: string
  /** INKSTREAM_FAILPOINTS, parsed in this thread (tests). */
  failpoints?: string | undefined
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'batch'; report: import('./processor.ts').BatchReport }
  | { type: 'stopped' }

async function main(port: NonNullable<typeof parentPort>, data: ProcessorWorkerData): Promise<void> {
  const logger = pino({ level: data.logLevel, base: { thread: 'processor' } })
  const db = openSqlite(data.databaseFile, data.synchronous)
  const logDb = openSqlite(data.logFile, data.synchronous)
  const failpoints = parseFailpoints(data.failpoints)
  const log = new SqliteEventLog(logDb, { pollMs: 250, failpoints })
  const store = new SqliteBatchStore(db)
  // Same connection as the profile store: membership is committed with the profile changes.
  const segments = new SqliteSegmentStore(db)
  // Trigger jobs are committed with the profile changes too (same connection).
  const triggers = new SqliteTriggerStore(db)
  const processor = new Processor({
    log,
    store,
    traits: loadTraitsConfig(data.traitsFile).traits,
    clock: { now: () => Date.now() },
    logger,
    batchSize: data.batchSize,
    dedupeWindowMs: data.dedupeWindowMs,
    segments,
    triggers,
    // Fewer, larger commits contend less with the collector for SQLite's one write lock.
    lingerMs: 10,
    failpoints,
    onBatch: (report) => port.postMessage({ type: 'batch', report } satisfies WorkerMessage),
  })
  port.on('message', async (msg: unknown) => {
    if (msg === 'appended') log.notify()
    else if (msg === 'stop') {
      await processor.close()
      await segments.close()
      await triggers.close()
      await log.close()
      logDb.close()
      db.close()
      port.postMessage({ type: 'stopped' } satisfies WorkerMessage)
      port.close()
    }
  })
  await processor.start()
  port.postMessage({ type: 'ready' } satisfies WorkerMessage)
}

if (parentPort) void main(parentPort, workerData as ProcessorWorkerData)
