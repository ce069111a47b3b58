/**
 * The Segment-compatible collector: /v1/track|identify|page|screen|group|alias|batch, with the
 * aliases real clients post to: analytics.js (@segment/analytics-next) uses /v1/t|i|p|s|g|a and,
 * when batching, /v1/b; of Segment's server libraries, Java, Ruby and .NET post to /v1/import (Java
 * with a trailing slash), Python and Go to /v1/batch (Python with the write key in the body only; each is
 * tested with the real library in test/ingest/segment-*.test.ts). A 200 is sent only after the
 * accepted events are durable in the log (group commit).
 * Batches: valid events are kept, invalid ones are listed in the response with the reason.
 */
import cors from '@fastify/cors'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { InkError } from '../core/errors.ts'
import type { Clock, EventType, JsonObject } from '../core/types.ts'
import type { EncodedEvent, EventLog } from '../log/event-log.ts'
import type { Metrics } from '../observe/metrics.ts'
import { inSpan, requestSpan, SPANS, traced } from '../observe/tracing.ts'
import type { Workspace, WorkspaceStore } from '../workspaces/workspace-store.ts'
import { acceptEvent } from './accept.ts'
import { decodeBody, JSON_CONTENT_TYPES } from './body.ts'
import { bodyName } from './body-name.ts'
import type { RequestMeta } from './normalize.ts'
import { sourceConfigRoute } from './source-config-route.ts'
import { type EventProblem, isPlainObject, type ValidateLimits } from './validate.ts'
import { authenticate } from './write-key.ts'

export interface CollectorDeps {
  log: EventLog
  workspaces: WorkspaceStore
  metrics: Metrics
  clock: Clock
  maxEventBytes: number
  maxBatchBytes: number
}

export interface RejectedEvent extends EventProblem {
  index: number
  messageId?: string
}

const SINGLE_ROUTES: EventType[] = ['track', 'identify', 'page', 'screen', 'group', 'alias']
/** analytics.js posts each call to its type's first letter: /v1/t, /v1/i, /v1/p, /v1/s, /v1/g, /v1/a. */
const shortPath = (type: EventType) => `/v1/${type.charAt(0)}`
/**
 * /v1/b: analytics.js in batching mode; /v1/import: Segment's server libraries; /beacon/v1/batch:
 * RudderStack's JS SDK with `useBeacon` (navigator.sendBeacon cannot set headers, so the write key
 * comes in the query: ?writeKey=).
 */
const BEACON_PATH = '/beacon/v1/batch'
const BATCH_PATHS = ['/v1/batch', '/v1/b', '/v1/import', BEACON_PATH]
/** Each path with and without a trailing slash: analytics-java posts to /v1/import/. */
const withSlash = (path: string) => [path, `${path}/`]
const MAX_DEPTH = 32

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * When the request arrived (clock ms), taken in the collector's onRequest hook, before the body
     * is read and parsed: every event of the request gets it as `receivedAt`, the start of the lag
     * the processor reports. Collector routes only.
     */
    arrivedAt: number
  }
}

export async function collectorRoutes(app: FastifyInstance, deps: CollectorDeps): Promise<void> {
  const { log, workspaces, metrics, clock } = deps
  const limits: ValidateLimits = { maxEventBytes: deps.maxEventBytes, maxDepth: MAX_DEPTH }

  // Browsers post from any site that embeds the snippet; nothing here reads cookies. A 503 says
  // when to retry (Retry-After), which analytics-next reads: exposed, or the browser hides it.
  await app.register(cors, {
    origin: '*',
    methods: ['GET', 'POST'],
    exposedHeaders: ['Retry-After'],
    maxAge: 86400,
  })
  // Before the body is read: a slow upload or a long parse counts toward the event's lag.
  app.decorateRequest('arrivedAt', 0)
  app.addHook('onRequest', (req, _reply, done) => {
    req.arrivedAt = clock.now()
    done()
  })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(
    JSON_CONTENT_TYPES,
    { parseAs: 'buffer' },
    async (req: FastifyRequest, body: Buffer) => {
      const limit = req.routeOptions.bodyLimit ?? deps.maxBatchBytes
      return decodeBody(body, req.headers['content-encoding'], limit, bodyName(req))
    },
  )
  app.addContentTypeParser('*', (req, _payload, done) => {
    done(
      new InkError(
        'INK_ERR_UNSUPPORTED_MEDIA_TYPE',
        `Content-Type "${req.headers['content-type'] ?? ''}" is not supported; send application/json`,
      ),
    )
  })
  app.addHook('onResponse', async (req, reply) => {
    metrics.ingestRequests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) })
  })

  const requireBody = (body: unknown): JsonObject => {
    if (body === undefined || body === null) {
      throw new InkError('INK_ERR_EMPTY_BODY', 'the request body is empty; send a JSON object')
    }
    if (!isPlainObject(body))
      throw new InkError('INK_ERR_INVALID_EVENT', 'the request body must be a JSON object')
    return body
  }

  const meta = (ws: Workspace, req: FastifyRequest, sentAt: unknown): RequestMeta => ({
    workspaceId: ws.id,
    receivedAt: req.arrivedAt,
    sentAt: typeof sentAt === 'string' && !Number.isNaN(Date.parse(sentAt)) ? sentAt : undefined,
    ip: req.ip,
  })

  const single = (type: EventType) => async (req: FastifyRequest) => {
    const body = requireBody(req.body)
    const ws = authenticate(req, body.writeKey, workspaces)
    const { writeKey: _ignored, ...raw } = body
    const result = acceptEvent(raw, { type, meta: meta(ws, req, raw.sentAt), limits })
    if (!result.ok) {
      metrics.ingestEvents.inc({ outcome: 'rejected' })
      throw new InkError(result.problem.code, result.problem.message)
    }
    // No span of its own: the request's span is the append's (its time is the append's, and a
    // second span per event doubled what tracing costs ingest). The event carries its context.
    await log.append(traced([result], requestSpan(req)))
    metrics.ingestEvents.inc({ outcome: 'accepted' })
    return { success: true }
  }
  for (const type of SINGLE_ROUTES) {
    for (const path of [`/v1/${type}`, shortPath(type)].flatMap(withSlash))
      app.post(path, { bodyLimit: deps.maxEventBytes, config: { bodyName: 'the event' } }, single(type))
  }

  const batch = async (req: FastifyRequest) => {
    const body = requireBody(req.body)
    const queryKey = isPlainObject(req.query) ? req.query.writeKey : undefined
    const beacon = req.routeOptions.url?.startsWith(BEACON_PATH) === true
    const ws = beacon
      ? authenticate(req, body.writeKey ?? queryKey, workspaces, 'as the "writeKey" query parameter')
      : authenticate(req, body.writeKey, workspaces)
    if (!Array.isArray(body.batch))
      throw new InkError('INK_ERR_INVALID_EVENT', '"batch" must be an array of events')
    if (body.batch.length === 0)
      throw new InkError('INK_ERR_INVALID_EVENT', '"batch" is empty; send at least one event')
    const m = meta(ws, req, body.sentAt)
    const shared = isPlainObject(body.context) ? body.context : undefined
    const accepted: EncodedEvent[] = []
    const rejected: RejectedEvent[] = []
    for (const [index, item] of body.batch.entries()) {
      const result = acceptEvent(item, { shared, meta: m, limits })
      if (result.ok) {
        accepted.push(result)
        continue
      }
      const messageId = isPlainObject(item) && typeof item.messageId === 'string' ? item.messageId : undefined
      rejected.push({ index, ...(messageId === undefined ? {} : { messageId }), ...result.problem })
    }
    if (rejected.length > 0) metrics.ingestEvents.inc({ outcome: 'rejected' }, rejected.length)
    if (accepted.length === 0) {
      throw new InkError(
        'INK_ERR_BATCH_REJECTED',
        `all ${rejected.length} events in the batch were rejected`,
        {
          details: { rejected },
        },
      )
    }
    const attributes = () => ({ 'inkstream.events': accepted.length })
    await inSpan(SPANS.append, { parent: requestSpan(req), attributes }, (span) =>
      log.append(traced(accepted, span)),
    )
    metrics.ingestEvents.inc({ outcome: 'accepted' }, accepted.length)
    return { success: true, accepted: accepted.length, rejected }
  }
  for (const path of BATCH_PATHS.flatMap(withSlash))
    app.post(path, { bodyLimit: deps.maxBatchBytes, config: { bodyName: 'the batch' } }, batch)
  sourceConfigRoute(app, workspaces)
}
