/**
 * The composition root of every process: open the backends of the mode (embedded.ts or
 * scale-out.ts), compose the services from them (services.ts), build the server for the roles
 * (http/server.ts), and close all of it in reverse order. `npm start`, each `--role`, createApp
 * and createScaleOutApp all go through composeApp.
 */
import type { FastifyInstance, RouteOptions } from 'fastify'
import type { Logger } from 'pino'
import { linkBase } from '../composition.ts'
import { type Config, parseRoles, type Role } from '../config.ts'
import { type Clock, systemClock } from '../core/types.ts'
import type { FeedbackSink } from '../delivery/feedback.ts'
import { buildServer } from '../http/server.ts'
import type { EventLog } from '../log/event-log.ts'
import { createLogger } from '../observe/logging.ts'
import type { Metrics } from '../observe/metrics.ts'
import { serviceName, startTracing } from '../observe/tracing.ts'
import { loadTraitsConfig, type TraitDef } from '../traits/traits-config.ts'
import type { Workspace } from '../workspaces/workspace-store.ts'
import { type Backends, Closers, openWith } from './backends.ts'
import { openEmbeddedBackends } from './embedded.ts'
import { ALL_ROLES, ONE_OFF_ROLES, rolesNeed } from './roles.ts'
import { composeServices, type Services } from './services.ts'

export interface AppOptions {
  clock?: Clock
  logger?: Logger
  /** Only read for `${VAR}` references in the content file (credentials). Default: none. */
  env?: NodeJS.ProcessEnv
  /** Told about every route registered (tests list them). */
  onRoute?: (route: RouteOptions) => void
  /** Where the bounce mailbox's feedback goes (INKSTREAM_BOUNCE_IMAP). */
  feedbackSink?: FeedbackSink | undefined
  /**
   * False: resolve as soon as the server is built, while the log's consumers still start (their
   * threads load on the other core); the caller then handles `consumersStarted` (`inkstream start`
   * listens meanwhile and exits if one cannot start). Default true: resolve once they run.
   */
  waitForConsumers?: boolean
}

/** What a mode's opener gets from the root. */
export interface OpenContext {
  clock: Clock
  logger: Logger
  traits: readonly TraitDef[]
}

export interface ComposedApp {
  config: Config
  roles: ReadonlySet<Role>
  server: FastifyInstance
  workspace: Workspace
  metrics: Metrics
  log: EventLog
  backends: Backends
  services: Services
  /** INKSTREAM_PUBLIC_URL, else the URL the server is bound to. */
  publicUrl(): string
  /** Starts listening, then the senders that wait for the bound port; resolves with the base URL. */
  listen(): Promise<string>
  /** The lines `inkstream start` prints once listening at `url`. */
  banner(url: string): string[]
  /** Resolves once the log's consumers run (already so unless `waitForConsumers: false`); rejects if one cannot start. */
  consumersStarted: Promise<void>
  close(): Promise<void>
}

export async function composeApp(
  config: Config,
  roles: ReadonlySet<Role>,
  open: (ctx: OpenContext) => Promise<Backends>,
  opts: AppOptions = {},
): Promise<ComposedApp> {
  const clock = opts.clock ?? systemClock
  // OTEL_* are the standard process-wide settings of OpenTelemetry (its exporter reads the rest).
  const logger =
    opts.logger ?? createLogger({ level: config.logLevel, serviceName: serviceName(process.env) })
  const tracing = await startTracing(process.env)
  const traits = loadTraitsConfig(config.traitsFile).traits
  // Without INKSTREAM_PUBLIC_URL, links name the port actually bound (INKSTREAM_PORT=0 picks one).
  const links = linkBase(config)
  const backends = await open({ clock, logger, traits }).catch(async (err: unknown) => {
    await tracing?.shutdown()
    throw err
  })
  const closers = new Closers()
  // Closed last: the spans of everything closing before it are still exported.
  if (tracing) closers.push(() => tracing.shutdown())
  closers.push(() => backends.close())
  return openWith(closers, async () => {
    const services = await composeServices(backends, config, roles, {
      clock,
      logger,
      env: opts.env ?? {},
      traits,
      links,
      feedbackSink: opts.feedbackSink,
      tracing,
    })
    closers.push(() => services.close())
    const server = await buildServer(services.server, roles, opts.onRoute ? { onRoute: opts.onRoute } : {})
    closers.push(() => server.close())
    if (opts.waitForConsumers !== false) await services.consumersStarted
    const { workspace } = services
    return {
      config,
      roles,
      server,
      workspace,
      metrics: services.metrics,
      log: backends.log,
      backends,
      services,
      publicUrl: links.publicUrl,
      consumersStarted: services.consumersStarted,
      listen: () => links.listen(server),
      banner: (url) => [
        `Inkstream ${backends.label === undefined ? '' : `(${backends.label}) `}is running at ${url}`,
        `  workspace: ${workspace.id}`,
        `  write key: ${workspace.writeKey}`,
        `  admin key: ${workspace.adminKey}`,
        ...(roles.has('api') ? [`  dashboard: ${url}/ (sign in with the admin key)`] : []),
        ...backends.describe,
        ...(services.delivery ? [`  mail:      ${services.delivery.transportDescription}`] : []),
      ],
      close: () => closers.run(),
    }
  })
}

/** Embedded mode: every role (or, `processor: false`, the routes only) on SQLite and in-process caches. */
export function composeEmbedded(
  config: Config,
  opts: AppOptions & { processor?: boolean } = {},
): Promise<ComposedApp> {
  const roles = (opts.processor ?? true) ? ALL_ROLES : ONE_OFF_ROLES
  return composeApp(
    config,
    roles,
    ({ clock }) => openEmbeddedBackends(config, { clock, processor: rolesNeed(roles).processor }),
    opts,
  )
}

/** Scale-out mode: the roles of INKSTREAM_ROLES / --role on Kafka, PostgreSQL and Redis. */
export function composeScaleOut(config: Config, opts: AppOptions = {}): Promise<ComposedApp> {
  const roles = parseRoles(config.roles)
  // Loaded only here: the Kafka, PostgreSQL and Redis clients are no part of an embedded start-up.
  const open = async (ctx: OpenContext) =>
    (await import('./scale-out.ts')).openScaleOutBackends(config, roles, ctx)
  return composeApp(config, roles, open, opts)
}

/** `inkstream start`: scale-out when its backends are configured, else embedded. */
export function openApp(config: Config, opts: AppOptions = {}): Promise<ComposedApp> {
  return config.kafkaBrokers !== undefined ? composeScaleOut(config, opts) : composeEmbedded(config, opts)
}
