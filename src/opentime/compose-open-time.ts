/**
 * Builds the open-time service of the api role from what the composition already has: the
 * delivery's codec, renderer and content config, the profile reader, the block cache of the mode
 * (Backends.blockCache), the event log, and the open hooks when a webhook branch provides them.
 */
import type { Logger } from 'pino'
import type { CampaignStore } from '../campaigns/campaign-store.ts'
import type { Cache } from '../content/cache/cache.ts'
import type { ContentConfig } from '../content/content-config.ts'
import type { Clock, InkEvent, JsonObject } from '../core/types.ts'
import type { TokenCodec } from '../delivery/tokens.ts'
import { countOpenTimeCache } from '../observe/metric-records.ts'
import type { Metrics } from '../observe/metrics.ts'
import type { ProfileReader } from '../profiles/profile-reader.ts'
import type { RenderPool } from '../render-pool/render-pool.ts'
import { BlockCache } from './block-cache.ts'
import { createBlockImageFetch } from './block-image-fetch.ts'
import { DrawGate } from './draw-gate.ts'
import { DrawPool } from './draw-pool.ts'
import type { OpenHooks } from './open-recorder.ts'
import { openTimeCacheCounter } from './open-time-metrics.ts'
import { OpenTimeService } from './open-time-service.ts'

export interface OpenTimeComposeDeps {
  codec: TokenCodec
  renders: RenderPool
  reader: ProfileReader
  content: ContentConfig
  campaigns: CampaignStore
  blockCache: Cache
  log: { append(events: readonly InkEvent[]): Promise<void> }
  openHooks?: OpenHooks | undefined
  metrics: Metrics
  clock: Clock
  logger: Logger
  publicUrl: () => string
}

/** Campaign variables change only in a draft; a minute is as fresh as any open needs. */
const CAMPAIGN_VARS_TTL_MS = 60_000

/**
 * The service; start() for its drawing (call it once the server listens), and close() for what it
 * owns (the drawing thread).
 */
export function composeOpenTime(d: OpenTimeComposeDeps): {
  service: OpenTimeService
  start(): void
  close(): Promise<void>
} {
  const counter = openTimeCacheCounter(d.metrics)
  const blockCache = new BlockCache(
    d.blockCache,
    () => d.content.openTime.cacheTtlSeconds * 1000,
    (layer, result) => {
      counter.inc({ layer, result })
      countOpenTimeCache(d.metrics, layer, result)
    },
  )
  // Product photos in live blocks: the connected-content guard and allow-list, bounded per open.
  const imageFetch = createBlockImageFetch({
    allowHosts: () => d.content.connectedContent.allowHosts,
    cache: blockCache,
  })
  const vars = new Map<string, { at: number; value: JsonObject | undefined }>()
  // Drawings in their own thread once it is ready; meanwhile here, on half the event loop at most.
  const pool = new DrawPool()
  const drawGate = new DrawGate({ max: 1, share: () => (pool.ready ? 1 : 0.5) })
  const service = new OpenTimeService({
    codec: d.codec,
    renders: d.renders,
    profiles: d.reader,
    campaignVars: async (workspaceId, campaignId) => {
      const key = `${workspaceId}\n${campaignId}`
      const hit = vars.get(key)
      if (hit && d.clock.now() - hit.at < CAMPAIGN_VARS_TTL_MS) return hit.value
      const value = (await d.campaigns.get(workspaceId, campaignId))?.vars
      if (vars.size > 10_000) vars.clear()
      vars.set(key, { at: d.clock.now(), value })
      return value
    },
    blockCache,
    imageFetch,
    content: () => d.content,
    publicUrl: d.publicUrl,
    log: d.log,
    openHooks: d.openHooks,
    metrics: d.metrics,
    clock: d.clock,
    onError: (err, what) => d.logger.warn({ err }, what),
    images: pool,
    drawGate,
  })
  // start() warms the drawing before the first open rather than with it (the thread draws a first
  // image before it is ready): after the server listens, so it is no part of the start-up's time.
  return { service, start: () => pool.start(), close: () => pool.close() }
}
