/**
 * The composition root: the only file that picks backends. Builds every part from validated
 * config, wires them together, and closes them in reverse order of creation.
 */
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { ProfileAudienceResolver } from './campaigns/audience.ts'
import { CampaignRunner } from './campaigns/campaign-runner.ts'
import { CampaignService } from './campaigns/campaign-service.ts'
import { SqliteCampaignStore } from './campaigns/sqlite-campaign-store.ts'
import { SqliteSendLedger } from './campaigns/sqlite-send-ledger.ts'
import {
  createTransport,
  emailLookups,
  hasSegmentOf,
  linkBase,
  messageIdDomainFor,
  segmentMembersOf,
} from './composition.ts'
import type { Config } from './config.ts'
import { MemoryCache } from './content/cache/memory-cache.ts'
import { HttpConnectedContent } from './content/connected-content/http-connected-content.ts'
import { loadContentConfig } from './content/content-config.ts'
import { SqliteTemplateStore } from './content/sqlite-template-store.ts'
import { loadTemplatesDir } from './content/template-files.ts'
import { parseFailpoints } from './core/failpoints.ts'
import { type Clock, systemClock } from './core/types.ts'
import { openSqlite } from './db/sqlite.ts'
import { SqliteSuppressionStore } from './delivery/sqlite-suppression-store.ts'
import { loadTokenKeys } from './delivery/token-keys.ts'
import { createTokenCodec, type TokenCodec } from './delivery/tokens.ts'
import type { Transport } from './delivery/transport.ts'
import { buildServer } from './http/server.ts'
import { LogWriterThread } from './log/log-writer.ts'
import { SqliteEventLog } from './log/sqlite-event-log.ts'
import { createMetrics, type Metrics, observeBatch } from './observe/metrics.ts'
import { PROFILES_GROUP } from './pipeline/processor.ts'
import { ProcessorThread } from './pipeline/processor-thread.ts'
import { loadTraitsConfig } from './pipeline/traits-config.ts'
import { ProfileReader } from './profiles/profile-reader.ts'
import { SqliteProfileStore } from './profiles/sqlite-profile-store.ts'
import { Renderer } from './render/renderer.ts'
import { SqliteSegmentStore } from './segments/sqlite-segment-store.ts'
import { SqliteTriggerStore } from './triggers/sqlite-trigger-store.ts'
import { TriggerDispatcher } from './triggers/trigger-dispatcher.ts'
import { SqliteWorkspaceStore, type Workspace } from './workspaces/workspace-store.ts'

export interface App {
  config: Config
  server: FastifyInstance
  workspace: Workspace
  log: SqliteEventLog
  store: SqliteProfileStore
  metrics: Metrics
  renderer: Renderer
  /** Signs tracking and unsubscribe links. */
  codec: TokenCodec
  suppressions: SqliteSuppressionStore
  /** Where email clients reach this server (tracking links). */
  readonly publicUrl: string
  /** SMTP (INKSTREAM_SMTP_URL) or .eml files in <dataDir>/outbox. */
  transport: Transport
  /** Human-readable: where campaign messages go. */
  transportDescription: string
  campaigns: CampaignService
  /** Trigger definitions and jobs. */
  triggers: SqliteTriggerStore
  /** Sends due trigger jobs; undefined in one-off commands (no processor). */
  triggerDispatcher: TriggerDispatcher | undefined
  /** Starts listening, then the senders that wait for the bound port; resolves with the base URL. */
  listen(): Promise<string>
  close(): Promise<void>
}

/** The store: profiles, identities, dedupe, processor offsets, templates, workspaces. */
export const DATABASE_FILE = 'inkstream.db'
/**
 * The event log, in its own file so that its writer (the collector, main thread) and the store's
 * writer (the processor thread) never wait for each other's SQLite write lock.
 */
export const LOG_FILE = 'log.db'

/** `env` is only read for `${VAR}` references in the content file (credentials). */
export async function createApp(
  config: Config,
  opts: {
    clock?: Clock
    env?: NodeJS.ProcessEnv
    /** False for one-off commands (preview) next to a running server: one processor per log. */
    processor?: boolean
  } = {},
): Promise<App> {
  const env = opts.env ?? {}
  const clock = opts.clock ?? systemClock
  const logger = pino({ level: config.logLevel })
  const closers: (() => Promise<void> | void)[] = []
  try {
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
    let processor: ProcessorThread | undefined
    const log = new SqliteEventLog(logDb, {
      writer,
      clock,
      retentionMs: config.logRetentionDays * 86_400_000,
      onAppend: () => processor?.wake(),
      failpoints: parseFailpoints(config.failpoints),
    })
    closers.push(() => log.close())
    const store = new SqliteProfileStore(db, { clock })
    closers.push(() => store.close())
    const segments = new SqliteSegmentStore(db, { clock })
    closers.push(() => segments.close())
    const workspaces = new SqliteWorkspaceStore(db)
    const workspace = await workspaces.ensure(config.workspaceId, {
      writeKey: config.writeKey,
      adminKey: config.adminKey,
    })
    const traits = loadTraitsConfig(config.traitsFile).traits
    const content = loadContentConfig(config.contentFile, env)
    const metrics = createMetrics()
    const templates = new SqliteTemplateStore(db, { clock })
    closers.push(() => templates.close())
    const profileCache = new MemoryCache({ maxEntries: 100_000 })
    closers.push(() => profileCache.close())
    const profileReader = new ProfileReader({ store, traits, cache: profileCache, clock })
    const connectedContent = new HttpConnectedContent({
      clock,
      allowHosts: () => content.connectedContent.allowHosts,
      credentials: (_ws, name) => content.connectedContent.credentials[name]?.headers,
      defaultTtlSeconds: content.connectedContent.defaultTtlSeconds,
      onCall: (c) => metrics.connectedContentCalls.inc({ source: c.host, outcome: c.outcome }),
    })
    closers.push(() => connectedContent.close())
    const suppressions = new SqliteSuppressionStore(db, { clock })
    closers.push(() => suppressions.close())
    const codec = createTokenCodec({ ...loadTokenKeys(db, clock.now()), clock })
    const renderer = new Renderer({ templates, profiles: profileReader, connectedContent, content, metrics })
    if (config.templatesDir !== undefined)
      await loadTemplatesDir(config.templatesDir, workspace.id, templates, renderer)
    // Without INKSTREAM_PUBLIC_URL, links name the port actually bound (INKSTREAM_PORT=0 picks one).
    const links = linkBase(config)
    const publicUrl = links.publicUrl
    const messageIdDomain = messageIdDomainFor(config.from, publicUrl())
    const { transport, description: transportDescription } = createTransport(config, messageIdDomain)
    closers.push(() => transport.close())
    const ledger = new SqliteSendLedger(db, { clock, failpoints: parseFailpoints(config.failpoints) })
    closers.push(() => ledger.close())
    const campaignStore = new SqliteCampaignStore(db, { clock })
    closers.push(() => campaignStore.close())
    // What campaigns and triggers both need to render, track and send a message.
    const delivery = { renderer, transport, suppressions, codec, publicUrl, clock, logger }
    const runner = new CampaignRunner({ ledger, ...delivery, metrics, events: log })
    const { requireEmail, lookupEmail } = emailLookups(profileReader)
    const audience = new ProfileAudienceResolver({
      segmentMembers: segmentMembersOf(segments),
      hasSegment: hasSegmentOf(segments),
      lookupEmail: requireEmail,
    })
    const campaigns = new CampaignService({
      store: campaignStore,
      runner,
      audience,
      renderer,
      defaultFrom: config.from,
      logger,
      pauseAfterFailures: config.campaignPauseAfterFailures,
    })
    closers.push(() => campaigns.close())
    const triggers = new SqliteTriggerStore(db, { clock })
    closers.push(() => triggers.close())
    let triggerDispatcher: TriggerDispatcher | undefined
    if (opts.processor ?? true) {
      triggerDispatcher = new TriggerDispatcher({
        store: triggers,
        ...delivery,
        metrics,
        events: log,
        lookupEmail: requireEmail,
        isMember: async (workspaceId, segmentId, userId, profileId) => {
          // The event's profile may have been merged into another one since.
          const current =
            (await store.findProfileId(workspaceId, 'userId', userId)) ??
            (await store.findProfileId(workspaceId, 'anonymousId', userId)) ??
            profileId
          return segments.isMember(workspaceId, segmentId, current)
        },
      })
      const dispatcher = triggerDispatcher
      closers.push(() => dispatcher.close())
      // Overdue jobs go out once links can name the bound port.
      links.afterListen(() => dispatcher.start())
    }
    if (opts.processor ?? true) {
      // The processor folds events in its own thread (DESIGN.md §7: long loops off the HTTP event loop).
      const thread = new ProcessorThread(
        {
          databaseFile: join(config.dataDir, DATABASE_FILE),
          logFile: join(config.dataDir, LOG_FILE),
          synchronous: config.sqliteSynchronous,
          traitsFile: config.traitsFile,
          batchSize: config.processorBatchSize,
          dedupeWindowMs: config.dedupeWindowDays * 86_400_000,
          logLevel: config.logLevel,
          failpoints: config.failpoints,
        },
        (report) => {
          observeBatch(metrics, report)
          // A profile read for rendering must not outlive the change that made it stale.
          for (const { workspaceId, id } of report.ids) void profileReader.invalidate(workspaceId, id)
          if (report.triggerJobsDueAt !== null) triggerDispatcher?.wake(report.triggerJobsDueAt)
        },
        (err) => logger.error({ err }, 'processor thread failed'),
      )
      await thread.start()
      processor = thread
      closers.push(() => thread.close())
    }
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
      segments: { segments, workspaces },
      tracking: {
        codec,
        log,
        suppressions,
        clock,
        // The recipient of a link is a userId; its address is the profile's `email` trait.
        lookupEmail,
      },
      templates: {
        templates,
        renderer,
        workspaces,
        lint: { traitNames: traits.map((t) => t.name), workspaceFallbacks: content.fallbacks },
      },
      campaigns: { campaigns: campaignStore, service: campaigns, audience, workspaces },
      triggers: { triggers, workspaces, renderer, defaultFrom: config.from },
      beforeScrape: async () =>
        metrics.consumerLag.set({ group: PROFILES_GROUP }, await log.lag(PROFILES_GROUP)),
      health: async () => ({
        consumerLag: await log.lag(PROFILES_GROUP),
        processor: processor === undefined ? 'off' : processor.running ? 'running' : 'restarting',
      }),
    })
    closers.push(() => server.close())
    // Campaigns a crash (or a shutdown mid-send) left running, once links can name the bound port;
    // not in one-off commands like preview.
    if (opts.processor ?? true)
      links.afterListen(() => {
        void campaigns.resumeInterrupted().catch((err) => logger.error({ err }, 'campaign resume failed'))
      })
    let closed = false
    return {
      config,
      server,
      workspace,
      log,
      store,
      metrics,
      renderer,
      codec,
      suppressions,
      get publicUrl() {
        return publicUrl()
      },
      transport,
      transportDescription,
      campaigns,
      triggers,
      triggerDispatcher,
      listen: () => links.listen(server),
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
