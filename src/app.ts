/**
 * The composition root: the only file that picks backends. Builds every part from validated
 * config, wires them together, and closes them in reverse order of creation.
 */
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import type { Config } from './config.ts'
import { type Clock, systemClock } from './core/types.ts'
import { openSqlite } from './db/sqlite.ts'
import { buildServer } from './http/server.ts'
import { SqliteEventLog } from './log/sqlite-event-log.ts'
import { createMetrics, type Metrics } from './observe/metrics.ts'
import { PROFILES_GROUP, Processor } from './pipeline/processor.ts'
import { loadTraitsConfig } from './pipeline/traits-config.ts'
import { SqliteProfileStore } from './profiles/sqlite-profile-store.ts'
import { SqliteWorkspaceStore, type Workspace } from './workspaces/workspace-store.ts'

export interface App {
  config: Config
  server: FastifyInstance
  workspace: Workspace
  processor: Processor
  log: SqliteEventLog
  store: SqliteProfileStore
  metrics: Metrics
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>
  close(): Promise<void>
}

export const DATABASE_FILE = 'inkstream.db'

export async function createApp(config: Config, opts: { clock?: Clock } = {}): Promise<App> {
  const clock = opts.clock ?? systemClock
  const logger = pino({ level: config.logLevel })
  const closers: (() => Promise<void> | void)[] = []
  try {
    const db = openSqlite(join(config.dataDir, DATABASE_FILE))
    closers.push(() => {
      db.close()
    })
    const log = new SqliteEventLog(db, { clock, retentionMs: config.logRetentionDays * 86_400_000 })
    closers.push(() => log.close())
    const store = new SqliteProfileStore(db, { clock })
    closers.push(() => store.close())
    const workspaces = new SqliteWorkspaceStore(db)
    const workspace = await workspaces.ensure(config.workspaceId, {
      writeKey: config.writeKey,
      adminKey: config.adminKey,
    })
    const traits = loadTraitsConfig(config.traitsFile).traits
    const metrics = createMetrics()
    const processor = new Processor({
      log,
      store,
      traits,
      metrics,
      clock,
      logger,
      batchSize: config.processorBatchSize,
      dedupeWindowMs: config.dedupeWindowDays * 86_400_000,
    })
    await processor.start()
    closers.push(() => processor.close())
    const server = await buildServer({
      logger,
      metrics,
      collector: {
        log,
        workspaces,
        metrics,
        clock,
        maxEventBytes: config.maxEventBytes,
        maxBatchBytes: config.maxBatchBytes,
      },
      profiles: { store, workspaces, traits, clock },
      beforeScrape: async () =>
        metrics.consumerLag.set({ group: PROFILES_GROUP }, await log.lag(PROFILES_GROUP)),
      health: async () => ({ consumerLag: await log.lag(PROFILES_GROUP) }),
    })
    closers.push(() => server.close())
    let closed = false
    return {
      config,
      server,
      workspace,
      processor,
      log,
      store,
      metrics,
      listen: () => server.listen({ host: config.host, port: config.port }),
      close: async () => {
        if (closed) return
        closed = true
        for (const close of closers.reverse()) await close()
      },
    }
  } catch (err) {
    for (const close of closers.reverse()) await close()
    throw err
  }
}
