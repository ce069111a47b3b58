/**
 * The composition root of scale-out mode (INKSTREAM_KAFKA_BROKERS + INKSTREAM_DATABASE_URL, and
 * optionally INKSTREAM_REDIS_URL): the event log is Kafka, the store PostgreSQL, the shared caches
 * Redis, and one process runs the roles it is given (`inkstream start --role …`):
 *
 * - collector: the Segment-compatible ingest API and /sdk.js; appends to Kafka, keeps no state.
 * - processor: a member of the `profiles` consumer group; folds events into PostgreSQL. Run as many
 *   as the topic has partitions; Kafka shares the partitions among them.
 * - api / sender (admin API, tracking routes, campaigns, trigger dispatch): not composed here yet;
 *   asking for them is a configuration error rather than a process that silently does less.
 *
 * Every process serves /metrics and /healthz on its port. app.ts composes the embedded mode.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import Fastify, { LogController } from 'fastify'
import { type Logger, pino } from 'pino'
import { type Config, parseRoles, type Role } from './config.ts'
import { RedisCache } from './content/cache/redis-cache.ts'
import { InkError } from './core/errors.ts'
import { type Clock, systemClock } from './core/types.ts'
import { openPg, type PgPool } from './db/pg.ts'
import { installErrorHandler } from './http/error-handler.ts'
import { collectorRoutes } from './ingest/collector-routes.ts'
import { sdkRoute } from './ingest/sdk-route.ts'
import { KafkaEventLog } from './log/kafka-event-log.ts'
import { createMetrics, type Metrics, observeBatch } from './observe/metrics.ts'
import { PROFILES_GROUP, Processor } from './pipeline/processor.ts'
import { loadTraitsConfig } from './pipeline/traits-config.ts'
import { PgProfileStore } from './profiles/pg-profile-store.ts'
import { ProfileReader } from './profiles/profile-reader.ts'
import { PgSegmentStore } from './segments/pg-segment-store.ts'
import { PgTriggerStore } from './triggers/pg-trigger-store.ts'
import { PgWorkspaceStore } from './workspaces/pg-workspace-store.ts'
import type { Workspace } from './workspaces/workspace-store.ts'

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
  const unbuilt = [...roles].filter((r) => r === 'api' || r === 'sender')
  if (unbuilt.length > 0)
    throw new InkError(
      'INK_ERR_INVALID_CONFIG',
      `in scale-out mode only the collector and processor roles run so far (asked for ${[...roles].join(', ')}); ` +
        'start with --role collector or --role processor',
    )
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
    const log = await KafkaEventLog.open({
      brokers: config.kafkaBrokers.split(','),
      topic: config.kafkaTopic,
      partitions: config.kafkaPartitions,
      clientId: `inkstream-${[...roles].join('+')}`,
      logger,
    })
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
    server.get('/healthz', async () => ({ status: 'ok', roles: [...roles], consumerLag: await lag() }))
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
      listen: () => server.listen({ host: config.host, port: config.port }),
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
