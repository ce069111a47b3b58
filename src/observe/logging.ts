/**
 * The logs of every thread: one JSON object per line in Elastic Common Schema field names
 * (`@timestamp`, `log.level`, `message`, `service.name`, `trace.id`, `span.id`, `http.*`, `url.*`,
 * `event.*`, `error.*`), so Filebeat or Logstash ingest them unchanged. @elastic/ecs-pino-format
 * gives the base fields (it works with pino 10: it only uses `messageKey`, `timestamp` and
 * `formatters`); this file adds the trace context of a request's span, the request log of the
 * server, and redaction.
 *
 * What is never written: Authorization headers, write and admin keys, tracking and open-time tokens
 * (they sit in URL paths: a request's path is its route pattern, `/c/*`, and a query string is
 * never logged), DKIM private keys, and message bodies (`html`, `text`, `amp` are redacted wherever they appear).
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { ecsFormat } from '@elastic/ecs-pino-format'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { LogController } from 'fastify'
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino'
import { loggerTraceFields, requestTraceFields, traceRequests } from './tracing.ts'

export const REDACTED = '[REDACTED]'

/**
 * Keys whose values never reach a log line, at the top of a log object and one level down
 * (`{ headers: { authorization } }`, `{ message: { html } }`). pino's redaction is compiled once.
 */
const SECRET_KEYS = [
  'authorization',
  'cookie',
  'writeKey',
  'adminKey',
  'token',
  'accessToken',
  'apiKey',
  'password',
  'pass',
  'auth',
  'credentials',
  'secret',
  'smtpUrl',
  'bounceImap',
  'privateKey',
  'privateKeyPem',
  'html',
  'text',
  'amp',
  'raw',
]
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.headers.${k}`])

export interface LogOptions {
  level: string
  /** `service.name`: OTEL_SERVICE_NAME, else `inkstream` (serviceName in tracing.ts). */
  serviceName: string
  /** Where lines go; stdout by default (tests pass a stream). */
  destination?: DestinationStream
  /** Fields on every line of this logger, e.g. `{ 'process.thread.name': 'processor' }`. */
  bindings?: Record<string, string>
}

/** An ECS JSON logger; a request's span's `trace.id` and `span.id` are on every line of its `req.log`. */
export function createLogger(opts: LogOptions): Logger {
  const ecs = ecsFormat({ serviceName: opts.serviceName, apmIntegration: false, convertReqRes: false })
  const options: LoggerOptions = {
    ...ecs,
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    mixin: loggerTraceFields,
  }
  const logger = opts.destination ? pino(options, opts.destination) : pino(options)
  return opts.bindings ? logger.child(opts.bindings) : logger
}

/** The largest incoming `x-request-id` kept; longer or odd ones are replaced (log injection, size). */
const REQUEST_ID = /^[A-Za-z0-9._:@+=/-]{1,128}$/

/** Fastify's genReqId: the caller's `x-request-id` when it is a sane token, else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
}

/** Answers every request with its id (`x-request-id`), and traces requests when tracing is on. */
export function observeRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id)
    done()
  })
  traceRequests(app)
}

/** The label of the request id on every line logged through `req.log` (ECS `http.request.id`). */
export const REQUEST_ID_LABEL = 'http.request.id'

/**
 * An unmatched route's path is logged up to this many segments, then `/…`: a secret can sit in any
 * later one, and may be as short as 16 characters (an ESP webhook's URL secret); before, only
 * segments longer than 24 were cut, and such a secret was logged at debug (found by a review).
 */
const KEPT_SEGMENTS = 2

/**
 * `url.path` of a request without secrets: a matched route with parameters logs its pattern
 * (`/c/*`, `/v1/profiles/:id`), an unmatched one its first two segments (`/v1/webhooks/…`); never
 * the query.
 */
export function safePath(req: FastifyRequest): string {
  const route = req.routeOptions.url
  if (route !== undefined) return route
  const path = req.url.split('?', 1)[0] ?? ''
  const segments = path.split('/').slice(1)
  if (segments.length <= KEPT_SEGMENTS) return path
  return `/${segments.slice(0, KEPT_SEGMENTS).join('/')}/…`
}

/** The ECS fields of one finished request (dotted keys, as the rest of an ECS line). */
export function requestFields(req: FastifyRequest, reply: FastifyReply): Record<string, unknown> {
  const status = reply.statusCode
  const fields: Record<string, unknown> = {
    'event.kind': 'event',
    'event.category': ['web'],
    'event.type': ['access'],
    'event.outcome': status < 400 ? 'success' : 'failure',
    // ECS event.duration is in nanoseconds.
    'event.duration': Math.round(reply.elapsedTime * 1e6),
    'http.request.method': req.method,
    'http.response.status_code': status,
    'url.path': safePath(req),
    'client.ip': req.ip,
    ...requestTraceFields(req),
  }
  const agent = req.headers['user-agent']
  if (agent !== undefined) fields['user_agent.original'] = agent.slice(0, 512)
  const bytes = Number(req.headers['content-length'])
  if (Number.isFinite(bytes)) fields['http.request.body.bytes'] = bytes
  return fields
}

const DEBUG = pino.levels.values.debug ?? 20
/** Building a request's fields costs more than checking the level first. */
const debugOn = (log: FastifyBaseLogger) =>
  (pino.levels.values[log.level] ?? Number.POSITIVE_INFINITY) <= DEBUG

/**
 * Fastify's request log lines in ECS: one line per finished request, at `debug` (at ingest rates a
 * line per request at `info` drowns everything else; metrics count requests), at `error` for a 5xx.
 * The request id is on every line of `req.log` as `http.request.id` (REQUEST_ID_LABEL).
 */
export class EcsLogController extends LogController {
  constructor() {
    super({ requestIdLogLabel: REQUEST_ID_LABEL })
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ ...requestFields(req, reply), err: error }, 'request errored')
    else if (reply.statusCode >= 500) reply.log.error(requestFields(req, reply), 'request completed')
    else if (debugOn(reply.log)) reply.log.debug(requestFields(req, reply), 'request completed')
  }

  override defaultErrorLog(error: Error, req: FastifyRequest, reply: FastifyReply): void {
    const fields = { ...requestFields(req, reply), err: error }
    if (reply.statusCode >= 500) reply.log.error(fields, error.message)
    else reply.log.info(fields, error.message)
  }

  override routeNotFound(req: FastifyRequest, reply: FastifyReply): void {
    if (debugOn(reply.log)) reply.log.debug(requestFields(req, reply), 'route not found')
  }
}
