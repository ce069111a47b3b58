/**
 * The embedded backends (the default; `npm start` with no scale-out settings): the event log and
 * the store are SQLite files in INKSTREAM_DATA_DIR, caches live in process, the log's appends
 * commit in a writer thread and the processor folds events in a worker thread. With
 * embedded-processor.ts, the only file that names the SQLite classes.
 */

import { join } from 'node:path'
import { analyticsSettings } from '../analytics/analytics-consumer.ts'
import { AnalyticsThread } from '../analytics/analytics-thread.ts'
import { SqliteAnalyticsStore } from '../analytics/sqlite-analytics-store.ts'
import { SqliteCampaignStore } from '../campaigns/sqlite-campaign-store.ts'
import { SqliteSendLedger } from '../campaigns/sqlite-send-ledger.ts'
import type { Config } from '../config.ts'
import { MemoryCache } from '../content/cache/memory-cache.ts'
import { SqliteTemplateStore } from '../content/sqlite-template-store.ts'
import { parseFailpoints } from '../core/failpoints.ts'
import type { Clock } from '../core/types.ts'
import { openSqlite } from '../db/sqlite.ts'
import { SqliteSuppressionStore } from '../delivery/sqlite-suppression-store.ts'
import { loadTokenKeys } from '../delivery/sqlite-token-keys.ts'
import { LogWriterThread } from '../log/log-writer.ts'
import { SqliteEventLog } from '../log/sqlite-event-log.ts'
import { SqliteAlertStore } from '../observe/alerts/sqlite-alert-store.ts'
import { SqliteRollupStore } from '../observe/rollups/sqlite-rollup-store.ts'
import { bouncePolicySettings } from '../pipeline/bounce-policy.ts'
import { PROFILES_GROUP } from '../pipeline/processor.ts'
import { ProcessorThread } from '../pipeline/processor-thread.ts'
import { identityHash } from '../privacy/erasure-plan.ts'
import { SqlitePrivacyStore } from '../privacy/sqlite-privacy-store.ts'
import { SqliteProfileStore } from '../profiles/sqlite-profile-store.ts'
import { SqliteSegmentStore } from '../segments/sqlite-segment-store.ts'
import { SqliteTopicStore } from '../topics/sqlite-topic-store.ts'
import { SqliteTriggerStore } from '../triggers/sqlite-trigger-store.ts'
import { SqliteWebhookOutbox } from '../webhooks/sqlite-outbox.ts'
import { SqliteWorkspaceStore } from '../workspaces/sqlite-workspace-store.ts'
import { type AnalyticsBackend, type Backends, Closers, openWith, type ProcessorBackend } from './backends.ts'
import { DATABASE_FILE, LOG_FILE } from './embedded-files.ts'

export interface EmbeddedOptions {
  clock: Clock
  /** False for one-off commands (preview) next to a running server: one processor per log. */
  processor: boolean
}

/** Opens the SQLite files (creating them on first start), the writer thread and, unless told not to, the processor thread. */
export async function openEmbeddedBackends(config: Config, opts: EmbeddedOptions): Promise<Backends> {
  const { clock } = opts
  const closers = new Closers()
  return openWith(closers, async () => {
    const db = openSqlite(join(config.dataDir, DATABASE_FILE), config.sqliteSynchronous)
    closers.push(() => {
      db.close()
    })
    const logDb = openSqlite(join(config.dataDir, LOG_FILE), config.sqliteSynchronous)
    closers.push(() => {
      logDb.close()
    })
    // Appends commit in their own thread: the HTTP thread keeps parsing while a commit fsyncs.
    const writer = new LogWriterThread({
      file: join(config.dataDir, LOG_FILE),
      synchronous: config.sqliteSynchronous,
    })
    await writer.start()
    closers.push(() => writer.close())
    let thread: ProcessorThread | undefined
    let analyticsThread: AnalyticsThread | undefined
    const log = new SqliteEventLog(logDb, {
      writer,
      clock,
      retentionMs: config.logRetentionDays * 86_400_000,
      onAppend: () => {
        thread?.wake()
        analyticsThread?.wake()
      },
      failpoints: parseFailpoints(config.failpoints),
    })
    closers.push(() => log.close())
    const profiles = new SqliteProfileStore(db, { clock })
    const segments = new SqliteSegmentStore(db, { clock })
    const workspaces = new SqliteWorkspaceStore(db)
    const templates = new SqliteTemplateStore(db, { clock })
    const suppressions = new SqliteSuppressionStore(db, { clock })
    const topics = new SqliteTopicStore(db, { clock })
    const ledger = new SqliteSendLedger(db, { clock, failpoints: parseFailpoints(config.failpoints) })
    const campaigns = new SqliteCampaignStore(db, { clock })
    const triggers = new SqliteTriggerStore(db, { clock })
    const webhooks = new SqliteWebhookOutbox(db, { clock })
    const analytics = new SqliteAnalyticsStore(db)
    const privacy = new SqlitePrivacyStore(db)
    const observe = { rollups: new SqliteRollupStore(db), alerts: new SqliteAlertStore(db) }
    for (const s of [
      analytics,
      observe.rollups,
      observe.alerts,
      profiles,
      segments,
      workspaces,
      templates,
      suppressions,
      topics,
      ledger,
      campaigns,
      triggers,
      webhooks,
      privacy,
    ])
      closers.push(() => s.close())
    const profileCache = new MemoryCache({ maxEntries: 100_000, clock })
    closers.push(() => profileCache.close())
    // Open-time images are kilobytes each: their own, smaller LRU, so they never evict profiles.
    const blockCache = new MemoryCache({ maxEntries: 2_000, clock })
    closers.push(() => blockCache.close())

    // What the consumer threads open (their own connections to both files) and how they log.
    const threadData = {
      databaseFile: join(config.dataDir, DATABASE_FILE),
      logFile: join(config.dataDir, LOG_FILE),
      synchronous: config.sqliteSynchronous,
      logLevel: config.logLevel,
      failpoints: config.failpoints,
    }
    // The processor folds events in its own thread (DESIGN.md §7: long loops off the HTTP event loop).
    const processor: ProcessorBackend | undefined = opts.processor
      ? {
          async start(hooks) {
            const started = new ProcessorThread(
              {
                ...threadData,
                traitsFile: config.traitsFile,
                batchSize: config.processorBatchSize,
                lingerMs: config.processorLingerMs,
                dedupeWindowMs: config.dedupeWindowDays * 86_400_000,
                bouncePolicy: bouncePolicySettings(config),
              },
              hooks.onBatch,
              hooks.onError,
              hooks.onSpans,
            )
            closers.push(() => started.close())
            // Named before it runs: /healthz says `starting` meanwhile, wake-ups reach it once it does.
            thread = started
            await started.start()
          },
          close: async () => thread?.close(),
        }
      : undefined

    // The analytics consumer reads every row of the log and commits with an fsync: in its own
    // thread too (it ran on the HTTP thread: 15–39 % of it under ingest, docs/benchmarks.md).
    const analyticsConsumer: AnalyticsBackend | undefined = opts.processor
      ? {
          async start(hooks) {
            const started = new AnalyticsThread(
              { ...threadData, ...analyticsSettings(config) },
              hooks.onConversions,
              hooks.onError,
            )
            closers.push(() => started.close())
            analyticsThread = started
            await started.start()
          },
          close: async () => analyticsThread?.close(),
        }
      : undefined

    return {
      log,
      workspaces,
      profiles,
      observe,
      stores: {
        segments,
        templates,
        triggers,
        suppressions,
        topics,
        campaigns,
        ledger,
        tokenKeys: loadTokenKeys(db, clock.now()),
        webhooks,
        privacy,
      },
      profileCache,
      blockCache,
      analytics,
      processor,
      analyticsConsumer,
      // One process per store: no other sender's sends to take over, no locks to hold.
      locks: undefined,
      // The processor thread reports the jobs it commits (ProcessorHooks.onBatch).
      listenForJobs: undefined,
      eraseLogEvents: (workspaceId, ids) => log.eraseEvents(workspaceId, ids),
      eraseLogEventsByHash: (workspaceId, idHashes) =>
        log.eraseEventsByHash(workspaceId, idHashes, identityHash),
      health: async () => ({
        ready: true,
        body: {
          consumerLag: await log.lag(PROFILES_GROUP),
          processor:
            thread === undefined
              ? 'off'
              : thread.running
                ? 'running'
                : thread.everRan
                  ? 'restarting'
                  : 'starting',
        },
      }),
      label: undefined,
      describe: [`  data:      ${config.dataDir} (${DATABASE_FILE}, ${LOG_FILE})`],
      close: () => closers.run(),
    }
  })
}
