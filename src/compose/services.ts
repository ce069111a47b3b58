/**
 * Composes the services of a process from its Backends record, the same way in both modes: what
 * renders and sends (delivery.ts: renderer, transport, codec, campaigns, audience), the trigger
 * dispatcher and its isMember, the processor's hooks (metrics, cache invalidation, waking the sender),
 * sender start-after-listen and sender recovery, and the dependencies of the routes.
 */

import type { Logger } from 'pino'
import { AnalyticsConsumer, analyticsSettings, countConversions } from '../analytics/analytics-consumer.ts'
import { ANALYTICS_GROUP } from '../analytics/analytics-store.ts'
import type { LinkBase } from '../composition.ts'
import type { Config, Role } from '../config.ts'
import { loadTemplatesDir } from '../content/template-files.ts'
import { parseFailpoints } from '../core/failpoints.ts'
import type { Clock } from '../core/types.ts'
import { espWebhookSettings } from '../delivery/esp/esp-config.ts'
import { SnsVerifier } from '../delivery/esp/sns.ts'
import type { FeedbackSink } from '../delivery/feedback.ts'
import { EventLogFeedbackSink } from '../delivery/feedback-sink.ts'
import type { ApiRoutesDeps, ServerDeps } from '../http/server.ts'
import { alertWebhookOf, composeAnomalies } from '../observe/alerts/compose-anomalies.ts'
import { countProfileRead, setSendQueue } from '../observe/metric-records.ts'
import {
  createMetrics,
  type Metrics,
  observeBatch,
  observeTraceSpans,
  readConsumerLags,
  watchConsumerGroup,
} from '../observe/metrics.ts'
import type { Tracing } from '../observe/tracing.ts'
import { composeOpenTime } from '../opentime/compose-open-time.ts'
import { PROFILES_GROUP } from '../pipeline/processor.ts'
import { ErasuresInFlight, startErasureResume } from '../privacy/erasure-resume.ts'
import { ProfileReader } from '../profiles/profile-reader.ts'
import type { ProfileStore } from '../profiles/profile-store.ts'
import type { SegmentStore } from '../segments/segment-store.ts'
import { startSenderRecovery } from '../sender-recovery.ts'
import { DoubleOptIn } from '../topics/double-opt-in.ts'
import type { TraitDef } from '../traits/traits-config.ts'
import { TriggerDispatcher } from '../triggers/trigger-dispatcher.ts'
import { composeLive } from '../ui/live-routes.ts'
import { NO_OPEN_HOOKS, type OpenHooks } from '../webhooks/open-hooks.ts'
import { composeOpenWebhook } from '../webhooks/open-webhook.ts'
import { webhookConfigOf } from '../webhooks/webhook-config.ts'
import type { Workspace } from '../workspaces/workspace-store.ts'
import { type Backends, Closers, openWith } from './backends.ts'
import { composeBounceMailbox } from './bounce-mailbox.ts'
import { composeDelivery, type Delivery } from './delivery.ts'

/** How often a sender looks for the sends of senders that died (jobs and campaigns). */
const SENDER_RECOVERY_MS = 30_000

export interface ComposeOptions {
  clock: Clock
  logger: Logger
  /** Only read for `${VAR}` references in the content file (credentials). */
  env: NodeJS.ProcessEnv
  traits: readonly TraitDef[]
  links: LinkBase
  /** Where the bounce mailbox's feedback goes (src/delivery/feedback.ts). */
  feedbackSink?: FeedbackSink | undefined
  /** This thread's tracer, when tracing is on: its span outcomes are read before each scrape. */
  tracing?: Pick<Tracing, 'spans'> | undefined
}

export interface Services {
  workspace: Workspace
  metrics: Metrics
  delivery: Delivery | undefined
  /** Sends due trigger jobs; undefined without the sender role. */
  triggerDispatcher: TriggerDispatcher | undefined
  /** What the open-time routes call after recording an open (enqueues the open webhook). */
  openHooks: OpenHooks
  /**
   * Where delivery feedback goes (ESP webhooks, the mailbox reader): resolves and appends to the log.
   * Undefined in a process without a profile store (a collector or processor alone).
   */
  feedback: FeedbackSink | undefined
  /** What buildServer needs. */
  server: ServerDeps
  /** Resolves once the log's consumers (processor, analytics) run; rejects if one cannot start. */
  consumersStarted: Promise<void>
  close(): Promise<void>
}

/**
 * Whether the profile behind a trigger job is (still) in a segment. The event's profile may have
 * been merged into another one since: the current one is found by the userId first.
 */
export function isMemberOf(
  profiles: Pick<ProfileStore, 'findProfileId'>,
  segments: Pick<SegmentStore, 'isMember'>,
): (workspaceId: string, segmentId: string, userId: string, profileId: string) => Promise<boolean> {
  return async (workspaceId, segmentId, userId, profileId) => {
    const current =
      (await profiles.findProfileId(workspaceId, 'userId', userId)) ??
      (await profiles.findProfileId(workspaceId, 'anonymousId', userId)) ??
      profileId
    return segments.isMember(workspaceId, segmentId, current)
  }
}

export async function composeServices(
  backends: Backends,
  config: Config,
  roles: ReadonlySet<Role>,
  opts: ComposeOptions,
): Promise<Services> {
  const { clock, logger, traits, links } = opts
  const { log, workspaces } = backends
  const closers = new Closers()
  return openWith(closers, async () => {
    const workspace = await workspaces.ensure(config.workspaceId, {
      writeKey: config.writeKey,
      adminKey: config.adminKey,
    })
    const metrics = createMetrics()
    const reader =
      backends.profiles && backends.profileCache
        ? new ProfileReader({
            store: backends.profiles,
            traits,
            cache: backends.profileCache,
            clock,
            onRead: (outcome) => countProfileRead(metrics, outcome),
          })
        : undefined

    let delivery: Delivery | undefined
    if ((roles.has('api') || roles.has('sender')) && backends.stores && reader) {
      delivery = await composeDelivery(backends.stores, reader, backends.locks, config, {
        ...opts,
        metrics,
        events: log,
        closers,
      })
      if (roles.has('api') && config.templatesDir !== undefined)
        await loadTemplatesDir(
          config.templatesDir,
          workspace.id,
          delivery.stores.templates,
          delivery.renderer,
        )
    }

    // The open webhook: the api enqueues opens; the sender role dispatches them, as it sends everything
    // else that goes out on its own, so api processes spend no time on receivers.
    let openHooks = NO_OPEN_HOOKS
    if (delivery) {
      const webhook = composeOpenWebhook(delivery.stores.webhooks, webhookConfigOf(delivery.content), {
        dispatch: roles.has('sender'),
        clock,
        logger,
        retentionMs: webhookRetentionMs(config),
      })
      openHooks = webhook.hooks
      closers.push(() => webhook.close())
      links.afterListen(() => webhook.start())
    }

    // One sink per process for every feedback source (ESP webhooks here, the mailbox reader).
    const feedback =
      backends.profiles &&
      new EventLogFeedbackSink({
        log,
        messages: backends.analytics,
        profiles: backends.profiles,
        clock,
        logger,
        metrics,
      })

    // Every process writes its own rollups; one with the stores may watch them (one at a time).
    const { observe } = backends
    const anomalies = composeAnomalies({
      ...observe,
      registry: metrics.registry,
      clock,
      logger,
      retentionMs: config.rollupRetentionDays * 86_400_000,
      watch: delivery && {
        outbox: delivery.stores.webhooks,
        workspaceId: workspace.id,
        webhook: alertWebhookOf(config),
        locks: backends.locks,
        deployment: config.kafkaTopic,
        webhookRetentionMs: webhookRetentionMs(config),
      },
    })
    closers.push(() => anomalies.close())
    links.afterListen(() => anomalies.start())

    let dispatcher: TriggerDispatcher | undefined
    if (roles.has('sender') && delivery && backends.profiles) {
      const d = delivery
      const stores = d.stores
      const sender = new TriggerDispatcher({
        store: stores.triggers,
        renderer: d.renderer,
        transport: d.transport,
        suppressions: stores.suppressions,
        topics: stores.topics,
        codec: d.codec,
        publicUrl: links.publicUrl,
        clock,
        openTimeTtlMs: config.openTimeTtlDays * 86_400_000,
        logger,
        // Outcomes are counted and written back into the log as events for the recipient.
        metrics,
        events: log,
        lookupEmail: d.requireEmail,
        lookupTimezone: d.lookupTimezone,
        isMember: isMemberOf(backends.profiles, stores.segments),
      })
      dispatcher = sender
      closers.push(() => sender.close())
      // Bounces and complaints that reach the bounce mailbox (INKSTREAM_BOUNCE_IMAP), read where the sending is.
      const bounces = await composeBounceMailbox(config, {
        sink: opts.feedbackSink ?? feedback,
        workspaceId: workspace.id,
        clock,
        logger,
      })
      if (bounces) {
        closers.push(() => bounces.close())
        links.afterListen(() => bounces.start())
      }
      // Everything that sends on its own starts once links can name the bound port (port 0).
      links.afterListen(async () => {
        await sender.start()
        if (backends.listenForJobs) {
          const stop = await backends.listenForJobs(
            (dueAt) => sender.wake(dueAt),
            (err) =>
              logger.warn(
                { err },
                'trigger job notifications lost; polling every second until they are back',
              ),
          )
          closers.push(stop)
        }
        // Campaigns a crash (or a shutdown mid-send) left running.
        void d.campaigns.resumeInterrupted().catch((err) => logger.error({ err }, 'campaign resume failed'))
        // Owner-aware stores only: the sends of a sender that dies while this one runs are taken over.
        if (backends.locks)
          closers.push(
            startSenderRecovery({
              triggers: stores.triggers,
              campaigns: d.campaigns,
              intervalMs: SENDER_RECOVERY_MS,
              logger,
            }),
          )
      })
    }

    // The log's consumers (the processor, the analytics consumer) start together and in the
    // background: their threads load their modules on the other core while this one builds the
    // server (issue 14, start-up ≤ 1 s). Events appended meanwhile wait in the durable log, as
    // they would behind a busy consumer. `consumersStarted` says when both run, or why one could
    // not start; composeApp waits for it unless its caller handles it (`inkstream start`).
    const consumers: Promise<void>[] = []
    if (backends.processor) {
      const processor = backends.processor
      closers.push(() => processor.close())
      consumers.push(
        processor.start({
          onBatch: (report) => {
            observeBatch(metrics, report)
            // A profile read for rendering must not outlive the change that made it stale.
            if (reader) for (const { workspaceId, id } of report.ids) void reader.invalidate(workspaceId, id)
            if (report.triggerJobsDueAt !== null) dispatcher?.wake(report.triggerJobsDueAt)
          },
          onConflict: () => metrics.profileConflicts.inc(),
          onSpans: (spans, source) => observeTraceSpans(metrics, source, spans),
          onError: (err) => logger.error({ err }, 'processor failed'),
        }),
      )
    }

    watchConsumerGroup(metrics, PROFILES_GROUP)
    // Engagement analytics are folded where the log is consumed: the processor role (Kafka's consumer
    // group shares the partitions between processors), in embedded mode the one process (in a
    // thread of its own, which the opener runs).
    if (backends.analyticsConsumer) {
      const analytics = backends.analyticsConsumer
      closers.push(() => analytics.close())
      consumers.push(
        analytics.start({
          onConversions: countConversions(metrics),
          onError: (err) => logger.error({ err }, 'analytics consumer failed'),
        }),
      )
      watchConsumerGroup(metrics, ANALYTICS_GROUP)
    } else if (backends.processor && backends.analytics) {
      const analytics = new AnalyticsConsumer({
        ...analyticsSettings(config),
        log,
        store: backends.analytics,
        clock,
        logger,
        onConversions: countConversions(metrics),
      })
      closers.push(() => analytics.close())
      consumers.push(analytics.start())
      watchConsumerGroup(metrics, ANALYTICS_GROUP)
    }
    const consumersStarted = Promise.all(consumers).then(() => undefined)
    // Observed here too, so a failure nobody waits for yet is never an unhandled rejection.
    consumersStarted.catch(() => {})

    const server: ServerDeps = {
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
      api: roles.has('api')
        ? apiRoutes(backends, delivery, config, {
            ...opts,
            reader,
            metrics,
            openHooks,
            closers,
            roles,
            feedback,
          })
        : undefined,
      beforeScrape: async () => {
        await readConsumerLags(metrics, (group) => log.lag(group))
        if (opts.tracing) observeTraceSpans(metrics, 'main', opts.tracing.spans())
        const due = await dispatcher?.dueCount().catch(() => undefined)
        setSendQueue(metrics, due, delivery?.campaigns.runs())
      },
      health: () => backends.health(),
    }
    return {
      workspace,
      metrics,
      delivery,
      triggerDispatcher: dispatcher,
      openHooks,
      feedback,
      server,
      consumersStarted,
      close: () => closers.run(),
    }
  })
}

/** What the api role's routes are composed with, beyond ComposeOptions. */
type ApiComposeOptions = ComposeOptions & {
  reader: ProfileReader | undefined
  metrics: Metrics
  openHooks: OpenHooks
  closers: Closers
  roles: ReadonlySet<Role>
  feedback: FeedbackSink | undefined
}

/** The dependencies of the api role's routes. */
function apiRoutes(
  backends: Backends,
  delivery: Delivery | undefined,
  config: Config,
  opts: ApiComposeOptions,
): ApiRoutesDeps {
  const { profiles, workspaces, log } = backends
  if (delivery === undefined || profiles === undefined) throw new Error('the api role needs the stores')
  const { stores, renderer } = delivery
  const { clock, traits } = opts
  // Erasures a crash interrupted before the log's copies were deleted are finished here (at start,
  // then each minute for entries older than ten minutes), never one this process's route is in.
  const erasures = new ErasuresInFlight()
  const resume = startErasureResume(
    {
      privacy: stores.privacy,
      eraseLogEventsByHash: backends.eraseLogEventsByHash,
      logger: opts.logger,
      clock,
    },
    erasures,
  )
  opts.closers.push(() => resume.close())
  // Previews and opens render in its workers: warm them once listening (not competing with the
  // start-up for the cores), not with the first request.
  opts.links.afterListen(() => delivery.renders.start())
  // Double opt-in confirmations go through the configured transport, outside the send path.
  const doubleOptIn = new DoubleOptIn({
    codec: delivery.codec,
    transport: delivery.transport,
    topics: stores.topics,
    from: config.from,
    publicUrl: opts.links.publicUrl,
    lookupEmail: delivery.lookupEmail,
    clock,
    log: opts.logger,
  })
  return {
    profiles: {
      store: profiles,
      workspaces,
      traits,
      clock,
      segments: stores.segments,
      analytics: backends.analytics,
    },
    privacy: {
      store: profiles,
      privacy: stores.privacy,
      suppressions: stores.suppressions,
      workspaces,
      traits,
      clock,
      segments: stores.segments,
      analytics: backends.analytics,
      reader: opts.reader,
      eraseLogEvents: backends.eraseLogEvents,
      erasures,
      failpoints: parseFailpoints(config.failpoints),
    },
    segments: { segments: stores.segments, workspaces },
    templates: {
      templates: stores.templates,
      renderer,
      previews: delivery.previews,
      renders: delivery.renders,
      workspaces,
      lint: { traitNames: traits.map((t) => t.name), workspaceFallbacks: delivery.content.fallbacks },
    },
    // The recipient of a link is a userId; its address is the profile's `email` trait.
    tracking: {
      codec: delivery.codec,
      log,
      suppressions: stores.suppressions,
      clock,
      lookupEmail: delivery.lookupEmail,
      metrics: opts.metrics,
      topics: stores.topics,
      doubleOptIn,
      // A trigger's messages carry `trigger:<id>` where a campaign's carry its id.
      topicOf: async (ws: string, campaignId: string) =>
        campaignId.startsWith('trigger:')
          ? (await stores.triggers.get(ws, campaignId.slice('trigger:'.length)))?.topic
          : ((await stores.campaigns.get(ws, campaignId))?.topic ?? undefined),
    },
    suppressions: { suppressions: stores.suppressions, workspaces },
    topics: { topics: stores.topics, workspaces, log, clock, doubleOptIn },
    testSend: {
      previews: delivery.previews,
      transport: delivery.transport,
      suppressions: stores.suppressions,
      workspaces,
      defaultFrom: config.from,
    },
    campaigns: {
      campaigns: stores.campaigns,
      topics: stores.topics,
      service: delivery.campaigns,
      audience: delivery.audience,
      workspaces,
    },
    triggers: {
      triggers: stores.triggers,
      workspaces,
      renderer,
      defaultFrom: config.from,
      topics: stores.topics,
    },
    webhooks: { outbox: stores.webhooks, workspaces },
    analytics: backends.analytics && {
      analytics: backends.analytics,
      campaigns: stores.campaigns,
      triggers: stores.triggers,
      templates: stores.templates,
      workspaces,
      clock,
    },
    anomalies: { ...backends.observe, workspaces, clock },
    ui: { workspaces, clock, publicUrl: () => opts.links.publicUrl() },
    live: composeLive({ ...opts, ...backends.observe, registry: opts.metrics.registry, workspaces }),
    openTime: openTimeRoutesOf(backends, delivery, opts),
    espWebhooks: opts.feedback && espWebhooksOf(backends, opts.feedback, config, opts.clock),
  }
}

/** The ESP webhooks' dependencies: the process's feedback sink, the settings and the SNS verifier. */
function espWebhooksOf(
  backends: Backends,
  sink: FeedbackSink,
  config: Config,
  clock: Clock,
): NonNullable<ApiRoutesDeps['espWebhooks']> {
  const settings = espWebhookSettings(config)
  return {
    settings,
    sink,
    workspaces: backends.workspaces,
    sns: new SnsVerifier({ allowHost: settings.snsCertHosts }),
    clock,
  }
}

/** The open-time routes' service (absent without a profile reader or a block cache); closed with the process. */
function openTimeRoutesOf(
  backends: Backends,
  delivery: Delivery,
  opts: ApiComposeOptions,
): ApiRoutesDeps['openTime'] {
  if (opts.reader === undefined || backends.blockCache === undefined) return undefined
  const openTime = composeOpenTime({
    codec: delivery.codec,
    renders: delivery.renders,
    content: delivery.content,
    reader: opts.reader,
    campaigns: delivery.stores.campaigns,
    blockCache: backends.blockCache,
    log: backends.log,
    openHooks: opts.openHooks,
    metrics: opts.metrics,
    clock: opts.clock,
    logger: opts.logger,
    publicUrl: opts.links.publicUrl,
  })
  opts.closers.push(() => openTime.close())
  opts.links.afterListen(() => openTime.start())
  return { service: openTime.service }
}

/**
 * How long delivered and failed webhook rows are kept: INKSTREAM_WEBHOOK_RETENTION_DAYS, and never
 * less than the log's retention (a row dedupes its event: an event consumed again must find it).
 */
function webhookRetentionMs(config: { webhookRetentionDays: number; logRetentionDays: number }): number {
  return Math.max(config.webhookRetentionDays, config.logRetentionDays) * 86_400_000
}
