/**
 * What renders, tracks and sends, composed once for the api and sender roles of both modes: the
 * content config and connected content, the renderer, the token codec, the transport, the
 * campaign runner, audience and service.
 */
import type { Logger } from 'pino'
import { ProfileAudienceResolver } from '../campaigns/audience.ts'
import { CampaignRunner } from '../campaigns/campaign-runner.ts'
import { CampaignService } from '../campaigns/campaign-service.ts'
import {
  createTransport,
  emailLookups,
  hasSegmentOf,
  type LinkBase,
  messageIdDomainFor,
  segmentMembersOf,
} from '../composition.ts'
import type { Config } from '../config.ts'
import { HttpConnectedContent } from '../content/connected-content/http-connected-content.ts'
import { type ContentConfig, loadContentConfig } from '../content/content-config.ts'
import type { Clock, InkEvent } from '../core/types.ts'
import { createTokenCodec, type TokenCodec } from '../delivery/tokens.ts'
import type { Transport } from '../delivery/transport.ts'
import { countConnectedContentCall } from '../observe/metric-records.ts'
import type { Metrics } from '../observe/metrics.ts'
import type { ProfileReader } from '../profiles/profile-reader.ts'
import { Renderer } from '../render/renderer.ts'
import { Previews } from '../render-pool/previews.ts'
import { RenderPool } from '../render-pool/render-pool.ts'
import type { Backends, Closers, ServiceStores } from './backends.ts'

/** What renders, tracks and sends: present in a process that runs the api or sender role. */
export interface Delivery {
  stores: ServiceStores
  content: ContentConfig
  renderer: Renderer
  /** Previews and open-time renders run in its workers (render-pool.ts). */
  renders: RenderPool
  previews: Previews
  /** Signs tracking and unsubscribe links. */
  codec: TokenCodec
  transport: Transport
  /** Human-readable: where messages go. */
  transportDescription: string
  campaigns: CampaignService
  audience: ProfileAudienceResolver
  /** The `email` trait, or undefined; for the unsubscribe route (best effort). */
  lookupEmail(workspaceId: string, userId: string): Promise<string | undefined>
  /** The `timezone` trait (quiet hours); throws when the profile cannot be read now. */
  lookupTimezone(workspaceId: string, userId: string): Promise<unknown>
  /** The `email` trait; throws when the profile cannot be read now (the send is retried later). */
  requireEmail(workspaceId: string, userId: string): Promise<string | undefined>
}

export interface DeliveryOptions {
  clock: Clock
  logger: Logger
  /** Only read for `${VAR}` references in the content file (credentials) and `env:NAME` DKIM keys. */
  env: NodeJS.ProcessEnv
  links: LinkBase
  metrics: Metrics
  /** The event log: send outcomes are written back into it as events for the recipient. */
  events: { append(events: readonly InkEvent[]): Promise<void> }
  /** What is composed here and must be closed registers here. */
  closers: Closers
}

/** The renderer, transport, codec and campaigns: what the api and sender roles share. */
export async function composeDelivery(
  stores: ServiceStores,
  reader: ProfileReader,
  locks: Backends['locks'],
  config: Config,
  o: DeliveryOptions,
): Promise<Delivery> {
  const { clock, logger, links, metrics, closers } = o
  const content = loadContentConfig(config.contentFile, o.env)
  const connectedContent = new HttpConnectedContent({
    clock,
    allowHosts: () => content.connectedContent.allowHosts,
    credentials: (_ws, name) => content.connectedContent.credentials[name]?.headers,
    defaultTtlSeconds: content.connectedContent.defaultTtlSeconds,
    onCall: (c) => countConnectedContentCall(metrics, c),
  })
  closers.push(() => connectedContent.close())
  const codec = createTokenCodec({ ...stores.tokenKeys, clock })
  const renderer = new Renderer({
    templates: stores.templates,
    profiles: reader,
    connectedContent,
    content,
    metrics,
  })
  // Its workers start once the api role listens (services.ts) or with the first render; closed before connected content.
  const renders = new RenderPool({ templates: stores.templates, connectedContent })
  closers.push(() => renders.close())
  const previews = new Previews({ renders, profiles: reader, content, metrics })
  // Without INKSTREAM_PUBLIC_URL, links name the port actually bound (INKSTREAM_PORT=0 picks one).
  const messageIdDomain = messageIdDomainFor(config.from, links.publicUrl())
  const { transport, description } = createTransport(config, messageIdDomain, o.env)
  closers.push(() => transport.close())
  const { requireEmail, lookupEmail, lookupTimezone } = emailLookups(reader)
  const runner = new CampaignRunner({
    ledger: stores.ledger,
    renderer,
    transport,
    suppressions: stores.suppressions,
    topics: stores.topics,
    codec,
    publicUrl: links.publicUrl,
    clock,
    openTimeTtlMs: config.openTimeTtlDays * 86_400_000,
    logger,
    metrics,
    events: o.events,
    lookupTimezone,
  })
  const audience = new ProfileAudienceResolver({
    segmentMembers: segmentMembersOf(stores.segments),
    hasSegment: hasSegmentOf(stores.segments),
    lookupEmail: requireEmail,
  })
  const campaigns = new CampaignService({
    store: stores.campaigns,
    runner,
    audience,
    renderer,
    defaultFrom: config.from,
    logger,
    pauseAfterFailures: config.campaignPauseAfterFailures,
    clock,
    ...(locks === undefined ? {} : { locks }),
  })
  closers.push(() => campaigns.close())
  return {
    stores,
    content,
    renderer,
    renders,
    previews,
    codec,
    transport,
    transportDescription: description,
    campaigns,
    audience,
    lookupEmail,
    requireEmail,
    lookupTimezone,
  }
}
