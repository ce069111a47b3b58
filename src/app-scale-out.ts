/**
 * The composition root of scale-out mode (INKSTREAM_KAFKA_BROKERS + INKSTREAM_DATABASE_URL, and
 * optionally INKSTREAM_REDIS_URL): the event log is Kafka, the store PostgreSQL, the shared caches
 * Redis, and one process runs the roles it is given (`inkstream start --role …`):
 *
 * - collector: the Segment-compatible ingest API and /sdk.js; appends to Kafka, keeps no state.
 * - processor: a member of the `profiles` consumer group; folds events into PostgreSQL. Run as many
 *   as the topic has partitions; Kafka shares the partitions among them.
 * - api: the admin API (templates, segments, profiles, campaigns, triggers) and the tracking routes
 *   (/c /p /u); a campaign started through it runs in that process.
 * - sender: sends trigger jobs as processors commit them (PostgreSQL LISTEN/NOTIFY, with a 1 s poll
 *   for due times and as a fallback) and resumes campaigns a stopped process left running.
 *
 * Every process serves /metrics and /healthz on its port. app.ts composes the embedded mode.
 */

import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import Fastify, { LogController } from 'fastify'
import { type Logger, pino } from 'pino'
import { ProfileAudienceResolver } from './campaigns/audience.ts'
import { campaignRoutes } from './campaigns/campaign-routes.ts'
import { CampaignRunner } from './campaigns/campaign-runner.ts'
import { CampaignService } from './campaigns/campaign-service.ts'
import { PgCampaignStore } from './campaigns/pg-campaign-store.ts'
import { PgSendLedger } from './campaigns/pg-send-ledger.ts'
import {
  createTransport,
  emailLookups,
  hasSegmentOf,
  linkBase,
  messageIdDomainFor,
  segmentMembersOf,
} from './composition.ts'
import { type Config, parseRoles, type Role } from './config.ts'
import { MemoryCache } from './content/cache/memory-cache.ts'
import { RedisCache } from './content/cache/redis-cache.ts'
import { HttpConnectedContent } from './content/connected-content/http-connected-content.ts'
import { loadContentConfig } from './content/content-config.ts'
import { PgTemplateStore } from './content/pg-template-store.ts'
import { templateRoutes } from './content/template-routes.ts'
import { InkError } from './core/errors.ts'
import { parseFailpoints } from './core/failpoints.ts'
import { type Clock, systemClock } from './core/types.ts'
import { openPg, type PgPool } from './db/pg.ts'
import { PgProcessLease } from './db/pg-lease.ts'
import { PgSuppressionStore } from './delivery/pg-suppression-store.ts'
import { loadPgTokenKeys } from './delivery/pg-token-keys.ts'
import { createTokenCodec, type TokenCodec } from './delivery/tokens.ts'
import { trackingRoutes } from './delivery/tracking-routes.ts'
import type { Transport } from './delivery/transport.ts'
import { installErrorHandler } from './http/error-handler.ts'
import { collectorRoutes } from './ingest/collector-routes.ts'
import { sdkRoute } from './ingest/sdk-route.ts'
import { KafkaEventLog } from './log/kafka-event-log.ts'
import { createMetrics, type Metrics, observeBatch } from './observe/metrics.ts'
import { PROFILES_GROUP, Processor } from './pipeline/processor.ts'
import { loadTraitsConfig } from './pipeline/traits-config.ts'
import { PgProfileStore } from './profiles/pg-profile-store.ts'
import { ProfileReader } from './profiles/profile-reader.ts'
import { profileRoutes } from './profiles/profile-routes.ts'
import { Renderer } from './render/renderer.ts'
import { PgSegmentStore } from './segments/pg-segment-store.ts'
import { segmentRoutes } from './segments/segment-routes.ts'
import { startSenderRecovery } from './sender-recovery.ts'
import { PgTriggerStore } from './triggers/pg-trigger-store.ts'
import { TriggerDispatcher } from './triggers/trigger-dispatcher.ts'
import { triggerRoutes } from './triggers/trigger-routes.ts'
import { PgWorkspaceStore } from './workspaces/pg-workspace-store.ts'
import type { Workspace } from './workspaces/workspace-store.ts'

/** How often a sender looks for the sends of senders that died (jobs and campaigns). */
const SENDER_RECOVERY_MS = 30_000

export interface ScaleOutApp {
  config: Config
  roles: ReadonlySet<Role>
  server: FastifyInstance
  workspace: Workspace
  metrics: Metrics
  log: KafkaEventLog
  /** The processor of this process, when it has the role. */
  processor: Processor | undefined
  listen(): Promise<string>
  close(): Promise<void>
}

export async function createScaleOutApp(
  config: Config,
  opts: { clock?: Clock; logger?: Logger } = {},
): Promise<ScaleOutApp> {
  if (config.kafkaBrokers === undefined || config.databaseUrl === undefined)
    throw new InkError(
      'INK_ERR_INVALID_CONFIG',
      'scale-out mode needs INKSTREAM_KAFKA_BROKERS and INKSTREAM_DATABASE_URL',
    )
  const clock = opts.clock ?? systemClock
  const logger = opts.logger ?? pino({ level: config.logLevel })
  const roles = parseRoles(config.roles)
  // Without INKSTREAM_PUBLIC_URL, links name the port actually bound (INKSTREAM_PORT=0 picks one).
  const links = linkBase(config)
  const publicUrl = links.publicUrl
  const failpoints = parseFailpoints(config.failpoints)
  const closers: (() => Promise<void> | void)[] = []
  const closeAll = async () => {
    for (const close of closers.reverse()) await close()
  }
  try {
    const pool: PgPool = openPg(config.databaseUrl, {
      onError: (err) => logger.warn({ err }, 'PostgreSQL connection lost; reconnecting on the next query'),
    })
    closers.push(() => pool.end())
    const workspaces = await PgWorkspaceStore.open(pool)
    closers.push(() => workspaces.close())
    const workspace = await workspaces.ensure(config.workspaceId, {
      writeKey: config.writeKey,
      adminKey: config.adminKey,
    })
    // Connects in the background: a process started while the broker is down waits for it (and
    // says so on /healthz) instead of exiting; appends meanwhile answer 503 within their deadline.
    const log = KafkaEventLog.connect(
      {
        brokers: config.kafkaBrokers.split(','),
        topic: config.kafkaTopic,
        partitions: config.kafkaPartitions,
        clientId: `inkstream-${[...roles].join('+')}`,
        appendTimeoutMs: config.kafkaAppendTimeoutMs,
        failpoints,
        logger,
      },
      (err, attempt) => logger.warn({ err, attempt }, 'Kafka is not reachable; retrying'),
    )
    closers.push(() => log.close())
    const metrics = createMetrics()
    const traits = loadTraitsConfig(config.traitsFile).traits

    let processor: Processor | undefined
    if (roles.has('processor')) {
      const store = new PgProfileStore(pool, { clock })
      closers.push(() => store.close())
      const segments = new PgSegmentStore(pool, { clock })
      closers.push(() => segments.close())
      const triggers = new PgTriggerStore(pool, { clock })
      closers.push(() => triggers.close())
      // Rendering processes cache profiles in Redis: a batch deletes what it made stale.
      let reader: ProfileReader | undefined
      if (config.redisUrl !== undefined) {
        const cache = await RedisCache.open({
          url: config.redisUrl,
          keyPrefix: `inkstream:${config.kafkaTopic}:profiles:`,
          onError: (err, operation) => logger.warn({ err, operation }, 'redis cache call failed'),
        })
        closers.push(() => cache.close())
        reader = new ProfileReader({ store, traits, cache, clock })
      }
      processor = new Processor({
        log,
        store,
        traits,
        clock,
        logger,
        batchSize: config.processorBatchSize,
        dedupeWindowMs: config.dedupeWindowDays * 86_400_000,
        segments,
        triggers,
        lingerMs: 10,
        failpoints,
        onConflict: () => metrics.profileConflicts.inc(),
        onBatch: (report) => {
          observeBatch(metrics, report)
          if (reader) for (const { workspaceId, id } of report.ids) void reader.invalidate(workspaceId, id)
        },
      })
      await processor.start()
      const p = processor
      closers.push(() => p.close())
    }

    const httpLogger: FastifyBaseLogger = logger
    let delivery: Delivery | undefined
    if (roles.has('api') || roles.has('sender')) {
      delivery = await composeDelivery({ config, pool, clock, logger, metrics, traits, publicUrl, closers })
    }

    const server: FastifyInstance = Fastify({
      loggerInstance: httpLogger,
      logController: new LogController({ disableRequestLogging: true }),
      trustProxy: false,
    })
    installErrorHandler(server)
    if (roles.has('collector')) {
      await server.register(async (scope) =>
        collectorRoutes(scope, {
          log,
          workspaces,
          metrics,
          clock,
          maxEventBytes: config.maxEventBytes,
          maxBatchBytes: config.maxBatchBytes,
        }),
      )
      await server.register(sdkRoute)
    }
    if (roles.has('api') && delivery) {
      const d = delivery
      await server.register(async (scope) =>
        profileRoutes(scope, { store: d.profiles, workspaces, traits, clock }),
      )
      await server.register(async (scope) => segmentRoutes(scope, { segments: d.segments, workspaces }))
      await server.register(async (scope) =>
        templateRoutes(scope, {
          templates: d.templates,
          renderer: d.renderer,
          workspaces,
          lint: { traitNames: traits.map((t) => t.name), workspaceFallbacks: d.content.fallbacks },
        }),
      )
      await server.register(async (scope) =>
        trackingRoutes(scope, {
          codec: d.codec,
          log,
          suppressions: d.suppressions,
          clock,
          lookupEmail: d.lookupEmail,
        }),
      )
      await server.register(async (scope) =>
        campaignRoutes(scope, {
          campaigns: d.campaignStore,
          service: d.campaigns,
          audience: d.audience,
          workspaces,
        }),
      )
      await server.register(async (scope) =>
        triggerRoutes(scope, {
          triggers: d.triggers,
          workspaces,
          renderer: d.renderer,
          defaultFrom: config.from,
        }),
      )
    }
    if (roles.has('sender') && delivery) {
      const d = delivery
      const dispatcher = new TriggerDispatcher({
        store: d.triggers,
        renderer: d.renderer,
        transport: d.transport,
        suppressions: d.suppressions,
        codec: d.codec,
        publicUrl: d.publicUrl,
        clock,
        logger,
        metrics,
        events: log,
        lookupEmail: d.requireEmail,
        isMember: async (workspaceId, segmentId, userId, profileId) => {
          const current =
            (await d.profiles.findProfileId(workspaceId, 'userId', userId)) ??
            (await d.profiles.findProfileId(workspaceId, 'anonymousId', userId)) ??
            profileId
          return d.segments.isMember(workspaceId, segmentId, current)
        },
      })
      closers.push(() => dispatcher.close())
      // Everything that sends on its own starts once links can name the bound port (port 0).
      links.afterListen(async () => {
        await dispatcher.start()
        // Processors NOTIFY when they commit jobs: a trigger is sent within milliseconds, not at the
        // next poll (the dispatcher's 1 s poll stays, for due times and while the listener is down).
        const stopListening = await d.triggers.listen((dueAt) => dispatcher.wake(dueAt), {
          onError: (err) =>
            logger.warn({ err }, 'trigger job notifications lost; polling every second until they are back'),
        })
        closers.push(stopListening)
        void d.campaigns.resumeInterrupted().catch((err) => logger.error({ err }, 'campaign resume failed'))
        // And later too: the sends of a sender that dies while this one runs are taken over here.
        closers.push(
          startSenderRecovery({
            triggers: d.triggers,
            campaigns: d.campaigns,
            intervalMs: SENDER_RECOVERY_MS,
            logger,
          }),
        )
      })
    }
    const lag = async () => {
      try {
        return await log.lag(PROFILES_GROUP)
      } catch {
        return null
      }
    }
    server.get('/metrics', async (_req, reply) => {
      const l = await lag()
      if (l !== null) metrics.consumerLag.set({ group: PROFILES_GROUP }, l)
      return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics())
    })
    // Not ready (503) while the log is not connected or this processor has not joined its group.
    server.get('/healthz', async (_req, reply) => {
      const health = log.health()
      const body = {
        status: health.ready ? 'ok' : 'unavailable',
        roles: [...roles],
        consumerLag: health.ready ? await lag() : null,
      }
      return health.ready ? body : reply.status(503).send({ ...body, reason: health.reason })
    })
    closers.push(() => server.close())

    let closed = false
    return {
      config,
      roles,
      server,
      workspace,
      metrics,
      log,
      processor,
      listen: () => links.listen(server),
      close: async () => {
        if (closed) return
        closed = true
        await closeAll()
      },
    }
  } catch (err) {
    await closeAll()
    throw err
  }
}

interface Delivery {
  profiles: PgProfileStore
  segments: PgSegmentStore
  templates: PgTemplateStore
  triggers: PgTriggerStore
  suppressions: PgSuppressionStore
  campaignStore: PgCampaignStore
  campaigns: CampaignService
  audience: ProfileAudienceResolver
  renderer: Renderer
  transport: Transport
  codec: TokenCodec
  content: ReturnType<typeof loadContentConfig>
  /** Base of tracking links: INKSTREAM_PUBLIC_URL, else this process's bound address. */
  publicUrl: () => string
  /** The `email` trait, or undefined; for the unsubscribe route (best effort). */
  lookupEmail(workspaceId: string, userId: string): Promise<string | undefined>
  /** The `email` trait; throws when the profile cannot be read now (the send is retried later). */
  requireEmail(workspaceId: string, userId: string): Promise<string | undefined>
}

/** What the api and sender roles share: the stores, the renderer, the transport, campaigns. */
async function composeDelivery(o: {
  config: Config
  pool: PgPool
  clock: Clock
  logger: Logger
  metrics: Metrics
  traits: ReturnType<typeof loadTraitsConfig>['traits']
  publicUrl: () => string
  closers: (() => Promise<void> | void)[]
}): Promise<Delivery> {
  const { config, pool, clock, logger, metrics, traits, publicUrl, closers } = o
  // This process's liveness for the others: sends it claims carry the lease's key, so a starting
  // sender recovers only the sends of processes that are gone; campaigns run under its locks.
  const lease = await PgProcessLease.open(pool, {
    onError: (err) => logger.error({ err }, 'process lease connection lost; reconnecting'),
  })
  closers.push(() => lease.close())
  const profiles = new PgProfileStore(pool, { clock })
  const segments = new PgSegmentStore(pool, { clock })
  const templates = new PgTemplateStore(pool, { clock })
  const triggers = new PgTriggerStore(pool, { clock, owner: lease })
  const suppressions = new PgSuppressionStore(pool, { clock })
  const campaignStore = new PgCampaignStore(pool, { clock })
  const ledger = new PgSendLedger(pool, {
    clock,
    owner: lease,
    failpoints: parseFailpoints(config.failpoints),
  })
  for (const s of [profiles, segments, templates, triggers, suppressions, campaignStore, ledger])
    closers.push(() => s.close())
  const content = loadContentConfig(config.contentFile, process.env)
  const cache =
    config.redisUrl === undefined
      ? new MemoryCache({ maxEntries: 100_000 })
      : await RedisCache.open({
          url: config.redisUrl,
          keyPrefix: `inkstream:${config.kafkaTopic}:profiles:`,
          onError: (err, operation) => logger.warn({ err, operation }, 'redis cache call failed'),
        })
  closers.push(() => cache.close())
  const reader = new ProfileReader({ store: profiles, traits, cache, clock })
  const connectedContent = new HttpConnectedContent({
    clock,
    allowHosts: () => content.connectedContent.allowHosts,
    credentials: (_ws, name) => content.connectedContent.credentials[name]?.headers,
    defaultTtlSeconds: content.connectedContent.defaultTtlSeconds,
    onCall: (c) => metrics.connectedContentCalls.inc({ source: c.host, outcome: c.outcome }),
  })
  closers.push(() => connectedContent.close())
  const codec = createTokenCodec({ ...(await loadPgTokenKeys(pool, clock.now())), clock })
  const renderer = new Renderer({ templates, profiles: reader, connectedContent, content, metrics })
  const messageIdDomain = messageIdDomainFor(config.from, publicUrl())
  const { transport } = createTransport(config, messageIdDomain)
  closers.push(() => transport.close())
  const { requireEmail, lookupEmail } = emailLookups(reader)
  const runner = new CampaignRunner({
    ledger,
    renderer,
    transport,
    suppressions,
    codec,
    publicUrl,
    clock,
    logger,
    metrics,
  })
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
    locks: lease,
    pauseAfterFailures: config.campaignPauseAfterFailures,
  })
  closers.push(() => campaigns.close())
  return {
    profiles,
    segments,
    templates,
    triggers,
    suppressions,
    campaignStore,
    campaigns,
    audience,
    renderer,
    transport,
    codec,
    content,
    publicUrl,
    lookupEmail,
    requireEmail,
  }
}
