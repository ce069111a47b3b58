/**
 * Traces with the OpenTelemetry API: ingest request (→ log append) → processor batch → deliver
 * (render, send). Exported over OTLP/HTTP when the standard OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, in protobuf (the spec's default, `http/protobuf`) or
 * JSON (`http/json`) as OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says; otherwise nothing is registered, the SDK and exporter
 * are not even loaded, and every helper here returns at its first line (`enabled` is false).
 *
 * The OpenTelemetry API keeps its provider and propagator in process-wide globals; startTracing
 * registers them (once per thread: the embedded processor's worker thread starts its own) and the
 * returned handle's shutdown() flushes and unregisters them.
 *
 * No context manager: the parent of a span is passed explicitly (inSpan's `parent`, the span `fn`
 * gets; a request's is requestSpan(req)). An AsyncLocalStorage context manager makes Node install
 * promise hooks, and then every promise of the process pays for them, sampled or not (an await cost
 * 2–3× as much with one enabled; docs/benchmarks.md, "Observability overhead").
 *
 * The trace context crosses the event log as a W3C `traceparent` on the event (traced() adds the
 * appending span's, when its trace is sampled); a processor batch links to the contexts of its
 * events, and a trigger's message links to the context of the event that fired it.
 *
 * Cost (issue 12): a single-event ingest request has one span (the request's; a batch request adds
 * a `log append` span); a child of an unsampled span is not created at all; a request without
 * trace context draws its sampling share before the SDK is asked (traceRequests), so an unsampled
 * one makes no SDK object at all; the sampler is the standard OTEL_TRACES_SAMPLER(_ARG) one
 * (sampling.ts), and OTEL_BSP_* size the export batches.
 */
import {
  type SpanOptions as ApiSpanOptions,
  type Attributes,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { invalidConfig } from '../core/errors.ts'
import type { InkEvent } from '../core/types.ts'
import type { EncodedEvent } from '../log/event-log.ts'
import { rootShare, samplerFromEnv, samplerName } from './sampling.ts'
import type { RecorderProvider, SpanBatch } from './span-recorder.ts'

export type { Span }
export { SpanKind }

/** The names of the spans, one place (the tests and the docs use them). */
export const SPANS = {
  append: 'log append',
  batch: 'processor batch',
  deliver: 'deliver',
  render: 'render',
  send: 'send',
} as const

/** A batch links to at most this many events (a span with 10,000 links is too large to export). */
export const MAX_LINKS = 128

let enabled = false
/** rootShare of the registered sampler: how many requests without trace context get a span. */
let requestShare = 1
/**
 * The registered provider's own tracer (not the API's proxy: a proxy keeps the first provider it
 * saw, so after a shutdown and a new registration, as in the tests, spans went to the old one).
 */
let tracer: Tracer = trace.getTracer('inkstream')
/** The registered provider (set while `enabled`): inSpan starts children with its startChild. */
let registered: Pick<RecorderProvider<SpanBatch>, 'startChild'> | undefined

/** True once startTracing registered a provider in this thread. */
export const tracingEnabled = (): boolean => enabled

/** `service.name` of the logs and the traces: OTEL_SERVICE_NAME, else `inkstream`. */
export const serviceName = (env: NodeJS.ProcessEnv): string => env.OTEL_SERVICE_NAME || 'inkstream'

/** Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
export function tracesUrl(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return undefined
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined
}

/** The OTLP/HTTP encodings (the spec's `grpc` is not offered: it needs a gRPC client). */
export type OtlpProtocol = 'http/protobuf' | 'http/json'

/**
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else `http/protobuf` (the
 * spec's default). Protobuf sent 0.38× the bytes of the JSON encoding in the tracing-cpu bench (hex
 * ids and field names are most of a JSON span; docs/benchmarks.md, "Tracing overhead").
 */
export function tracesProtocol(env: NodeJS.ProcessEnv): OtlpProtocol {
  const given = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || '').trim()
  if (given === '' || given === 'http/protobuf') return 'http/protobuf'
  if (given === 'http/json') return 'http/json'
  throw invalidConfig([
    `OTEL_EXPORTER_OTLP_PROTOCOL: "${given}" is not supported; use http/protobuf (the default) or http/json (grpc is not offered: point the endpoint at the collector's OTLP/HTTP port, usually 4318)`,
  ])
}

/**
 * What one thread's tracer did with the spans it recorded, counted since it started: exported (the
 * collector took them), failed (their export was refused or timed out: the batch is lost) and
 * dropped (past the full export queue, or not encodable). inkstream_trace_spans_total{outcome}.
 */
export interface SpanOutcomes {
  exported: number
  failed: number
  dropped: number
}

export interface TracingOptions {
  /**
   * Called after each export settles, sent or not, with this thread's outcomes so far (a worker
   * thread reports them to the main thread's metrics: its spans drop and fail in its own tracer).
   * Spans dropped at the full queue are in the next call: a full queue means exports are running.
   */
  onExported?: (spans: SpanOutcomes) => void
}

export interface Tracing {
  /** Where spans are sent. */
  url: string
  /** How they are encoded. */
  protocol: OtlpProtocol
  /** Spans exported, and those lost: refused or timed out (failed), or past the full queue (dropped). */
  spans(): SpanOutcomes
  /** Exports the spans ended so far. */
  flush(): Promise<void>
  /** Flushes, then unregisters the provider: the API is a no-op again. */
  shutdown(): Promise<void>
}

/**
 * `key=value` pairs, comma separated, keys trimmed, values URL-decoded (the format of
 * OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES); a pair without `=` is skipped.
 */
export function parseKeyValues(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of (raw ?? '').split(',')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) continue
    const key = pair.slice(0, eq).trim()
    if (key === '') continue
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {
      out[key] = pair.slice(eq + 1).trim()
    }
  }
  return out
}

/**
 * The resource of every span: `service.name`, the pairs of OTEL_RESOURCE_ATTRIBUTES (the spec's
 * variable; `service.name` from OTEL_SERVICE_NAME wins), and what recorded them.
 */
export function resourceOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const given = parseKeyValues(env.OTEL_RESOURCE_ATTRIBUTES)
  return {
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': 'inkstream',
    ...given,
    ...(env.OTEL_SERVICE_NAME || !given['service.name'] ? { 'service.name': serviceName(env) } : {}),
  }
}

/**
 * Registers a tracer provider (span-recorder.ts: the env's sampler, batching and span limits; the
 * OTLP/HTTP export of otlp-export.ts in the env's protocol) when the env names an endpoint;
 * undefined (nothing registered, nothing loaded) otherwise, or when this thread already has one.
 */
export async function startTracing(
  env: NodeJS.ProcessEnv,
  opts: TracingOptions = {},
): Promise<Tracing | undefined> {
  const url = tracesUrl(env)
  if (url === undefined || enabled) return undefined
  const protocol = tracesProtocol(env)
  const [samplers, core, recorder, otlp] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/core'),
    import('./span-recorder.ts'),
    import('./otlp-export.ts'),
  ])
  const exporter = otlp.otlpExporter(otlp.exportSettings(env, url, protocol))
  const spans = (): SpanOutcomes => ({
    exported: exporter.counts.spans,
    failed: exporter.counts.failedSpans,
    dropped: provider.dropped,
  })
  const { onExported } = opts
  const provider = new recorder.RecorderProvider({
    sampler: samplerFromEnv(env, samplers, (link) => (link as EventLink)[EVENT_LINK] === true),
    export:
      onExported === undefined
        ? exporter.export
        : async (batch, scope) => {
            await exporter.export(batch, scope)
            onExported(spans())
          },
    batcher: exporter.batcher,
    resource: resourceOf(env),
    batch: batchConfig(env),
    limits: recorder.spanLimitsFromEnv(env),
    parseTraceState: (value) => new core.TraceState(value),
    parentBased: samplerName(env).startsWith('parentbased_'),
  })
  if (!trace.setGlobalTracerProvider(provider)) {
    exporter.close()
    return undefined
  }
  propagation.setGlobalPropagator(new core.W3CTraceContextPropagator())
  tracer = provider.getTracer()
  registered = provider
  requestShare = rootShare(env)
  enabled = true
  return {
    url,
    protocol,
    spans,
    flush: () => provider.forceFlush(),
    async shutdown() {
      enabled = false
      tracer = trace.getTracer('inkstream')
      registered = undefined
      try {
        await provider.shutdown()
      } finally {
        exporter.close()
        trace.disable()
        propagation.disable()
      }
    },
  }
}

/** OTEL_BSP_* from the env given (the SDK itself reads only process.env); unset ones: the SDK's. */
export function batchConfig(env: NodeJS.ProcessEnv): Record<string, number> {
  const config: Record<string, number> = {}
  for (const [key, name] of [
    ['maxQueueSize', 'OTEL_BSP_MAX_QUEUE_SIZE'],
    ['maxExportBatchSize', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'],
    ['scheduledDelayMillis', 'OTEL_BSP_SCHEDULE_DELAY'],
    ['exportTimeoutMillis', 'OTEL_BSP_EXPORT_TIMEOUT'],
  ] as const) {
    const n = Number(env[name])
    if (env[name]?.trim() && Number.isFinite(n) && n > 0) config[key] = n
  }
  return config
}

export interface SpanOptions {
  kind?: SpanKind
  /** Built only when tracing is on. */
  attributes?: () => Attributes
  links?: () => Link[]
  /** Start a new trace (links say where it came from). */
  root?: boolean
  /** Otherwise the span is a child of this one: the span an enclosing inSpan gave its `fn`, or requestSpan(req). */
  parent?: Span | undefined
}

/**
 * Runs `fn` with a new span, ended when `fn` settles; a rejection is recorded on the span and
 * rethrown. `fn` passes the span on to what runs inside it (as `parent`, or to traced()). With
 * tracing off, or for a child without a parent: `fn(undefined)`, nothing else.
 */
export function inSpan<T>(
  name: string,
  opts: SpanOptions,
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!enabled) return fn(undefined)
  const parent = opts.parent
  // A child of an unsampled span is never sampled (whatever the standard sampler): no span object,
  // no attributes. Nor is a child of nothing (its caller is in no trace, or in a skipped child).
  if (!opts.root && (parent === undefined || !parent.isRecording())) return fn(undefined)
  const options: ApiSpanOptions = {
    kind: opts.kind ?? SpanKind.INTERNAL,
    ...(opts.attributes ? { attributes: opts.attributes() } : {}),
    ...(opts.links ? { links: opts.links() } : {}),
    ...(opts.root ? { root: true } : {}),
  }
  const span =
    parent === undefined || opts.root
      ? tracer.startSpan(name, options, ROOT_CONTEXT)
      : registered!.startChild(name, options, parent)
  return settle(span, fn)
}

async function settle<T>(span: Span, fn: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await fn(span)
  } catch (err) {
    failSpan(span, err)
    throw err
  } finally {
    span.end()
  }
}

/** What a render span says about its result (a structural RenderResult: no render import here). */
export function renderAttributes(
  span: Span,
  result: {
    ok: boolean
    skip?: unknown
    report: {
      templateId: string
      version: number
      fallbacks: readonly unknown[]
      profile: { outcome: string }
    }
  },
): void {
  span.setAttributes({
    'inkstream.template.version': result.report.version,
    'inkstream.render.outcome': result.ok ? 'ok' : result.skip ? 'skipped' : 'failed',
    'inkstream.render.fallbacks': result.report.fallbacks.length,
    'inkstream.profile.outcome': result.report.profile.outcome,
  })
  if (!result.ok && !result.skip) span.setStatus({ code: SpanStatusCode.ERROR })
}

/** Marks a span failed with `err`. */
export function failSpan(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err)
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) })
}

const TAIL_START = ',"traceparent":"'

const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * The W3C traceparent of a span when its trace is sampled; undefined with tracing off, without a
 * span, or in an unsampled trace (nothing downstream would be exported: an event need not carry it,
 * and its batch need not parse it).
 */
export function traceparentOf(span: Span | undefined): string | undefined {
  if (!enabled || span === undefined) return undefined
  // A span of the registered provider (span-recorder.ts's RecordedSpan) knows its own, made once.
  const own = (span as { sampledTraceparent?: () => string | undefined }).sampledTraceparent
  if (own !== undefined) return own.call(span)
  const sc = span.spanContext()
  // The all-zero ids are the only invalid ones a span can carry (the provider makes or checks every
  // id; isSpanContextValid's two regular expressions per call were a tenth of this function's cost).
  if ((sc.traceFlags & TraceFlags.SAMPLED) === 0 || sc.traceId === ZERO_TRACE || sc.spanId === ZERO_SPAN)
    return undefined
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`
}

/**
 * The events an append inside `span` stores: each carries the span's traceparent (both logs store
 * the event's JSON), except one that already has a context. An already encoded event
 * (EncodedEvent) gets it appended to its JSON text, not serialized again (its `event` object is
 * not copied: only the JSON is stored). The same array when there
 * is nothing to add (tracing off, no span, an unsampled trace).
 */
export function traced<E extends InkEvent | EncodedEvent>(
  events: readonly E[],
  span: Span | undefined,
): readonly E[] {
  const traceparent = traceparentOf(span)
  if (traceparent === undefined) return events
  // An event's JSON is an object that is never empty ("type" at least): its closing brace is last.
  // A traceparent is lower-case hex and dashes: nothing in it needs JSON escaping, one byte per char.
  const tail = `,"traceparent":"${traceparent}"}`
  return events.map((item) => {
    if (!('json' in item)) return item.traceparent ? item : { ...item, traceparent }
    // A context of its own, or one a traced() before this one appended (a traceparent's tail is
    // always 73 characters: ,"traceparent":" + 55 + "}).
    if (item.event.traceparent || item.json.startsWith(TAIL_START, item.json.length - 73)) return item
    // The JSON carries the context; the event object is left as it is (copying it to add one field
    // was a fifth of what tracing cost a single-event request: docs/benchmarks.md).
    return {
      event: item.event,
      json: item.json.slice(0, -1) + tail,
      bytes: item.bytes - 1 + tail.length,
    }
  }) as E[]
}

/** The span context a W3C traceparent names; undefined when it is not one (or names the invalid all-zero ids). */
export function parseTraceparent(value: unknown): SpanContext | undefined {
  if (typeof value !== 'string') return undefined
  const m = TRACEPARENT.exec(value)
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return undefined
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true }
}

/**
 * The mark of a link made by linksTo (a link to an event: the ones a new trace's sampling follows).
 * A property on the link, not a WeakSet of them: a WeakSet's entries are work for every garbage
 * collection, per event of every batch.
 */
const EVENT_LINK = Symbol('inkstream.eventLink')
type EventLink = Link & { [EVENT_LINK]?: true }

/** Links to the contexts these traceparents (of events) name (distinct, at most MAX_LINKS). */
export function linksTo(traceparents: Iterable<unknown>): Link[] {
  const links: EventLink[] = []
  const seen = new Set<string>()
  for (const tp of traceparents) {
    if (links.length >= MAX_LINKS) break
    const sc = parseTraceparent(tp)
    if (sc === undefined || seen.has(sc.spanId)) continue
    seen.add(sc.spanId)
    links.push({ context: sc, [EVENT_LINK]: true })
  }
  return links
}

/**
 * Where a request's span is kept: on the request itself, and on its logger. Two WeakMaps keyed by
 * request and by logger did this before, and their `set` (an identity hash added to each new key
 * object) and the ephemerons they left for the garbage collector cost more per traced request than
 * the span itself (docs/benchmarks.md, "Tracing overhead"). The request's is a fastify request
 * decorator, so every request is built with it and setting it keeps one object shape.
 */
const REQUEST_SPAN = Symbol('inkstream.requestSpan')
const LOGGER_SPAN = Symbol('inkstream.loggerSpan')
type SpanHolder = { [REQUEST_SPAN]?: Span | undefined; [LOGGER_SPAN]?: Span | undefined }

/**
 * `trace.id` and `span.id` for a line written with `logger` (a pino mixin: pino passes the logger
 * writing the line): those of the span the logger was bound to, if any (a child of a request's
 * logger inherits it, pino children being objects made from their parent).
 */
export function loggerTraceFields(_line: object, _level: number, logger: object): Record<string, string> {
  if (!enabled) return {}
  const sc = (logger as SpanHolder)[LOGGER_SPAN]?.spanContext()
  return sc === undefined ? {} : { 'trace.id': sc.traceId, 'span.id': sc.spanId }
}

/** A request's server span, the parent of what its handler does; undefined with tracing off. */
export function requestSpan(req: FastifyRequest): Span | undefined {
  return enabled ? (req as SpanHolder)[REQUEST_SPAN] : undefined
}

/** `trace.id` and `span.id` of a request's server span (its request log line is written after it). */
export function requestTraceFields(req: FastifyRequest): Record<string, string> {
  const sc = (req as SpanHolder)[REQUEST_SPAN]?.spanContext()
  return sc === undefined ? {} : { 'trace.id': sc.traceId, 'span.id': sc.spanId }
}

/** Server span names by method, then route (a handful: each made once, not per request). */
const spanNames = new Map<string, Map<string, string>>()
function spanName(method: string, route: string | undefined): string {
  if (route === undefined) return method
  let byRoute = spanNames.get(method)
  if (byRoute === undefined) {
    byRoute = new Map()
    spanNames.set(method, byRoute)
  }
  let name = byRoute.get(route)
  if (name === undefined) {
    name = `${method} ${route}`
    // Routes are the app's own patterns, so this stays small; the bound is a guard only.
    if (byRoute.size < 1000) byRoute.set(route, name)
  }
  return name
}

/**
 * A server span per request (`POST /v1/track`), child of an incoming `traceparent` header; the
 * handler gets it with requestSpan(req), and the lines of `req.log` carry its ids. Adds no hook at
 * all with tracing off.
 */
export function traceRequests(app: FastifyInstance): void {
  if (!enabled) return
  app.decorateRequest(REQUEST_SPAN as unknown as string, undefined)
  app.addHook('onRequest', (req, reply, done) => {
    // Most requests carry no trace context: no propagator call for them, and the sampler's share
    // drawn here, before the SDK makes ids and a span object only to drop them (Math.random is what
    // the SDK's trace ids come from, so a ratio over them and this draw sample alike).
    const incoming = req.headers.traceparent !== undefined
    if (!incoming && requestShare < 1 && !(Math.random() < requestShare)) return done()
    const parent = incoming ? propagation.extract(ROOT_CONTEXT, req.headers) : ROOT_CONTEXT
    const route = req.routeOptions.url
    const attributes: Attributes = { 'http.request.method': req.method, 'http.request.id': req.id }
    if (route !== undefined) attributes['http.route'] = route
    const span = tracer.startSpan(spanName(req.method, route), { kind: SpanKind.SERVER, attributes }, parent)
    ;(req as SpanHolder)[REQUEST_SPAN] = span
    // Fastify made `req.log` for this request alone (`reply.log` is the same logger).
    if (req.log !== app.log) (req.log as SpanHolder)[LOGGER_SPAN] = span
    // Ended when the response is done, or the connection closed before it was: one listener on the
    // requests that have a span, where onResponse and onRequestAbort hooks ran for every request
    // (with 10 % sampling, they were most of what tracing cost ingest).
    const res = reply.raw
    // `on`, not `once`: a response closes once, and once's wrapper and removal cost every request.
    res.on('close', () => {
      const status = res.writableEnded ? res.statusCode : undefined
      if (status !== undefined) span.setAttribute('http.response.status_code', status)
      if (status === undefined || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
      span.end()
    })
    done()
  })
}
