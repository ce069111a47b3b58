/**
 * The one fastify server of every process (`npm start` and each `--role`): registers the routes of
 * the roles this process runs, and /metrics and /healthz always. Knows every domain; owns no state.
 */

import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyBaseLogger, FastifyReply, RouteOptions } from 'fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import { type AnalyticsRoutesDeps, analyticsRoutes } from '../analytics/analytics-routes.ts'
import { type CampaignRoutesDeps, campaignRoutes } from '../campaigns/campaign-routes.ts'
import type { Role } from '../config.ts'
import { type TemplateRoutesDeps, templateRoutes } from '../content/template-routes.ts'
import { type TestSendRouteDeps, testSendRoute } from '../content/test-send-route.ts'
import { type EspRoutesDeps, espWebhookRoutes } from '../delivery/esp/esp-routes.ts'
import { type SuppressionRoutesDeps, suppressionRoutes } from '../delivery/suppression-routes.ts'
import { type TrackingRoutesDeps, trackingRoutes } from '../delivery/tracking-routes.ts'
import { type CollectorDeps, collectorRoutes } from '../ingest/collector-routes.ts'
import { sdkRoute } from '../ingest/sdk-route.ts'
import { type AnomalyRoutesDeps, anomalyRoutes } from '../observe/alerts/anomaly-routes.ts'
import { EcsLogController, observeRequests, requestId } from '../observe/logging.ts'
import type { Metrics } from '../observe/metrics.ts'
import { type OpenTimeRoutesDeps, openTimeRoutes } from '../opentime/open-time-routes.ts'
import { type PrivacyRoutesDeps, privacyRoutes } from '../privacy/privacy-routes.ts'
import { type ProfileRoutesDeps, profileRoutes } from '../profiles/profile-routes.ts'
import { type SegmentRoutesDeps, segmentRoutes } from '../segments/segment-routes.ts'
import { type TopicRoutesDeps, topicRoutes } from '../topics/topic-routes.ts'
import { type TriggerRoutesDeps, triggerRoutes } from '../triggers/trigger-routes.ts'
import { type LiveRoutesDeps, liveRoutes } from '../ui/live-routes.ts'
import { type UiRoutesDeps, uiRoutes } from '../ui/ui-routes.ts'
import { type WebhookRoutesDeps, webhookRoutes } from '../webhooks/delivery-routes.ts'
import { installErrorHandler } from './error-handler.ts'
import { registerOpenApi } from './openapi.ts'

/** What the api role's routes need. */
export interface ApiRoutesDeps {
  profiles: ProfileRoutesDeps
  /** Erasure, export and their audit (DELETE /v1/profiles/:id, GET /v1/profiles/:id/export, GET /v1/audit). */
  privacy: PrivacyRoutesDeps
  segments: SegmentRoutesDeps
  templates: TemplateRoutesDeps
  tracking: TrackingRoutesDeps
  /** The suppression list (/v1/suppressions). */
  suppressions: SuppressionRoutesDeps
  /** Subscription topics (/v1/topics, /v1/profiles/:id/topics). */
  topics: TopicRoutesDeps
  /** POST /v1/templates/:id/test-send. */
  testSend: TestSendRouteDeps
  campaigns: CampaignRoutesDeps
  triggers: TriggerRoutesDeps
  webhooks: WebhookRoutesDeps
  /** Engagement analytics (stats and time series); absent without an analytics store. */
  analytics?: AnalyticsRoutesDeps | undefined
  anomalies: AnomalyRoutesDeps
  /** Open-time content (/o/); absent where nothing renders it. */
  openTime?: OpenTimeRoutesDeps | undefined
  /** The dashboard (/ and /ui/). */
  ui: UiRoutesDeps
  /** The overview's live chart data (/ui/api/live). */
  live: LiveRoutesDeps
  /** ESP webhooks (/v1/webhooks/{ses,sendgrid,postmark}/…): bounces, complaints, ESP events. */
  espWebhooks?: EspRoutesDeps | undefined
}

export interface ServerDeps {
  logger: FastifyBaseLogger
  collector: CollectorDeps
  /** Present when the process runs the api role. */
  api: ApiRoutesDeps | undefined
  metrics: Metrics
  /** Runs before each scrape to refresh gauges that are read on demand (consumer lag). */
  beforeScrape: () => Promise<void>
  /** 200 with `{status: 'ok', …body}` when ready, else 503 with `{status: 'unavailable', …body}`. */
  health: () => Promise<{ ready: boolean; body: Record<string, unknown> }>
}

type Register = (app: FastifyInstance, deps: ServerDeps) => Promise<void>

/** The routes of each role. A new route goes in its role's entry; a new role gets an entry. */
const ROLE_ROUTES: Record<Role, Register> = {
  collector: async (app, deps) => {
    await app.register(async (scope) => collectorRoutes(scope, deps.collector))
    await app.register(sdkRoute)
  },
  processor: async () => {},
  api: async (app, deps) => {
    const api = deps.api
    if (api === undefined) throw new Error('the api role needs its route dependencies')
    await app.register(async (scope) => profileRoutes(scope, api.profiles))
    await app.register(async (scope) => privacyRoutes(scope, api.privacy))
    await app.register(async (scope) => segmentRoutes(scope, api.segments))
    await app.register(async (scope) => templateRoutes(scope, api.templates))
    await app.register(async (scope) => trackingRoutes(scope, api.tracking))
    await app.register(async (scope) => suppressionRoutes(scope, api.suppressions))
    await app.register(async (scope) => topicRoutes(scope, api.topics))
    await app.register(async (scope) => testSendRoute(scope, api.testSend))
    await app.register(async (scope) => campaignRoutes(scope, api.campaigns))
    await app.register(async (scope) => triggerRoutes(scope, api.triggers))
    await app.register(async (scope) => webhookRoutes(scope, api.webhooks))
    const analytics = api.analytics
    if (analytics) await app.register(async (scope) => analyticsRoutes(scope, analytics))
    await app.register(async (scope) => anomalyRoutes(scope, api.anomalies))
    const openTime = api.openTime
    if (openTime) await app.register(async (scope) => openTimeRoutes(scope, openTime))
    await app.register(async (scope) => uiRoutes(scope, api.ui))
    await app.register(async (scope) => liveRoutes(scope, api.live))
    const esp = api.espWebhooks
    if (esp) await app.register(async (scope) => espWebhookRoutes(scope, esp))
  },
  sender: async () => {},
}

/**
 * Node's server.close() closes the keep-alive connections that are idle at that moment, and no
 * other: one that has not sent a byte yet (a browser's preconnect, a proxy's warm pool) and one
 * whose request was still being answered then both held close(), and the process's shutdown, until
 * a timeout of the server reaped them: headersTimeout (60–90 s) or keepAliveTimeout (72 s; the
 * dashboard tests waited 30–70 s at a close). Before closing (after one turn of the event loop, so
 * a request already waiting in a socket is read first):
 * - a connection that has sent nothing is destroyed: no request was begun on it, none is cut off;
 * - a request being answered is answered with `Connection: close` (or, its headers already sent,
 *   the connection is ended once the response is written out), so its connection closes after the
 *   whole response, never in the middle (destroying idle-looking connections as they appear would
 *   cut off a response still in the socket's buffer).
 * Requests arriving meanwhile get fastify's 503 with `Connection: close`. A connection is tracked
 * while it is open: per connection, nothing per request.
 */
function closeSilentConnections(app: FastifyInstance): void {
  const sockets = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  app.addHook('preClose', async () => {
    if (sockets.size === 0) return
    await new Promise((resolve) => setImmediate(resolve))
    for (const socket of sockets) {
      if (socket.bytesRead === 0) {
        socket.destroy()
        continue
      }
      // The response in progress on this connection, if any (an idle one is closed by close()).
      const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
      if (!res) continue
      if (!res.headersSent) res.shouldKeepAlive = false
      else res.once('finish', () => socket.end())
    }
  })
}

export async function buildServer(
  deps: ServerDeps,
  roles: ReadonlySet<Role>,
  opts: { onRoute?: (route: RouteOptions) => void } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    // ECS request lines (at debug: at ingest rates they drown everything else; metrics count requests).
    logController: new EcsLogController(),
    // The caller's x-request-id (when sane), else a UUID; sent back and on every line of req.log.
    genReqId: requestId,
    // Behind a load balancer set trustProxy in a later config; the embedded default sees clients directly.
    trustProxy: false,
    // What fastify refuses before any route (a URL that is not valid percent-encoding) answers in
    // our error format, not fastify's own body.
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).status(400).send({
        success: false,
        code: 'INK_ERR_BAD_REQUEST',
        message: `the URL cannot be read (${err.message}); percent-encode it as UTF-8`,
      })
    },
  })
  if (opts.onRoute) app.addHook('onRoute', opts.onRoute)
  installErrorHandler(app)
  observeRequests(app)
  closeSilentConnections(app)
  // The admin API's description, with the api role; before the routes: it collects their schemas.
  if (roles.has('api')) await registerOpenApi(app)
  for (const role of roles) await ROLE_ROUTES[role](app, deps)
  app.get('/metrics', async (_req, reply) => {
    await deps.beforeScrape()
    return reply
      .header('content-type', deps.metrics.registry.contentType)
      .send(await deps.metrics.registry.metrics())
  })
  app.get('/healthz', async (_req, reply) => {
    const { ready, body } = await deps.health()
    return ready ? { status: 'ok', ...body } : reply.status(503).send({ status: 'unavailable', ...body })
  })
  return app
}
