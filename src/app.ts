/**
 * Embedded mode as one object (tests, bench, one-off commands): every role on SQLite and in-process
 * caches, composed by the one composition root (src/compose/root.ts).
 */
import type { FastifyInstance, RouteOptions } from 'fastify'
import type { CampaignService } from './campaigns/campaign-service.ts'
import { composeEmbedded } from './compose/root.ts'
import type { Config } from './config.ts'
import type { Clock } from './core/types.ts'
import type { SuppressionStore } from './delivery/suppression-store.ts'
import type { TokenCodec } from './delivery/tokens.ts'
import type { Transport } from './delivery/transport.ts'
import type { EventLog } from './log/event-log.ts'
import type { Metrics } from './observe/metrics.ts'
import type { ProfileStore } from './profiles/profile-store.ts'
import type { Renderer } from './render/renderer.ts'
import type { RenderPool } from './render-pool/render-pool.ts'
import type { TopicStore } from './topics/topic-store.ts'
import type { TriggerDispatcher } from './triggers/trigger-dispatcher.ts'
import type { TriggerStore } from './triggers/trigger-store.ts'
import type { Workspace } from './workspaces/workspace-store.ts'

export { DATABASE_FILE, LOG_FILE } from './compose/embedded-files.ts'

export interface App {
  config: Config
  server: FastifyInstance
  workspace: Workspace
  log: EventLog
  store: ProfileStore
  metrics: Metrics
  renderer: Renderer
  /** Previews and open-time renders run in its worker threads. */
  renders: RenderPool
  /** Signs tracking and unsubscribe links. */
  codec: TokenCodec
  suppressions: SuppressionStore
  topics: TopicStore
  /** Where email clients reach this server (tracking links). */
  readonly publicUrl: string
  /** SMTP (INKSTREAM_SMTP_URL) or .eml files in <dataDir>/outbox. */
  transport: Transport
  /** Human-readable: where campaign messages go. */
  transportDescription: string
  campaigns: CampaignService
  /** Trigger definitions and jobs. */
  triggers: TriggerStore
  /** Sends due trigger jobs; undefined in one-off commands (no processor). */
  triggerDispatcher: TriggerDispatcher | undefined
  /** Starts listening, then the senders that wait for the bound port; resolves with the base URL. */
  listen(): Promise<string>
  close(): Promise<void>
}

/** `env` is only read for `${VAR}` references in the content file (credentials). */
export async function createApp(
  config: Config,
  opts: {
    clock?: Clock
    env?: NodeJS.ProcessEnv
    /** False for one-off commands (preview) next to a running server: one processor per log. */
    processor?: boolean
    /** Told about every route registered (tests list them). */
    onRoute?: (route: RouteOptions) => void
  } = {},
): Promise<App> {
  const app = await composeEmbedded(config, opts)
  const { delivery } = app.services
  const store = app.backends.profiles
  if (delivery === undefined || store === undefined) {
    await app.close()
    throw new Error('embedded mode composes every service')
  }
  return {
    config,
    server: app.server,
    workspace: app.workspace,
    log: app.log,
    store,
    metrics: app.metrics,
    renderer: delivery.renderer,
    renders: delivery.renders,
    codec: delivery.codec,
    suppressions: delivery.stores.suppressions,
    topics: delivery.stores.topics,
    get publicUrl() {
      return app.publicUrl()
    },
    transport: delivery.transport,
    transportDescription: delivery.transportDescription,
    campaigns: delivery.campaigns,
    triggers: delivery.stores.triggers,
    triggerDispatcher: app.services.triggerDispatcher,
    listen: app.listen,
    close: app.close,
  }
}
