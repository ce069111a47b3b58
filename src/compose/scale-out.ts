/**
 * The scale-out backends (INKSTREAM_KAFKA_BROKERS + INKSTREAM_DATABASE_URL, optionally
 * INKSTREAM_REDIS_URL): the event log is Kafka, the store PostgreSQL, the shared caches Redis. A
 * process opens what its roles need (roles.ts says what each role serves):
 *
 * - every role: PostgreSQL (workspaces, keys) and the Kafka log (connected in the background: a
 *   process started while the broker is down waits for it and says so on /healthz);
 * - api, sender: the process lease (liveness for the other processes, campaign locks), the stores,
 *   the token keys, and the profile cache (Redis, else in process);
 * - processor: its own stores (the batch commit) and an in-process Processor, a member of the
 *   `profiles` consumer group; with Redis it deletes the cached profiles a batch made stale.
 *
 * Redis is opened once per process, whatever its roles. The only file that names the Kafka,
 * PostgreSQL and Redis classes.
 */
import type { Logger } from 'pino'
import type { AnalyticsStore } from '../analytics/analytics-store.ts'
import { PgAnalyticsStore } from '../analytics/pg-analytics-store.ts'
import { PgCampaignStore } from '../campaigns/pg-campaign-store.ts'
import { PgSendLedger } from '../campaigns/pg-send-ledger.ts'
import type { Config, Role } from '../config.ts'
import type { Cache } from '../content/cache/cache.ts'
import { MemoryCache } from '../content/cache/memory-cache.ts'
import { RedisCache } from '../content/cache/redis-cache.ts'
import { PgTemplateStore } from '../content/pg-template-store.ts'
import { InkError } from '../core/errors.ts'
import { parseFailpoints } from '../core/failpoints.ts'
import type { Clock } from '../core/types.ts'
import { openPg } from '../db/pg.ts'
import { PgProcessLease } from '../db/pg-lease.ts'
import { PgSuppressionStore } from '../delivery/pg-suppression-store.ts'
import { loadPgTokenKeys } from '../delivery/pg-token-keys.ts'
import { KafkaEventLog } from '../log/kafka-event-log.ts'
import { PgAlertStore } from '../observe/alerts/pg-alert-store.ts'
import { PgRollupStore } from '../observe/rollups/pg-rollup-store.ts'
import { bouncePolicies, bouncePolicySettings } from '../pipeline/bounce-policy.ts'
import { PgBatchStore } from '../pipeline/pg-batch-store.ts'
import { PROFILES_GROUP, Processor } from '../pipeline/processor.ts'
import { PgPrivacyStore } from '../privacy/pg-privacy-store.ts'
import { PgProfileStore } from '../profiles/pg-profile-store.ts'
import type { ProfileStore } from '../profiles/profile-store.ts'
import { PgSegmentStore } from '../segments/pg-segment-store.ts'
import { PgTopicStore } from '../topics/pg-topic-store.ts'
import type { TraitDef } from '../traits/traits-config.ts'
import { PgTriggerStore } from '../triggers/pg-trigger-store.ts'
import { PgWebhookOutbox } from '../webhooks/pg-outbox.ts'
import { PgWorkspaceStore } from '../workspaces/pg-workspace-store.ts'
import { type Backends, Closers, openWith, type ProcessorBackend, type ServiceStores } from './backends.ts'
import { rolesNeed } from './roles.ts'

export interface ScaleOutOptions {
  clock: Clock
  logger: Logger
  traits: readonly TraitDef[]
}

/** The name this process's Redis connection carries (CLIENT LIST): deployment topic and roles. */
export const redisClientName = (config: Pick<Config, 'kafkaTopic'>, roles: ReadonlySet<Role>): string =>
  `inkstream:${config.kafkaTopic}:${[...roles].join('+')}`

export async function openScaleOutBackends(
  config: Config,
  roles: ReadonlySet<Role>,
  opts: ScaleOutOptions,
): Promise<Backends> {
  const { kafkaBrokers, databaseUrl } = config
  if (kafkaBrokers === undefined || databaseUrl === undefined)
    throw new InkError(
      'INK_ERR_INVALID_CONFIG',
      'scale-out mode needs INKSTREAM_KAFKA_BROKERS and INKSTREAM_DATABASE_URL',
    )
  const { clock, logger } = opts
  const needs = rolesNeed(roles)
  const closers = new Closers()
  return openWith(closers, async () => {
    const pool = openPg(databaseUrl, {
      onError: (err) => logger.warn({ err }, 'PostgreSQL connection lost; reconnecting on the next query'),
    })
    closers.push(() => pool.end())
    const workspaces = await PgWorkspaceStore.open(pool)
    closers.push(() => workspaces.close())
    const observe = { rollups: new PgRollupStore(pool), alerts: new PgAlertStore(pool) }
    closers.push(() => observe.rollups.close())
    closers.push(() => observe.alerts.close())
    // Connects in the background: appends meanwhile answer 503 within their deadline.
    const log = KafkaEventLog.connect(
      {
        brokers: kafkaBrokers.split(','),
        topic: config.kafkaTopic,
        partitions: config.kafkaPartitions,
        clientId: `inkstream-${[...roles].join('+')}`,
        appendTimeoutMs: config.kafkaAppendTimeoutMs,
        failpoints: parseFailpoints(config.failpoints),
        logger,
      },
      (err, attempt) => logger.warn({ err, attempt }, 'Kafka is not reachable; retrying'),
    )
    closers.push(() => log.close())

    // One profile cache per process: renderers read through it, the processor deletes from it.
    let profileCache: Cache | undefined
    if (config.redisUrl !== undefined && (needs.stores || needs.processor)) {
      profileCache = await RedisCache.open({
        url: config.redisUrl,
        keyPrefix: `inkstream:${config.kafkaTopic}:profiles:`,
        connectionName: redisClientName(config, roles),
        onError: (err, operation) => logger.warn({ err, operation }, 'redis cache call failed'),
        clock,
      })
    } else if (needs.stores) profileCache = new MemoryCache({ maxEntries: 100_000, clock })
    const cache = profileCache
    if (cache) closers.push(() => cache.close())
    // Open-time images: with Redis, the same connection as profiles (one per process; keys `ot:…`), shared
    // by every api process; without it, in process.
    let blockCache: Cache | undefined = config.redisUrl !== undefined ? profileCache : undefined
    if (blockCache === undefined && needs.stores) {
      const local = new MemoryCache({ maxEntries: 2_000 })
      closers.push(() => local.close())
      blockCache = local
    }

    let profiles: ProfileStore | undefined
    let stores: ServiceStores | undefined
    let lease: PgProcessLease | undefined
    let jobs: PgTriggerStore | undefined
    if (needs.stores) {
      // This process's liveness for the others: sends it claims carry the lease's key, so a starting
      // sender recovers only the sends of processes that are gone; campaigns run under its locks.
      const owner = await PgProcessLease.open(pool, {
        onError: (err) => logger.error({ err }, 'process lease connection lost; reconnecting'),
      })
      lease = owner
      closers.push(() => owner.close())
      profiles = new PgProfileStore(pool, { clock })
      jobs = new PgTriggerStore(pool, { clock, owner })
      const opened = {
        segments: new PgSegmentStore(pool, { clock }),
        templates: new PgTemplateStore(pool, { clock }),
        triggers: jobs,
        suppressions: new PgSuppressionStore(pool, { clock }),
        topics: new PgTopicStore(pool, { clock }),
        campaigns: new PgCampaignStore(pool, { clock }),
        ledger: new PgSendLedger(pool, { clock, owner, failpoints: parseFailpoints(config.failpoints) }),
        webhooks: new PgWebhookOutbox(pool, { clock }),
        privacy: new PgPrivacyStore(pool),
      }
      for (const s of [profiles, ...Object.values(opened)]) closers.push(() => s.close())
      stores = { ...opened, tokenKeys: await loadPgTokenKeys(pool, clock.now()) }
    }

    // Engagement analytics: the api reads it, the processor role's analytics consumer writes it.
    let analytics: AnalyticsStore | undefined
    if (needs.stores || needs.processor) {
      const opened = await PgAnalyticsStore.open(pool)
      closers.push(() => opened.close())
      analytics = opened
    }

    let processor: ProcessorBackend | undefined
    if (needs.processor) {
      const store = new PgBatchStore(pool, { clock })
      const segments = new PgSegmentStore(pool, { clock })
      const triggers = new PgTriggerStore(pool, { clock })
      for (const s of [store, segments, triggers]) closers.push(() => s.close())
      profiles ??= store
      let running: Processor | undefined
      let stopped: Promise<void> | undefined
      // Registered after its stores: it stops (batch in flight committed) before they close.
      const stop = () => (stopped ??= running?.close() ?? Promise.resolve())
      closers.push(stop)
      processor = {
        async start(hooks) {
          running = new Processor({
            log,
            store,
            traits: opts.traits,
            clock,
            logger,
            batchSize: config.processorBatchSize,
            dedupeWindowMs: config.dedupeWindowDays * 86_400_000,
            segments,
            triggers,
            lingerMs: config.processorLingerMs,
            failpoints: parseFailpoints(config.failpoints),
            bouncePolicy: bouncePolicies(bouncePolicySettings(config)),
            onConflict: hooks.onConflict,
            onBatch: hooks.onBatch,
          })
          await running.start()
        },
        close: stop,
      }
    }

    const listener = jobs
    const lag = () => log.lag(PROFILES_GROUP).catch(() => null)
    return {
      log,
      workspaces,
      profiles,
      observe,
      stores,
      profileCache,
      blockCache,
      analytics,
      processor,
      locks: lease,
      // Processors NOTIFY when they commit jobs: a trigger is sent within milliseconds, not at the
      // next poll (the dispatcher's 1 s poll stays, for due times and while the listener is down).
      // The processor role runs the analytics consumer in process (services.ts).
      analyticsConsumer: undefined,
      // Kafka cannot delete records: an erased person's events stay until the topic's retention.ms.
      eraseLogEvents: undefined,
      eraseLogEventsByHash: undefined,
      listenForJobs:
        listener === undefined ? undefined : (onDue, onError) => listener.listen(onDue, { onError }),
      // Not ready (503) while the log is not connected or this processor has not joined its group.
      async health() {
        const h = log.health()
        return h.ready
          ? { ready: true, body: { roles: [...roles], consumerLag: await lag() } }
          : { ready: false, body: { roles: [...roles], consumerLag: null, reason: h.reason } }
      },
      label: [...roles].join(', '),
      describe: [`  log:       kafka ${kafkaBrokers} topic ${config.kafkaTopic}`, '  store:     postgresql'],
      close: () => closers.run(),
    }
  })
}
