/**
 * OTLP/HTTP export of recorded spans (span-recorder.ts): the ExportTraceServiceRequest of
 * opentelemetry-proto (trace.proto, common.proto, resource.proto) written straight from the span
 * records, in protobuf (`http/protobuf`, the spec's default) or its JSON mapping (`http/json`), and
 * POSTed with the standard exporter settings:
 * - OTEL_EXPORTER_OTLP_(TRACES_)HEADERS: `key=value` pairs, comma separated, values URL-encoded;
 * - OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT: ms per export, retries included (default 10,000);
 * - OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION: `gzip` or `none` (default);
 * - the spec's retryable answers (429, 502, 503, 504, and a failed connection) retried with an
 *   exponential back-off (a `Retry-After` in seconds is honoured) until the timeout; others dropped.
 * What is dropped is counted (the handle of startTracing reports it), not logged per batch.
 *
 * Written here, not taken from the SDK's exporter, because the SDK's transform was half of a
 * request span's cost (ids parsed from hex per span, every string measured then written, two passes).
 */
import { readFileSync } from 'node:fs'
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import type { Attributes, AttributeValue, Link } from '@opentelemetry/api'
import { invalidConfig } from '../core/errors.ts'
import {
  type ExportScope,
  RECORD_BATCHER,
  type SpanBatch,
  type SpanBatcher,
  type SpanEventRecord,
  type SpanRecord,
} from './span-recorder.ts'
import { parseKeyValues } from './tracing.ts'

const gzipAsync = promisify(gzip)

// ---------------------------------------------------------------------------------------------
// Protobuf

/**
 * The value of each hex digit by char code (upper or lower case; anything else reads as 0: ids are
 * validated hex). A table look-up decoded an id in half the time of computing each digit.
 */
const HEX_VALUE = new Uint8Array(128)
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i
for (let i = 0; i < 6; i++) HEX_VALUE[0x61 + i] = HEX_VALUE[0x41 + i] = 10 + i
const nibble = (c: number): number => HEX_VALUE[c & 0x7f]!

/** A protobuf writer into one growing buffer; a nested message's length is patched in at its end. */
class ProtoWriter {
  buf: Buffer
  pos = 0
  #starts: number[] = []

  constructor(size = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(size)
  }

  #room(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  /** A varint of a non-negative integer below 2^53. */
  varint(v: number): void {
    this.#room(10)
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.buf[this.pos++] = v
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire)
  }

  uint(field: number, v: number): void {
    if (v === 0) return
    this.tag(field, 0)
    this.varint(v)
  }

  /** int64 as a varint (negative ones as their 64-bit two's complement, ten bytes). */
  int64(field: number, v: number): void {
    this.tag(field, 0)
    if (v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
      this.varint(v)
      return
    }
    let b = BigInt.asUintN(64, BigInt(Math.trunc(v)))
    this.#room(10)
    while (b >= 0x80n) {
      this.buf[this.pos++] = Number(b & 0x7fn) | 0x80
      b >>= 7n
    }
    this.buf[this.pos++] = Number(b)
  }

  double(field: number, v: number): void {
    this.tag(field, 1)
    this.#room(8)
    this.buf.writeDoubleLE(v, this.pos)
    this.pos += 8
  }

  fixed32(field: number, v: number): void {
    this.tag(field, 5)
    this.#room(4)
    this.buf.writeUInt32LE(v >>> 0, this.pos)
    this.pos += 4
  }

  /**
   * Unix ms (fractional) as fixed64 nanoseconds, without BigInt: seconds × 1e9 = (seconds ×
   * 1953125) × 2^9, and seconds × 1953125 stays below 2^53 until the year 4,000.
   */
  unixNanos(field: number, ms: number): void {
    this.tag(field, 1)
    this.#room(8)
    const secs = Math.floor(ms / 1000)
    const nanos = Math.min(999_999_999, Math.round((ms - secs * 1000) * 1e6))
    const x = secs * 1953125
    let hi = Math.floor(x / 0x800000)
    let lo = (x % 0x800000) * 512 + nanos
    if (lo >= 0x100000000) {
      hi += 1
      lo -= 0x100000000
    }
    this.buf.writeUInt32LE(lo, this.pos)
    this.buf.writeUInt32LE(hi, this.pos + 4)
    this.pos += 8
  }

  /** A string field; an empty one is left out unless `always` (a oneof's member must be present). */
  string(field: number, s: string, always = false): void {
    const len = s.length
    if (len === 0 && !always) return
    this.tag(field, 2)
    // Short ASCII strings (keys, names, ids of requests: nearly all) byte by byte here: a call into
    // Buffer#write costs more than the copy.
    if (len < 0x80) {
      this.#room(len + 1)
      const buf = this.buf
      const at = this.pos + 1
      let i = 0
      for (; i < len; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[at + i] = c
      }
      if (i === len) {
        buf[this.pos] = len
        this.pos = at + len
        return
      }
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit: room first, then write and patch the length.
    const max = len * 3
    this.#room(max + 5)
    const lenAt = this.pos
    const lenBytes = max < 0x80 ? 1 : max < 0x4000 ? 2 : max < 0x200000 ? 3 : 4
    const n = this.buf.write(s, lenAt + lenBytes, 'utf8')
    this.#lengthAt(lenAt, lenBytes, n)
  }

  /** Bytes given as hex (an id; lower or upper case), decoded here for the same reason. */
  hex(field: number, hex: string | undefined): void {
    if (hex === undefined || hex.length === 0) return
    this.tag(field, 2)
    const n = hex.length >>> 1
    this.#room(n + 1)
    const buf = this.buf
    buf[this.pos] = n
    const at = this.pos + 1
    for (let i = 0; i < n; i++)
      buf[at + i] = (nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1))
    this.pos = at + n
  }

  /** Starts a nested message (field `field`); end() writes its length. */
  begin(field: number): void {
    this.tag(field, 2)
    this.#room(1)
    this.#starts.push(this.pos)
    this.pos += 1
  }

  end(): void {
    const at = this.#starts.pop()!
    const len = this.pos - at - 1
    if (len < 0x80) {
      this.buf[at] = len
      return
    }
    const lenBytes = len < 0x4000 ? 2 : len < 0x200000 ? 3 : len < 0x10000000 ? 4 : 5
    this.#room(lenBytes - 1)
    this.buf.copyWithin(at + lenBytes, at + 1, this.pos)
    this.pos = at
    this.varint(len)
    this.pos = at + lenBytes + len
  }

  /** Writes a length `n` in exactly `lenBytes` bytes at `at` (padded varint) then moves past the data. */
  #lengthAt(at: number, lenBytes: number, n: number): void {
    const needed = n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4
    if (needed < lenBytes) {
      // Shift the data down so the length is minimal (no padded varints on the wire).
      this.buf.copyWithin(at + needed, at + lenBytes, at + lenBytes + n)
      lenBytes = needed
    }
    let v = n
    for (let i = 0; i < lenBytes - 1; i++) {
      this.buf[at + i] = (v & 0x7f) | 0x80
      v >>>= 7
    }
    this.buf[at + lenBytes - 1] = v
    this.pos = at + lenBytes + n
  }

  /** Bytes already encoded, as they are. */
  raw(bytes: Uint8Array): void {
    this.#room(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
  }

  /** Back to `pos` (a message left half written is cut off). */
  rewind(pos: number): void {
    this.pos = pos
    this.#starts.length = 0
  }

  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos))
  }
}

// AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array (ArrayValue: 1 values).
function anyValue(w: ProtoWriter, field: number, v: AttributeValue | null | undefined): void {
  w.begin(field)
  if (typeof v === 'string') w.string(1, v, true)
  else if (typeof v === 'boolean') {
    w.tag(2, 0)
    w.varint(v ? 1 : 0)
  } else if (typeof v === 'number') {
    // Integers as int64 while exact (beyond 2^53 a number is a double already, and a JSON int64 of
    // 1e21 would be written "1e+21", which a collector refuses).
    if (Number.isSafeInteger(v)) w.int64(3, v)
    else w.double(4, v)
  } else if (Array.isArray(v)) {
    w.begin(5)
    for (const x of v) anyValue(w, 1, x)
    w.end()
  }
  w.end()
}

// KeyValue: 1 key, 2 value.
function attributes(w: ProtoWriter, field: number, attrs: Attributes): void {
  for (const key in attrs) {
    // Own keys only, as the JSON encoding's Object.entries (an enumerable key added to
    // Object.prototype is no attribute).
    if (!Object.hasOwn(attrs, key)) continue
    const v = attrs[key]
    if (v === undefined) continue
    w.begin(field)
    w.string(1, key)
    anyValue(w, 2, v)
    w.end()
  }
}

// Span.Event: 1 time_unix_nano, 2 name, 3 attributes, 4 dropped attributes.
function event(w: ProtoWriter, e: SpanEventRecord): void {
  w.begin(11)
  w.unixNanos(1, e.timeMs)
  w.string(2, e.name)
  attributes(w, 3, e.attributes)
  w.uint(4, e.droppedAttributes)
  w.end()
}

/**
 * A link's dropped attribute count: the recorder's, or a caller's own as a whole non-negative number
 * (a negative one would be written as a 10-byte varint that breaks the request).
 */
const linkDropped = (l: Link): number => Math.max(0, Math.trunc(l.droppedAttributesCount ?? 0)) || 0

// Span.Link: 1 trace_id, 2 span_id, 3 trace_state, 4 attributes, 5 dropped attributes, 6 flags.
function link(w: ProtoWriter, l: Link): void {
  w.begin(13)
  w.hex(1, l.context.traceId)
  w.hex(2, l.context.spanId)
  const state = l.context.traceState?.serialize()
  if (state) w.string(3, state)
  if (l.attributes) attributes(w, 4, l.attributes)
  w.uint(5, linkDropped(l))
  w.fixed32(6, (l.context.traceFlags & 0xff) | 0x100 | (l.context.isRemote ? 0x200 : 0))
  w.end()
}

/**
 * Span: 1 trace_id, 2 span_id, 3 trace_state, 4 parent_span_id, 5 name, 6 kind (the API's + 1),
 * 7/8 start/end time, 9 attributes, 10 dropped attributes, 11 events, 12 dropped events, 13 links,
 * 14 dropped links, 15 status (2 message, 3 code), 16 flags (trace flags; bit 8: the parent's
 * remoteness is known, bit 9: it is remote).
 */
function span(w: ProtoWriter, s: SpanRecord): void {
  w.begin(2)
  w.hex(1, s.traceId)
  w.hex(2, s.spanId)
  if (s.traceState) w.string(3, s.traceState)
  w.hex(4, s.parentSpanId)
  w.string(5, s.name)
  w.uint(6, s.kind + 1)
  w.unixNanos(7, s.startMs)
  w.unixNanos(8, s.endMs)
  attributes(w, 9, s.attributes)
  w.uint(10, s.droppedAttributes)
  for (const e of s.events) event(w, e)
  w.uint(12, s.droppedEvents)
  for (const l of s.links) link(w, l)
  w.uint(14, s.droppedLinks)
  if (s.status.code !== 0 || s.status.message) {
    w.begin(15)
    if (s.status.message) w.string(2, s.status.message)
    w.uint(3, s.status.code)
    w.end()
  }
  w.fixed32(16, (s.traceFlags & 0xff) | 0x100 | (s.parentIsRemote ? 0x200 : 0))
  w.end()
}

/**
 * A batch of spans encoded as they ended: each one's `spans` field of ScopeSpans, one after the
 * other (what encodeProtobuf writes between the scope and the closing lengths). Holds no span record.
 */
export class ProtobufBatch implements SpanBatch {
  // Small at first and doubled as spans come: with OTEL_BSP_MAX_EXPORT_BATCH_SIZE=1 a full queue is
  // 2,048 batches, which at 64 KiB each held 128 MiB (a 512-span batch grows to 128 KiB in 5 copies).
  readonly w = new ProtoWriter(4 * 1024)
  length = 0
}

/** The protobuf exporter's batcher: a span is encoded when it ends; its record is not kept. */
export const PROTOBUF_BATCHER: SpanBatcher<ProtobufBatch> = {
  open: () => new ProtobufBatch(),
  add(batch, s) {
    const at = batch.w.pos
    try {
      span(batch.w, s)
    } catch (err) {
      batch.w.rewind(at)
      throw err
    }
    batch.length++
  },
}

/**
 * ExportTraceServiceRequest { 1 ResourceSpans { 1 Resource { 1 attributes }, 2 ScopeSpans
 * { 1 InstrumentationScope { 1 name }, 2 spans } } }, in protobuf, around spans encoded already.
 */
export function protobufRequest(batch: ProtobufBatch, scope: ExportScope): Buffer {
  const w = new ProtoWriter(batch.w.pos + 1024)
  w.begin(1)
  w.begin(1)
  attributes(w, 1, scope.resource)
  w.end()
  w.begin(2)
  w.begin(1)
  w.string(1, scope.scopeName)
  w.end()
  w.raw(batch.w.buf.subarray(0, batch.w.pos))
  w.end()
  w.end()
  // This writer is the request's alone: its bytes as they are, not copied again (done() copies).
  return w.buf.subarray(0, w.pos)
}

/** The protobuf request of these span records (encoded as PROTOBUF_BATCHER does, as they end). */
export function encodeProtobuf(spans: readonly SpanRecord[], scope: ExportScope): Buffer {
  const batch = PROTOBUF_BATCHER.open()
  for (const s of spans) PROTOBUF_BATCHER.add(batch, s)
  return protobufRequest(batch, scope)
}

// ---------------------------------------------------------------------------------------------
// JSON (the spec's mapping: lowerCamelCase fields, ids as hex, 64-bit integers as decimal strings)

const nanosString = (ms: number): string => {
  const secs = Math.floor(ms / 1000)
  const nanos = Math.min(999_999_999, Math.round((ms - secs * 1000) * 1e6))
  return (BigInt(secs) * 1_000_000_000n + BigInt(nanos)).toString()
}

const jsonValue = (v: AttributeValue | null | undefined): object =>
  typeof v === 'string'
    ? { stringValue: v }
    : typeof v === 'boolean'
      ? { boolValue: v }
      : typeof v === 'number'
        ? Number.isSafeInteger(v)
          ? { intValue: String(v) }
          : { doubleValue: v }
        : Array.isArray(v)
          ? { arrayValue: { values: v.map(jsonValue) } }
          : {}

const jsonAttributes = (attrs: Attributes) =>
  Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => ({ key, value: jsonValue(v) }))

const jsonSpan = (s: SpanRecord) => ({
  traceId: s.traceId,
  spanId: s.spanId,
  ...(s.traceState ? { traceState: s.traceState } : {}),
  ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
  name: s.name,
  kind: s.kind + 1,
  startTimeUnixNano: nanosString(s.startMs),
  endTimeUnixNano: nanosString(s.endMs),
  attributes: jsonAttributes(s.attributes),
  droppedAttributesCount: s.droppedAttributes,
  events: s.events.map((e) => ({
    timeUnixNano: nanosString(e.timeMs),
    name: e.name,
    attributes: jsonAttributes(e.attributes),
    droppedAttributesCount: e.droppedAttributes,
  })),
  droppedEventsCount: s.droppedEvents,
  links: s.links.map((l) => ({
    traceId: l.context.traceId,
    spanId: l.context.spanId,
    ...(l.context.traceState ? { traceState: l.context.traceState.serialize() } : {}),
    attributes: jsonAttributes(l.attributes ?? {}),
    droppedAttributesCount: linkDropped(l),
    flags: (l.context.traceFlags & 0xff) | 0x100 | (l.context.isRemote ? 0x200 : 0),
  })),
  droppedLinksCount: s.droppedLinks,
  status: { code: s.status.code, ...(s.status.message ? { message: s.status.message } : {}) },
  flags: (s.traceFlags & 0xff) | 0x100 | (s.parentIsRemote ? 0x200 : 0),
})

/** The same request in OTLP's JSON encoding. */
export function encodeJson(spans: readonly SpanRecord[], scope: ExportScope): Buffer {
  return Buffer.from(
    JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: jsonAttributes(scope.resource) },
          scopeSpans: [{ scope: { name: scope.scopeName }, spans: spans.map(jsonSpan) }],
        },
      ],
    }),
  )
}

// ---------------------------------------------------------------------------------------------
// Transport

export interface ExportSettings {
  url: string
  protocol: 'http/protobuf' | 'http/json'
  headers: Record<string, string>
  timeoutMs: number
  gzip: boolean
  /** For an https endpoint: PEM files of the CA to trust, and of the client's certificate and key (mTLS). */
  tls: { ca?: string; cert?: string; key?: string }
}

/**
 * The exporter settings from the standard variables (the traces-specific one wins over the general
 * one). An endpoint that is not an http(s) URL is refused here, at start, with INK_ERR_INVALID_CONFIG.
 */
export function exportSettings(
  env: NodeJS.ProcessEnv,
  url: string,
  protocol: ExportSettings['protocol'],
): ExportSettings {
  const pick = (name: string) => env[`OTEL_EXPORTER_OTLP_TRACES_${name}`] || env[`OTEL_EXPORTER_OTLP_${name}`]
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {}
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    throw invalidConfig([
      `OTEL_EXPORTER_OTLP_ENDPOINT: "${url}" is not an http:// or https:// URL; give the collector's OTLP/HTTP address, e.g. http://localhost:4318`,
    ])
  const timeout = Number(pick('TIMEOUT'))
  const tls: ExportSettings['tls'] = {}
  for (const [key, name] of [
    ['ca', 'CERTIFICATE'],
    ['cert', 'CLIENT_CERTIFICATE'],
    ['key', 'CLIENT_KEY'],
  ] as const) {
    const path = pick(name)?.trim()
    if (path) tls[key] = path
  }
  return {
    url: parsed.href,
    protocol,
    headers: {
      ...parseKeyValues(env.OTEL_EXPORTER_OTLP_HEADERS),
      ...parseKeyValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
    },
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : 10_000,
    gzip: pick('COMPRESSION')?.trim().toLowerCase() === 'gzip',
    tls,
  }
}

/** A batch as the exporter takes it: span records (JSON, or the tests' protobuf), or spans encoded as they ended. */
export type ExportBatch = readonly SpanRecord[] | ProtobufBatch

/** What an exporter did: batches and spans sent, and those dropped (refused, or retried past the timeout). */
export interface ExportCounts {
  exports: number
  spans: number
  failedExports: number
  failedSpans: number
}

const RETRYABLE = new Set([429, 502, 503, 504])

/** POSTs one body; the status code, or undefined when the connection failed. */
function post(
  url: URL,
  body: Buffer,
  headers: Record<string, string>,
  agent: HttpAgent,
  timeoutMs: number,
): Promise<{ status: number | undefined; retryAfter: string | undefined }> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(body.length) },
        agent,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume()
        res.on('end', () => {
          const ra = res.headers['retry-after']
          resolve({ status: res.statusCode, retryAfter: Array.isArray(ra) ? ra[0] : ra })
        })
        res.on('error', () => resolve({ status: undefined, retryAfter: undefined }))
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve({ status: undefined, retryAfter: undefined }))
    req.end(body)
  })
}

/** A PEM file named by OTEL_EXPORTER_OTLP_(TRACES_)<name>; one that cannot be read is a config error at start. */
function pem(path: string, name: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw invalidConfig([`OTEL_EXPORTER_OTLP_${name}: cannot read "${path}" (${(err as Error).message})`])
  }
}

/**
 * The span export of the recorder: encode, compress if asked, POST, retry what the spec says is
 * retryable. Never rejects: whatever fails (encoding included) is counted in failedExports/Spans.
 * TLS files (OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY) are read here, once.
 */
export function otlpExporter(s: ExportSettings): {
  /** How the provider keeps ended spans for this exporter: encoded at once in protobuf, as records for JSON. */
  batcher: SpanBatcher<ExportBatch>
  export: (batch: ExportBatch, scope: ExportScope) => Promise<void>
  counts: ExportCounts
  close: () => void
} {
  const counts: ExportCounts = { exports: 0, spans: 0, failedExports: 0, failedSpans: 0 }
  const url = new URL(s.url)
  const agent =
    url.protocol === 'https:'
      ? new HttpsAgent({
          keepAlive: true,
          maxSockets: 2,
          ...(s.tls.ca ? { ca: pem(s.tls.ca, 'CERTIFICATE') } : {}),
          ...(s.tls.cert ? { cert: pem(s.tls.cert, 'CLIENT_CERTIFICATE') } : {}),
          ...(s.tls.key ? { key: pem(s.tls.key, 'CLIENT_KEY') } : {}),
        })
      : new HttpAgent({ keepAlive: true, maxSockets: 2 })
  const headers = {
    'user-agent': 'inkstream-otlp-exporter',
    ...s.headers,
    'content-type': s.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf',
    ...(s.gzip ? { 'content-encoding': 'gzip' } : {}),
  }
  const send = async (batch: ExportBatch, scope: ExportScope): Promise<boolean> => {
    let body =
      batch instanceof ProtobufBatch
        ? protobufRequest(batch, scope)
        : s.protocol === 'http/json'
          ? encodeJson(batch, scope)
          : encodeProtobuf(batch, scope)
    if (s.gzip) body = await gzipAsync(body)
    const deadline = Date.now() + s.timeoutMs
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      const { status, retryAfter } = await post(url, body, headers, agent, left)
      if (status !== undefined && status >= 200 && status < 300) return true
      if (status !== undefined && !RETRYABLE.has(status)) return false
      // The back-off, or the collector's Retry-After when it asks for longer (a 0 or an empty one
      // would make this a busy loop).
      const backOff = Math.min(5000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2)
      const afterSecs = Number(retryAfter)
      const wait = Number.isFinite(afterSecs) && afterSecs * 1000 > backOff ? afterSecs * 1000 : backOff
      if (Date.now() + wait >= deadline) return false
      // Not unref'd: a retry during the shutdown flush must keep the process up until it ends.
      await new Promise((r) => setTimeout(r, wait))
    }
  }
  return {
    counts,
    batcher: (s.protocol === 'http/json' ? RECORD_BATCHER : PROTOBUF_BATCHER) as SpanBatcher<ExportBatch>,
    close: () => agent.destroy(),
    async export(batch, scope) {
      let ok = false
      try {
        ok = await send(batch, scope)
      } catch {
        ok = false
      }
      if (ok) {
        counts.exports++
        counts.spans += batch.length
      } else {
        counts.failedExports++
        counts.failedSpans += batch.length
      }
    },
  }
}
