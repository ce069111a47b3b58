/** Assembles the fastify server from the domains' routes. Knows every domain; owns no state. */

import type { FastifyBaseLogger } from 'fastify'
import Fastify, { type FastifyInstance, LogController } from 'fastify'
import { type CampaignRoutesDeps, campaignRoutes } from '../campaigns/campaign-routes.ts'
import { type TemplateRoutesDeps, templateRoutes } from '../content/template-routes.ts'
import { type TrackingRoutesDeps, trackingRoutes } from '../delivery/tracking-routes.ts'
import { type CollectorDeps, collectorRoutes } from '../ingest/collector-routes.ts'
import { sdkRoute } from '../ingest/sdk-route.ts'
import type { Metrics } from '../observe/metrics.ts'
import { type ProfileRoutesDeps, profileRoutes } from '../profiles/profile-routes.ts'
import { type SegmentRoutesDeps, segmentRoutes } from '../segments/segment-routes.ts'
import { type TriggerRoutesDeps, triggerRoutes } from '../triggers/trigger-routes.ts'
import { installErrorHandler } from './error-handler.ts'
import { registerOpenApi } from './openapi.ts'

export interface ServerDeps {
  logger: FastifyBaseLogger
  collector: CollectorDeps
  profiles: ProfileRoutesDeps
  segments: SegmentRoutesDeps
  templates: TemplateRoutesDeps
  tracking: TrackingRoutesDeps
  campaigns: CampaignRoutesDeps
  triggers: TriggerRoutesDeps
  metrics: Metrics
  /** Runs before each scrape to refresh gauges that are read on demand (consumer lag). */
  beforeScrape: () => Promise<void>
  health: () => Promise<Record<string, unknown>>
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Per-request logs at ingest rates drown everything else; metrics count requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Behind a load balancer set trustProxy in a later config; the embedded default sees clients directly.
    trustProxy: false,
  })
  installErrorHandler(app)
  await registerOpenApi(app) // before the routes: it collects their schemas as they are added
  await app.register(async (scope) => collectorRoutes(scope, deps.collector))
  await app.register(async (scope) => profileRoutes(scope, deps.profiles))
  await app.register(async (scope) => segmentRoutes(scope, deps.segments))
  await app.register(async (scope) => templateRoutes(scope, deps.templates))
  await app.register(async (scope) => trackingRoutes(scope, deps.tracking))
  await app.register(async (scope) => campaignRoutes(scope, deps.campaigns))
  await app.register(async (scope) => triggerRoutes(scope, deps.triggers))
  await app.register(sdkRoute)
  app.get('/metrics', async (_req, reply) => {
    await deps.beforeScrape()
    return reply
      .header('content-type', deps.metrics.registry.contentType)
      .send(await deps.metrics.registry.metrics())
  })
  app.get('/healthz', async () => ({ status: 'ok', ...(await deps.health()) }))
  return app
}
