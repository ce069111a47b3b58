/**
 * A tracer of our own behind the OpenTelemetry API: spans recorded as compact objects, batched, and
 * handed to an exporter (otlp-export.ts) as they are. It replaces the SDK's BasicTracerProvider and
 * BatchSpanProcessor because those cost more than issue 12's whole budget: one request span through
 * the SDK (started, ended, batched, serialized to OTLP protobuf) took 7.3 µs of CPU, 4 % of an
 * ingested event's, before any of our code (docs/benchmarks.md, "Tracing overhead"). The
 * instrumentation is unchanged: it uses the API (`Tracer`, `Span`, `SpanContext`), and the API's
 * globals, propagator and the SDK's standard samplers are used as they are.
 *
 * What this keeps of the SDK's behaviour, per the OpenTelemetry specification:
 * - sampling by the registered `Sampler` (sampling.ts builds the standard ones from OTEL_TRACES_SAMPLER;
 *   under a `parentbased_*` one, startChild gives a recorded span's child its parent's decision
 *   without asking);
 *   NOT_RECORD gives a non-recording span that still carries its context (children and traceparents
 *   see an unsampled trace), RECORD a recorded span that is not exported, RECORD_AND_SAMPLED both;
 * - the batch processor's settings (OTEL_BSP_*): a bounded queue (spans past it are dropped and
 *   counted), an export when a batch is full or the schedule delay passed, one export at a time;
 * - the span limits (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, _EVENT_, _LINK_, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT),
 *   with dropped counts exported;
 * - `recordException` as an `exception` event (type, message, stacktrace).
 * Not kept: span processors other than the batch one, and the SDK's diag logging.
 */
import { randomFillSync } from 'node:crypto'
import {
  type Attributes,
  type AttributeValue,
  context as apiContext,
  type Context,
  type Exception,
  type HrTime,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanAttributes,
  type SpanAttributeValue,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  TraceFlags,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api'
import type { Sampler } from '@opentelemetry/sdk-trace-base'

/** A span as recorded: what the exporter encodes. Times are Unix milliseconds (fractional). */
export interface SpanRecord {
  readonly traceId: string
  readonly spanId: string
  readonly traceFlags: number
  readonly traceState: string | undefined
  readonly parentSpanId: string | undefined
  readonly parentIsRemote: boolean
  readonly name: string
  readonly kind: SpanKind
  readonly startMs: number
  readonly endMs: number
  readonly attributes: Attributes
  readonly droppedAttributes: number
  readonly events: readonly SpanEventRecord[]
  readonly droppedEvents: number
  readonly links: readonly Link[]
  readonly droppedLinks: number
  readonly status: SpanStatus
}

export interface SpanEventRecord {
  readonly name: string
  readonly timeMs: number
  readonly attributes: Attributes
  /** Attributes past the event's count limit. */
  readonly droppedAttributes: number
}

/** What the spans of one provider share in an export: the resource and the instrumentation scope. */
export interface ExportScope {
  resource: Attributes
  scopeName: string
}

/** A batch of ended spans as its exporter takes them: the records themselves, or their encoding. */
export interface SpanBatch {
  /** How many spans it holds. */
  readonly length: number
}

/**
 * How ended spans wait for their export. The default keeps the records; the protobuf exporter's
 * (otlp-export.ts) encodes each span as it ends, so the record is garbage at once instead of living
 * in the queue until its batch goes (long enough to be promoted to the old generation: every span
 * was work for the major garbage collections).
 */
export interface SpanBatcher<B extends SpanBatch> {
  /** A new, empty batch. */
  open(): B
  /** Adds an ended span to `batch`; a throw leaves the batch as it was (the span is dropped and counted). */
  add(batch: B, span: SpanRecord): void
}

/** The default batcher: the records as they are. */
export const RECORD_BATCHER: SpanBatcher<SpanRecord[]> = {
  open: () => [],
  add: (batch, span) => {
    batch.push(span)
  },
}

/** Sends a batch of ended spans; resolves when done, whatever the outcome (it reports its own failures). */
export type SpanExport<B extends SpanBatch = readonly SpanRecord[]> = (
  batch: B,
  scope: ExportScope,
) => Promise<void>

export interface SpanLimits {
  attributeCount: number
  eventCount: number
  linkCount: number
  /** Attributes per event and per link (the value length limit applies to theirs too). */
  eventAttributeCount: number
  linkAttributeCount: number
  attributeValueLength: number
}

export interface BatchSettings {
  maxQueueSize: number
  maxExportBatchSize: number
  scheduledDelayMillis: number
  exportTimeoutMillis: number
}

/** The spec's defaults (OTEL_BSP_*, OTEL_SPAN_*_LIMIT). */
export const DEFAULT_BATCH: BatchSettings = {
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 5000,
  exportTimeoutMillis: 30000,
}
export const DEFAULT_LIMITS: SpanLimits = {
  attributeCount: 128,
  eventCount: 128,
  linkCount: 128,
  eventAttributeCount: 128,
  linkAttributeCount: 128,
  attributeValueLength: Number.POSITIVE_INFINITY,
}

/** The standard span-limit variables from `env`; unset or invalid ones keep the spec's defaults. */
export function spanLimitsFromEnv(env: NodeJS.ProcessEnv): SpanLimits {
  const num = (name: string, fallback: number) => {
    const raw = env[name]?.trim()
    const n = raw ? Number(raw) : Number.NaN
    return Number.isInteger(n) && n >= 0 ? n : fallback
  }
  // The general OTEL_ATTRIBUTE_COUNT_LIMIT, where the span's, event's or link's own is not set.
  const attributeCount = num('OTEL_ATTRIBUTE_COUNT_LIMIT', DEFAULT_LIMITS.attributeCount)
  return {
    attributeCount: num('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', attributeCount),
    eventCount: num('OTEL_SPAN_EVENT_COUNT_LIMIT', DEFAULT_LIMITS.eventCount),
    linkCount: num('OTEL_SPAN_LINK_COUNT_LIMIT', DEFAULT_LIMITS.linkCount),
    eventAttributeCount: num('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', attributeCount),
    linkAttributeCount: num('OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', attributeCount),
    attributeValueLength: num(
      'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      num('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', DEFAULT_LIMITS.attributeValueLength),
    ),
  }
}

/**
 * Random ids: 4 KiB from the CSPRNG at a time (one `randomFillSync` per 170 spans, where the SDK
 * drew Math.random per 4 bytes), turned into hex once, ids cut from that string (one native call
 * per 170 spans, not two per span); never all zeros (invalid).
 */
const POOL = Buffer.alloc(4096)
let poolHex = ''
let poolAt = 0
/** The invalid all-zero ids, by length in hex digits (compared, not cut from one string per call). */
const ZERO_ID: Record<number, string> = { 16: '0'.repeat(16), 32: '0'.repeat(32) }
function randomHex(bytes: number): string {
  const chars = bytes * 2
  for (;;) {
    if (poolAt + chars > poolHex.length) {
      randomFillSync(POOL)
      poolHex = POOL.toString('hex')
      poolAt = 0
    }
    const id = poolHex.slice(poolAt, poolAt + chars)
    poolAt += chars
    if (id !== (ZERO_ID[chars] ?? '0'.repeat(chars))) return id
  }
}

/** Unix ms now, sub-millisecond (the monotonic clock, anchored at the thread's time origin). */
const TIME_ORIGIN = performance.timeOrigin
const nowMs = (): number => TIME_ORIGIN + performance.now()

function timeMs(t: TimeInput | undefined): number {
  if (t === undefined) return nowMs()
  if (typeof t === 'number') return t < TIME_ORIGIN ? TIME_ORIGIN + t : t
  if (t instanceof Date) return t.getTime()
  return (t as HrTime)[0] * 1000 + (t as HrTime)[1] / 1e6
}

const isTime = (v: unknown): v is TimeInput =>
  typeof v === 'number' ||
  v instanceof Date ||
  (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number')

/**
 * `value` within the value length limit: a string cut to `max` characters, and so is each string of
 * an array (a new array only when one is cut); other values as they are.
 */
function cutValue(value: AttributeValue, max: number): AttributeValue {
  if (typeof value === 'string') return value.length > max ? value.slice(0, max) : value
  if (!Array.isArray(value) || !value.some((x) => typeof x === 'string' && x.length > max)) return value
  return (value as unknown[]).map((x) =>
    typeof x === 'string' && x.length > max ? x.slice(0, max) : x,
  ) as AttributeValue
}

/**
 * The attributes of an event or a link within the limits: valid values only, at most `count` keys
 * (the rest counted as dropped), each value cut to the length limit.
 */
function limitedAttributes(
  attrs: Attributes,
  count: number,
  maxLength: number,
): { kept: Attributes; dropped: number } {
  const kept: Attributes = {}
  let n = 0
  let dropped = 0
  for (const key in attrs) {
    const value = attrs[key]
    if (key.length === 0 || !validValue(value)) continue
    if (n >= count) {
      dropped++
      continue
    }
    n++
    setAttr(kept, key, maxLength === Number.POSITIVE_INFINITY ? value : cutValue(value, maxLength))
  }
  return { kept, dropped }
}

/**
 * Sets an attribute on a plain object. A name Object.prototype has (`__proto__`, `toString`, …) is
 * defined as an own key: assigned, `__proto__` would replace the object's prototype, and the others
 * would throw where the intrinsics are frozen. Every other key is assigned.
 */
function setAttr(attrs: Attributes, key: string, value: AttributeValue): void {
  if (key in Object.prototype)
    Object.defineProperty(attrs, key, { value, enumerable: true, writable: true, configurable: true })
  else attrs[key] = value
}

function validValue(v: unknown): v is AttributeValue {
  if (v === null || v === undefined) return false
  const t = typeof v
  if (t === 'string' || t === 'number' || t === 'boolean') return true
  if (!Array.isArray(v)) return false
  let kind: string | undefined
  for (const x of v) {
    if (x === null || x === undefined) continue
    const xt = typeof x
    if (xt !== 'string' && xt !== 'number' && xt !== 'boolean') return false
    if (kind === undefined) kind = xt
    else if (kind !== xt) return false
  }
  return true
}

const NO_EVENTS: SpanEventRecord[] = []
const NO_LINKS: Link[] = []
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET })

/** What a span needs of its provider. */
interface SpanOwner {
  readonly limits: SpanLimits
  parseTraceState(value: string): NonNullable<SpanContext['traceState']>
  ended(span: SpanRecord): void
}

/** A recorded span: the API's Span, kept as the plain fields the exporter reads (SpanRecord). */
class RecordedSpan implements Span, SpanRecord {
  readonly traceId: string
  readonly spanId: string
  readonly traceFlags: number
  readonly traceState: string | undefined
  readonly parentSpanId: string | undefined
  readonly parentIsRemote: boolean
  name: string
  readonly kind: SpanKind
  readonly startMs: number
  endMs = 0
  // A plain object: one without a prototype (Object.create(null)) is a hash table in V8, and its
  // sets and the encoder's walk over it cost 0.8 µs per 4-attribute span against 0.05 µs. Keys such
  // as `constructor` or `__proto__` are still attributes like any other: own keys are checked with
  // Object.hasOwn, and the names Object.prototype has are defined, not assigned (setAttr).
  attributes: Attributes = {}
  attributeCount = 0
  droppedAttributes = 0
  // Shared empty values until a span has its own (most have no events, links or status).
  events: SpanEventRecord[] = NO_EVENTS
  droppedEvents = 0
  links: Link[] = NO_LINKS
  droppedLinks = 0
  status: SpanStatus = UNSET
  #context: SpanContext | undefined
  #traceparent: string | undefined
  #ended = false

  constructor(
    private readonly owner: SpanOwner,
    sc: { traceId: string; spanId: string; traceFlags: number; traceState: string | undefined },
    parent: Pick<SpanContext, 'spanId' | 'isRemote'> | undefined,
    name: string,
    kind: SpanKind,
    startMs: number,
  ) {
    this.traceId = sc.traceId
    this.spanId = sc.spanId
    this.traceFlags = sc.traceFlags
    this.traceState = sc.traceState
    this.parentSpanId = parent?.spanId
    this.parentIsRemote = parent?.isRemote === true
    this.name = name
    this.kind = kind
    this.startMs = startMs
  }

  spanContext(): SpanContext {
    // Made once, on first use (a span that nobody asks for its context never builds it).
    if (this.#context === undefined) {
      const sc: SpanContext = { traceId: this.traceId, spanId: this.spanId, traceFlags: this.traceFlags }
      if (this.traceState !== undefined) sc.traceState = this.owner.parseTraceState(this.traceState)
      this.#context = sc
    }
    return this.#context
  }

  /**
   * The W3C traceparent of this span when its trace is sampled (made once), undefined otherwise: what
   * tracing.ts's traceparentOf gives an event appended inside it, without building the API's
   * SpanContext for it. Its ids are valid (a provider made them or checked its parent's).
   */
  sampledTraceparent(): string | undefined {
    if ((this.traceFlags & TraceFlags.SAMPLED) === 0) return undefined
    this.#traceparent ??= `00-${this.traceId}-${this.spanId}-01`
    return this.#traceparent
  }

  setAttribute(key: string, value: SpanAttributeValue): this {
    if (this.#ended || key.length === 0 || !validValue(value)) return this
    const limits = this.owner.limits
    if (!Object.hasOwn(this.attributes, key)) {
      if (this.attributeCount >= limits.attributeCount) {
        this.droppedAttributes++
        return this
      }
      this.attributeCount++
    }
    setAttr(
      this.attributes,
      key,
      limits.attributeValueLength === Number.POSITIVE_INFINITY
        ? value
        : cutValue(value, limits.attributeValueLength),
    )
    return this
  }

  /** The attributes a span starts with: distinct keys, so set without setAttribute's checks for a known key. */
  initialAttributes(attributes: SpanAttributes): void {
    const limits = this.owner.limits
    const cut = limits.attributeValueLength !== Number.POSITIVE_INFINITY
    for (const key in attributes) {
      const value = attributes[key]
      if (key.length === 0 || !validValue(value)) continue
      if (this.attributeCount >= limits.attributeCount) {
        this.droppedAttributes++
        continue
      }
      this.attributeCount++
      setAttr(this.attributes, key, cut ? cutValue(value, limits.attributeValueLength) : value)
    }
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key] as SpanAttributeValue)
    return this
  }

  addEvent(name: string, attributesOrTime?: SpanAttributes | TimeInput, time?: TimeInput): this {
    if (this.#ended) return this
    if (this.events.length >= this.owner.limits.eventCount) {
      this.droppedEvents++
      return this
    }
    const attrs = isTime(attributesOrTime) ? {} : (attributesOrTime ?? {})
    const at = isTime(attributesOrTime) ? attributesOrTime : time
    const { limits } = this.owner
    const { kept, dropped } = limitedAttributes(
      attrs,
      limits.eventAttributeCount,
      limits.attributeValueLength,
    )
    if (this.events === NO_EVENTS) this.events = []
    this.events.push({ name, timeMs: timeMs(at), attributes: kept, droppedAttributes: dropped })
    return this
  }

  addLink(link: Link): this {
    if (this.#ended) return this
    const { limits } = this.owner
    if (this.links.length >= limits.linkCount) {
      this.droppedLinks++
      return this
    }
    // A link without attributes (the processor's links to its events) is kept as it is.
    let kept = link
    if (link.attributes !== undefined) {
      const { kept: attributes, dropped } = limitedAttributes(
        link.attributes,
        limits.linkAttributeCount,
        limits.attributeValueLength,
      )
      kept = { context: link.context, attributes, droppedAttributesCount: dropped }
    }
    if (this.links === NO_LINKS) this.links = [kept]
    else this.links.push(kept)
    return this
  }

  addLinks(links: Link[]): this {
    for (const l of links) this.addLink(l)
    return this
  }

  setStatus(status: SpanStatus): this {
    if (this.#ended) return this
    // OK is final; UNSET changes nothing (the spec's rules).
    if (this.status.code === SpanStatusCode.OK || status.code === SpanStatusCode.UNSET) return this
    this.status =
      status.code === SpanStatusCode.ERROR && status.message !== undefined
        ? { code: status.code, message: status.message }
        : { code: status.code }
    return this
  }

  updateName(name: string): this {
    if (!this.#ended) this.name = name
    return this
  }

  end(endTime?: TimeInput): void {
    if (this.#ended) return
    this.#ended = true
    this.endMs = Math.max(this.startMs, timeMs(endTime))
    if ((this.traceFlags & TraceFlags.SAMPLED) !== 0) this.owner.ended(this)
  }

  isRecording(): boolean {
    return !this.#ended
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attrs: Attributes = {}
    if (typeof exception === 'string') attrs['exception.message'] = exception
    else if (exception) {
      const type = exception.name ?? (exception.code === undefined ? undefined : String(exception.code))
      if (type) attrs['exception.type'] = type
      if (exception.message) attrs['exception.message'] = exception.message
      if (exception.stack) attrs['exception.stacktrace'] = exception.stack
    }
    this.addEvent('exception', attrs, time)
  }
}

class RecorderTracer implements Tracer {
  constructor(private readonly owner: { start(name: string, options: SpanOptions, ctx: Context): Span }) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = apiContext.active()): Span {
    return this.owner.start(name, options, ctx)
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args[args.length - 1] as F
    const options = (args.length > 1 ? args[0] : {}) as SpanOptions
    const ctx = ((args.length > 2 ? args[1] : undefined) ?? apiContext.active()) as Context
    const span = this.startSpan(name, options, ctx)
    return apiContext.with(trace.setSpan(ctx, span), fn as (s: Span) => ReturnType<F>, undefined, span)
  }
}

export interface RecorderOptions<B extends SpanBatch = SpanRecord[]> {
  sampler: Sampler
  export: SpanExport<B>
  /** How ended spans are kept until exported (RECORD_BATCHER when not given). */
  batcher?: SpanBatcher<B>
  resource: Attributes
  batch?: Partial<BatchSettings>
  limits?: SpanLimits
  /** Reads a `tracestate` header value back into the API's TraceState (the core's TraceState). */
  parseTraceState: (value: string) => NonNullable<SpanContext['traceState']>
  /**
   * The sampler is one of the standard parent-based ones (`parentbased_*`, their default samplers
   * for a parent): a child of a local span is sampled exactly when its parent is, so startChild
   * decides without asking it.
   */
  parentBased?: boolean
}

/**
 * The TracerProvider: one per thread (startTracing registers it). Ended sampled spans wait in a
 * bounded queue, kept as export batches (the batcher's: records, or already encoded); a full batch
 * is exported at once, a partial one after the schedule delay; at most one export runs at a time,
 * each bounded by the export timeout.
 */
export class RecorderProvider<B extends SpanBatch = SpanRecord[]> implements TracerProvider {
  readonly limits: SpanLimits
  readonly #batch: BatchSettings
  readonly #sampler: Sampler
  readonly #export: SpanExport<B>
  readonly #batcher: SpanBatcher<B>
  readonly #scope: ExportScope
  readonly #tracer: RecorderTracer
  readonly parseTraceState: RecorderOptions<B>['parseTraceState']
  readonly #parentBased: boolean
  /** The queue: batches oldest first, each at most maxExportBatchSize spans (only the last one partial). */
  #batches: B[] = []
  /** Spans in #batches. */
  #queued = 0
  #timer: NodeJS.Timeout | undefined
  #exporting: Promise<void> | undefined
  #shutdown = false
  /** Spans dropped because the queue was full. */
  dropped = 0

  constructor(opts: RecorderOptions<B>) {
    this.#sampler = opts.sampler
    this.#export = opts.export
    this.#batcher = opts.batcher ?? (RECORD_BATCHER as unknown as SpanBatcher<B>)
    this.#batch = { ...DEFAULT_BATCH, ...opts.batch }
    // A batch larger than the queue could never fill (the SDK's rule: clamp it).
    this.#batch.maxExportBatchSize = Math.min(this.#batch.maxExportBatchSize, this.#batch.maxQueueSize)
    this.limits = opts.limits ?? DEFAULT_LIMITS
    this.#scope = { resource: opts.resource, scopeName: 'inkstream' }
    this.#tracer = new RecorderTracer(this)
    this.parseTraceState = opts.parseTraceState
    this.#parentBased = opts.parentBased === true
  }

  getTracer(): Tracer {
    return this.#tracer
  }

  /** Starts a span: sampled by the sampler, a child of the span in `ctx` unless `options.root`. */
  start(name: string, options: SpanOptions, ctx: Context): Span {
    const parent = options.root ? undefined : trace.getSpanContext(ctx)
    const validParent = parent !== undefined && isSpanContextValid(parent) ? parent : undefined
    const traceId = validParent?.traceId ?? randomHex(16)
    const spanId = randomHex(8)
    const kind = options.kind ?? SpanKind.INTERNAL
    // The shared empty array when there are none (the sampler only reads it).
    const links = options.links ?? NO_LINKS
    // The sampler sees no parent when there is no valid one (a new context only when one must go).
    const sampleCtx =
      validParent !== undefined || trace.getSpan(ctx) === undefined ? ctx : trace.deleteSpan(ctx)
    const result = this.#sampler.shouldSample(sampleCtx, traceId, name, kind, options.attributes ?? {}, links)
    const traceState = result.traceState ?? validParent?.traceState
    // 0 NOT_RECORD, 1 RECORD, 2 RECORD_AND_SAMPLED (the SDK's SamplingDecision).
    const decision = result.decision as number
    const traceFlags = decision === 2 ? TraceFlags.SAMPLED : TraceFlags.NONE
    if (decision === 0 || this.#shutdown)
      return trace.wrapSpanContext({
        traceId,
        spanId,
        traceFlags,
        ...(traceState === undefined ? {} : { traceState }),
      })
    return this.#record(
      name,
      options,
      { traceId, spanId, traceFlags, traceState: traceState?.serialize() || undefined },
      validParent,
      result.attributes,
    )
  }

  /** A recorded span with what `options` gives it: attributes (then the sampler's, if any), then links. */
  #record(
    name: string,
    options: SpanOptions,
    sc: { traceId: string; spanId: string; traceFlags: number; traceState: string | undefined },
    parent: Pick<SpanContext, 'spanId' | 'isRemote'> | undefined,
    samplerAttributes?: Attributes,
  ): RecordedSpan {
    const span = new RecordedSpan(
      this,
      sc,
      parent,
      name,
      options.kind ?? SpanKind.INTERNAL,
      timeMs(options.startTime),
    )
    if (options.attributes) span.initialAttributes(options.attributes)
    if (samplerAttributes) span.setAttributes(samplerAttributes)
    if (options.links !== undefined && options.links.length > 0) span.addLinks(options.links)
    return span
  }

  /**
   * Starts a child of `parent`, as start() with a context holding it would. A recorded parent (a
   * RecordedSpan), under a parent-based sampler, takes a shorter way: its ids are valid (a provider
   * made them), and the sampler's answer is the parent's sampled flag, so no context is built, no id
   * is checked against the API's regular expressions and the sampler is not called (three context
   * reads and four regular expressions per child before).
   */
  startChild(name: string, options: SpanOptions, parent: Span): Span {
    if (!this.#parentBased || options.root || !(parent instanceof RecordedSpan))
      return this.start(name, options, trace.setSpan(ROOT_CONTEXT, parent))
    const spanId = randomHex(8)
    const traceState = parent.traceState
    if ((parent.traceFlags & TraceFlags.SAMPLED) === 0 || this.#shutdown)
      return trace.wrapSpanContext({
        traceId: parent.traceId,
        spanId,
        traceFlags: parent.traceFlags & TraceFlags.SAMPLED,
        ...(traceState === undefined ? {} : { traceState: this.parseTraceState(traceState) }),
      })
    return this.#record(
      name,
      options,
      { traceId: parent.traceId, spanId, traceFlags: TraceFlags.SAMPLED, traceState },
      { spanId: parent.spanId, isRemote: false },
    )
  }

  /**
   * A sampled span ended: added to the last batch of the queue (a new one when that is full), or
   * dropped and counted when the queue is full.
   */
  ended(span: SpanRecord): void {
    if (this.#shutdown) return
    if (this.#queued >= this.#batch.maxQueueSize) {
      this.dropped++
      return
    }
    const max = this.#batch.maxExportBatchSize
    let last = this.#batches[this.#batches.length - 1]
    if (last === undefined || last.length >= max) {
      last = this.#batcher.open()
      this.#batches.push(last)
    }
    try {
      this.#batcher.add(last, span)
    } catch {
      // A span the exporter cannot encode is lost alone; span.end() never throws into the caller.
      this.dropped++
      if (last.length === 0) this.#batches.pop()
      return
    }
    this.#queued++
    if (last.length >= max) this.#kick()
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#kick(), this.#batch.scheduledDelayMillis)
      this.#timer.unref()
    }
  }

  /** The oldest batch, out of the queue. */
  #take(): B {
    const batch = this.#batches.shift()!
    this.#queued -= batch.length
    return batch
  }

  /**
   * Exports what is queued, a batch at a time, one export at a time: a full batch at once, a partial
   * one when the schedule delay passed (the timer's call). What is left under a full batch waits for
   * the next timer.
   */
  #kick(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#exporting !== undefined || this.#batches.length === 0) return
    const max = this.#batch.maxExportBatchSize
    this.#exporting = (async () => {
      do await this.#exportOne(this.#take())
      while (this.#batches.length > 0 && this.#batches[0]!.length >= max)
    })().finally(() => {
      this.#exporting = undefined
      if (this.#batches.length > 0 && this.#timer === undefined && !this.#shutdown) {
        this.#timer = setTimeout(() => this.#kick(), this.#batch.scheduledDelayMillis)
        this.#timer.unref()
      }
    })
  }

  /** One export, bounded by the export timeout; an export that throws or rejects loses its batch, nothing else. */
  async #exportOne(batch: B): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#batch.exportTimeoutMillis)
      timer.unref()
    })
    const exported = Promise.resolve()
      .then(() => this.#export(batch, this.#scope))
      .catch(() => {})
    try {
      await Promise.race([exported, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Exports every span ended so far: after the export in flight, the rest batch by batch, one
   * export at a time (spans that end meanwhile join the queue and go too).
   */
  async forceFlush(): Promise<void> {
    for (;;) {
      if (this.#exporting !== undefined) {
        await this.#exporting
        continue
      }
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer)
        this.#timer = undefined
      }
      if (this.#batches.length === 0) return
      this.#exporting = (async () => {
        while (this.#batches.length > 0) await this.#exportOne(this.#take())
      })().finally(() => {
        this.#exporting = undefined
      })
    }
  }

  /** Flushes, then records no more. */
  async shutdown(): Promise<void> {
    if (this.#shutdown) return
    await this.forceFlush()
    this.#shutdown = true
  }
}
