/**
 * Entry of the embedded analytics consumer's worker thread (started by AnalyticsThread): its own
 * connections to the log file (read) and the store file (the analytics tables), the consumer, and
 * the conversions it counts posted to the main thread's metrics.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { AnalyticsConsumer } from '../analytics/analytics-consumer.ts'
import type { AnalyticsWorkerData, AnalyticsWorkerMessage } from '../analytics/analytics-thread.ts'
import { SqliteAnalyticsStore } from '../analytics/sqlite-analytics-store.ts'
import { serveConsumer } from '../core/consumer-thread.ts'
import { parseFailpoints } from '../core/failpoints.ts'
import { openSqlite } from '../db/sqlite.ts'
import { SqliteEventLog } from '../log/sqlite-event-log.ts'
import { createLogger } from '../observe/logging.ts'
import { serviceName } from '../observe/tracing.ts'

async function main(port: NonNullable<typeof parentPort>, data: AnalyticsWorkerData): Promise<void> {
  const logger = createLogger({
    level: data.logLevel,
    serviceName: serviceName(process.env),
    bindings: { 'process.thread.name': 'analytics' },
  })
  const db = openSqlite(data.databaseFile, data.synchronous)
  const logDb = openSqlite(data.logFile, data.synchronous)
  const log = new SqliteEventLog(logDb, { pollMs: 250, failpoints: parseFailpoints(data.failpoints) })
  const store = new SqliteAnalyticsStore(db)
  const consumer = new AnalyticsConsumer({
    log,
    store,
    rules: data.rules,
    clock: { now: () => Date.now() },
    logger,
    messageRetentionMs: data.messageRetentionMs,
    seenRetentionMs: data.seenRetentionMs,
    onConversions: (conversions) =>
      port.postMessage({
        type: 'conversions',
        conversions: [...conversions],
      } satisfies AnalyticsWorkerMessage),
  })
  await serveConsumer(port, consumer, {
    wake: () => log.notify(),
    async close() {
      await store.close()
      await log.close()
      logDb.close()
      db.close()
    },
  })
}

if (parentPort) void main(parentPort, workerData as AnalyticsWorkerData)
