/**
 * The tracer of our own (span-recorder.ts) and its OTLP encoding (otlp-export.ts): the protobuf it
 * writes read back field by field with opentelemetry-proto's field numbers, and compared with what
 * the OpenTelemetry SDK's own serializer (@opentelemetry/otlp-transformer) writes for the same
 * spans; the JSON encoding against the same document; the batching, the limits, the sampler, and
 * the exporter's retries against a local HTTP endpoint.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api'
import { TraceState } from '@opentelemetry/core'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import * as sdk from '@opentelemetry/sdk-trace-base'
import {
  encodeJson,
  encodeProtobuf,
  exportSettings,
  otlpExporter,
  PROTOBUF_BATCHER,
  protobufRequest,
} from '../../src/observe/otlp-export.ts'
import { samplerFromEnv, samplerName } from '../../src/observe/sampling.ts'
import { RecorderProvider, type SpanRecord, spanLimitsFromEnv } from '../../src/observe/span-recorder.ts'
import { parseKeyValues, resourceOf } from '../../src/observe/tracing.ts'

// ---------------------------------------------------------------------------------------------
// A protobuf reader driven by trace.proto's schema: every field, nested messages decoded.

type Kind = 'string' | 'bytes' | 'varint' | 'fixed64' | 'fixed32' | 'double' | { msg: string }
const SCHEMA: Record<string, Record<number, [string, Kind]>> = {
  Request: { 1: ['resourceSpans', { msg: 'ResourceSpans' }] },
  ResourceSpans: {
    1: ['resource', { msg: 'Resource' }],
    2: ['scopeSpans', { msg: 'ScopeSpans' }],
    3: ['schemaUrl', 'string'],
  },
  Resource: { 1: ['attributes', { msg: 'KeyValue' }], 2: ['droppedAttributesCount', 'varint'] },
  ScopeSpans: { 1: ['scope', { msg: 'Scope' }], 2: ['spans', { msg: 'Span' }], 3: ['schemaUrl', 'string'] },
  Scope: { 1: ['name', 'string'], 2: ['version', 'string'], 3: ['attributes', { msg: 'KeyValue' }] },
  Span: {
    1: ['traceId', 'bytes'],
    2: ['spanId', 'bytes'],
    3: ['traceState', 'string'],
    4: ['parentSpanId', 'bytes'],
    5: ['name', 'string'],
    6: ['kind', 'varint'],
    7: ['startTimeUnixNano', 'fixed64'],
    8: ['endTimeUnixNano', 'fixed64'],
    9: ['attributes', { msg: 'KeyValue' }],
    10: ['droppedAttributesCount', 'varint'],
    11: ['events', { msg: 'Event' }],
    12: ['droppedEventsCount', 'varint'],
    13: ['links', { msg: 'Link' }],
    14: ['droppedLinksCount', 'varint'],
    15: ['status', { msg: 'Status' }],
    16: ['flags', 'fixed32'],
  },
  Event: {
    1: ['timeUnixNano', 'fixed64'],
    2: ['name', 'string'],
    3: ['attributes', { msg: 'KeyValue' }],
    4: ['droppedAttributesCount', 'varint'],
  },
  Link: {
    1: ['traceId', 'bytes'],
    2: ['spanId', 'bytes'],
    3: ['traceState', 'string'],
    4: ['attributes', { msg: 'KeyValue' }],
    5: ['droppedAttributesCount', 'varint'],
    6: ['flags', 'fixed32'],
  },
  Status: { 2: ['message', 'string'], 3: ['code', 'varint'] },
  KeyValue: { 1: ['key', 'string'], 2: ['value', { msg: 'AnyValue' }] },
  AnyValue: {
    1: ['stringValue', 'string'],
    2: ['boolValue', 'varint'],
    3: ['intValue', 'varint'],
    4: ['doubleValue', 'double'],
    5: ['arrayValue', { msg: 'ArrayValue' }],
  },
  ArrayValue: { 1: ['values', { msg: 'AnyValue' }] },
}
/** Fields that repeat (decoded as arrays). */
const REPEATED = new Set(['resourceSpans', 'scopeSpans', 'attributes', 'spans', 'events', 'links', 'values'])

type Decoded = Record<string, unknown>

/**
 * One message, by the schema: unknown fields fail; proto3 defaults (0, "", empty) are left out,
 * so a writer that writes them and one that leaves them out read the same.
 */
function decode(buf: Buffer, type: string): Decoded {
  const schema = SCHEMA[type]!
  const out: Decoded = {}
  let i = 0
  const varint = (): bigint => {
    let v = 0n
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[i++]
      assert.ok(b !== undefined, `truncated varint in ${type}`)
      v |= BigInt(b & 0x7f) << shift
      if (b < 0x80) {
        // A varint is written in as few bytes as it needs (a padded one is legal, but not ours).
        assert.ok(shift === 0n || b !== 0, `a padded varint in ${type}`)
        return v
      }
    }
  }
  while (i < buf.length) {
    const key = Number(varint())
    const entry = schema[key >>> 3]
    assert.ok(entry, `field ${key >>> 3} is not in ${type}`)
    const [name, kind] = entry
    const wire = key & 7
    let value: unknown
    if (kind === 'varint') {
      assert.equal(wire, 0, `${type}.${name}: wire type`)
      value = varint()
    } else if (kind === 'fixed64' || kind === 'double') {
      assert.equal(wire, 1, `${type}.${name}: wire type`)
      value = kind === 'double' ? buf.readDoubleLE(i) : buf.readBigUInt64LE(i)
      i += 8
    } else if (kind === 'fixed32') {
      assert.equal(wire, 5, `${type}.${name}: wire type`)
      value = buf.readUInt32LE(i)
      i += 4
    } else {
      assert.equal(wire, 2, `${type}.${name}: wire type`)
      const len = Number(varint())
      const bytes = buf.subarray(i, i + len)
      assert.equal(bytes.length, len, `${type}.${name}: truncated`)
      i += len
      value =
        kind === 'string'
          ? bytes.toString('utf8')
          : kind === 'bytes'
            ? bytes.toString('hex')
            : decode(bytes, kind.msg)
    }
    const isDefault =
      value === 0n ||
      value === 0 ||
      value === '' ||
      (typeof value === 'object' && value !== null && Object.keys(value).length === 0)
    // An AnyValue's member is present even when it is the default ("" is a string value).
    if (isDefault && type !== 'AnyValue') continue
    if (!REPEATED.has(name)) out[name] = value
    else if (Array.isArray(out[name])) out[name].push(value)
    else out[name] = [value]
  }
  return out
}

// ---------------------------------------------------------------------------------------------

// Sub-millisecond, and exact in a double (a Unix-ms double holds about a quarter of a microsecond).
const T0 = 1_780_000_000_123.5
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'

/** A span record with every feature the encoder writes. */
function fullRecord(overrides: Partial<SpanRecord> = {}): SpanRecord {
  return {
    traceId: TRACE,
    spanId: 'a3ce929d0e0e4736',
    traceFlags: TraceFlags.SAMPLED,
    traceState: 'vendor=v1,other=x',
    parentSpanId: PARENT,
    parentIsRemote: true,
    name: 'POST /v1/track — ünïcode',
    kind: SpanKind.SERVER,
    startMs: T0,
    endMs: T0 + 12.25,
    attributes: {
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'inkstream.negative': -42,
      'inkstream.big': 2 ** 53 - 1,
      'inkstream.ratio': 0.25,
      'inkstream.ok': true,
      'inkstream.no': false,
      'inkstream.empty': '',
      'inkstream.list': ['a', 'b'],
      'inkstream.numbers': [1, 2.5],
      'inkstream.long': 'x'.repeat(300),
      'inkstream.long.utf8': 'é'.repeat(70),
    },
    droppedAttributes: 3,
    events: [
      {
        name: 'exception',
        timeMs: T0 + 1,
        attributes: { 'exception.type': 'Error', 'exception.message': 'boom' },
        droppedAttributes: 2,
      },
    ],
    droppedEvents: 1,
    links: [
      {
        context: {
          traceId: 'e'.repeat(32),
          spanId: 'f'.repeat(16),
          traceFlags: 1,
          isRemote: true,
          traceState: new TraceState('k=v'),
        },
        attributes: { 'link.note': 'n' },
        droppedAttributesCount: 4,
      },
    ],
    droppedLinks: 2,
    status: { code: SpanStatusCode.ERROR, message: 'failed' },
    ...overrides,
  }
}

const SDK_SCOPE = { name: 'inkstream' }

/** The same span as the SDK's ReadableSpan (what its serializer reads; it groups by resource object). */
function asReadable(r: SpanRecord, resource: object) {
  const hr = (ms: number): [number, number] => {
    const secs = Math.floor(ms / 1000)
    return [secs, Math.min(999_999_999, Math.round((ms - secs * 1000) * 1e6))]
  }
  return {
    name: r.name,
    kind: r.kind,
    spanContext: () => ({
      traceId: r.traceId,
      spanId: r.spanId,
      traceFlags: r.traceFlags,
      ...(r.traceState ? { traceState: new TraceState(r.traceState) } : {}),
    }),
    parentSpanContext: r.parentSpanId
      ? { traceId: r.traceId, spanId: r.parentSpanId, traceFlags: r.traceFlags, isRemote: r.parentIsRemote }
      : undefined,
    startTime: hr(r.startMs),
    endTime: hr(r.endMs),
    duration: hr(r.endMs - r.startMs),
    status: r.status,
    attributes: r.attributes,
    links: r.links.map((l) => ({ ...l, droppedAttributesCount: l.droppedAttributesCount ?? 0 })),
    events: r.events.map((e) => ({
      name: e.name,
      time: hr(e.timeMs),
      attributes: e.attributes,
      droppedAttributesCount: e.droppedAttributes,
    })),
    ended: true,
    resource,
    instrumentationScope: SDK_SCOPE,
    droppedAttributesCount: r.droppedAttributes,
    droppedEventsCount: r.droppedEvents,
    droppedLinksCount: r.droppedLinks,
  }
}

const SCOPE = {
  resource: { 'service.name': 'unit', 'telemetry.sdk.language': 'nodejs' },
  scopeName: 'inkstream',
}

describe('OTLP encoding of recorded spans', () => {
  test('protobuf: every field as the SDK serializer writes it, for one span and for 400 (long lengths)', () => {
    for (const spans of [
      [fullRecord()],
      Array.from({ length: 400 }, (_, i) =>
        fullRecord({
          spanId: (i + 1).toString(16).padStart(16, '0'),
          parentSpanId: undefined,
          parentIsRemote: false,
          traceState: undefined,
        }),
      ),
    ]) {
      const resource = { attributes: SCOPE.resource, getRawAttributes: () => Object.entries(SCOPE.resource) }
      const ours = decode(encodeProtobuf(spans, SCOPE), 'Request')
      const theirs = decode(
        Buffer.from(
          // biome-ignore lint/suspicious/noExplicitAny: the serializer's ReadableSpan, built structurally above
          ProtobufTraceSerializer.serializeRequest(spans.map((s) => asReadable(s, resource)) as any)!,
        ),
        'Request',
      )
      assert.deepEqual(ours, theirs)
    }
  })

  test("a caller's own link dropped count is written as a whole non-negative number (a negative one broke the request)", () => {
    const base = fullRecord().links[0]!
    const record = fullRecord({
      links: [
        { ...base, droppedAttributesCount: -1 },
        { ...base, droppedAttributesCount: 2.7 },
      ],
    })
    const req = decode(encodeProtobuf([record], SCOPE), 'Request') as {
      resourceSpans: { scopeSpans: { spans: { links: { droppedAttributesCount?: unknown }[] }[] }[] }[]
    }
    const links = req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.links
    assert.deepEqual(
      links.map((l) => Number(l.droppedAttributesCount ?? 0)),
      [0, 2],
    )
    const doc = JSON.parse(encodeJson([record], SCOPE).toString('utf8'))
    assert.deepEqual(
      doc.resourceSpans[0].scopeSpans[0].spans[0].links.map(
        (l: { droppedAttributesCount: number }) => l.droppedAttributesCount,
      ),
      [0, 2],
    )
  })

  test('protobuf, encoded as spans end: a span that fails half way is cut off, the batch reads as the others alone', () => {
    const batch = PROTOBUF_BATCHER.open()
    const first = fullRecord()
    const last = fullRecord({ spanId: 'a'.repeat(16) })
    PROTOBUF_BATCHER.add(batch, first)
    const broken = fullRecord({
      spanId: 'b'.repeat(16),
      attributes: {
        written: 'first',
        get boom(): string {
          throw new Error('unreadable attribute')
        },
      },
    })
    assert.throws(() => PROTOBUF_BATCHER.add(batch, broken), /unreadable attribute/)
    PROTOBUF_BATCHER.add(batch, last)
    assert.equal(batch.length, 2)
    assert.deepEqual(protobufRequest(batch, SCOPE), encodeProtobuf([first, last], SCOPE))
    // And the provider drops that span alone, counted, and exports the others.
    const exported: Buffer[] = []
    const p = new RecorderProvider({
      sampler: samplerFromEnv({}, sdk),
      batcher: PROTOBUF_BATCHER,
      export: async (b) => {
        exported.push(protobufRequest(b, SCOPE))
      },
      resource: {},
      parseTraceState: (v) => new TraceState(v),
    })
    const tracer = p.getTracer()
    tracer.startSpan('fine', {}, ROOT_CONTEXT).end()
    const bad = tracer.startSpan('bad', {}, ROOT_CONTEXT)
    Object.defineProperty((bad as unknown as SpanRecord).attributes, 'boom', {
      enumerable: true,
      get() {
        throw new Error('unreadable attribute')
      },
    })
    bad.end()
    tracer.startSpan('fine too', {}, ROOT_CONTEXT).end()
    return p.forceFlush().then(() => {
      assert.equal(p.dropped, 1)
      const doc = decode(Buffer.concat(exported), 'Request') as {
        resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[]
      }
      assert.deepEqual(
        doc.resourceSpans.flatMap((r) => r.scopeSpans[0]!.spans.map((s) => s.name)),
        ['fine', 'fine too'],
      )
    })
  })

  test('protobuf: the values read back as given (ids, times to the nanosecond, kinds, numbers, status)', () => {
    const doc = decode(encodeProtobuf([fullRecord()], SCOPE), 'Request') as {
      resourceSpans: { resource: Decoded; scopeSpans: { scope: Decoded; spans: Decoded[] }[] }[]
    }
    const span = doc.resourceSpans[0]!.scopeSpans[0]!.spans[0]!
    assert.equal(span.traceId, TRACE)
    assert.equal(span.parentSpanId, PARENT)
    assert.equal(span.kind, 2n)
    assert.equal(span.startTimeUnixNano, 1_780_000_000_123_500_000n)
    assert.equal(span.endTimeUnixNano, 1_780_000_000_135_750_000n)
    assert.equal(span.flags, 0x301)
    const attrs = Object.fromEntries(
      (span.attributes as { key: string; value: Decoded }[]).map((a) => [a.key, a.value]),
    )
    assert.deepEqual(attrs['inkstream.negative'], { intValue: BigInt.asUintN(64, -42n) })
    assert.deepEqual(attrs['inkstream.big'], { intValue: 2n ** 53n - 1n })
    assert.deepEqual(attrs['inkstream.ratio'], { doubleValue: 0.25 })
    assert.deepEqual(attrs['inkstream.empty'], { stringValue: '' })
    assert.deepEqual(attrs['inkstream.long.utf8'], { stringValue: 'é'.repeat(70) })
    assert.deepEqual(span.status, { message: 'failed', code: 2n })
    assert.equal(doc.resourceSpans[0]!.scopeSpans[0]!.scope.name, 'inkstream')
  })

  test('numbers past 2^53 are doubles in both encodings (a JSON int64 of 1e21 would read "1e+21")', () => {
    const record = fullRecord({ attributes: { huge: 1e21, past: 2 ** 53 + 2 } })
    const doc = decode(encodeProtobuf([record], SCOPE), 'Request') as {
      resourceSpans: { scopeSpans: { spans: { attributes: { key: string; value: Decoded }[] }[] }[] }[]
    }
    assert.deepEqual(
      doc.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.map((a) => a.value),
      [{ doubleValue: 1e21 }, { doubleValue: 2 ** 53 + 2 }],
    )
    const json = JSON.parse(encodeJson([record], SCOPE).toString('utf8'))
    assert.deepEqual(
      json.resourceSpans[0].scopeSpans[0].spans[0].attributes.map((a: { value: unknown }) => a.value),
      [{ doubleValue: 1e21 }, { doubleValue: 2 ** 53 + 2 }],
    )
  })

  test('JSON: the spec mapping (hex ids, nanoseconds as strings, kinds + 1) of the same spans', () => {
    const doc = JSON.parse(encodeJson([fullRecord()], SCOPE).toString('utf8'))
    const span = doc.resourceSpans[0].scopeSpans[0].spans[0]
    assert.equal(span.traceId, TRACE)
    assert.equal(span.parentSpanId, PARENT)
    assert.equal(span.kind, 2)
    assert.equal(span.startTimeUnixNano, '1780000000123500000')
    assert.equal(span.traceState, 'vendor=v1,other=x')
    assert.deepEqual(span.attributes.find((a: { key: string }) => a.key === 'inkstream.negative').value, {
      intValue: '-42',
    })
    assert.deepEqual(span.links[0], {
      traceId: 'e'.repeat(32),
      spanId: 'f'.repeat(16),
      traceState: 'k=v',
      attributes: [{ key: 'link.note', value: { stringValue: 'n' } }],
      droppedAttributesCount: 4,
      flags: 0x301,
    })
    assert.equal(span.events[0].droppedAttributesCount, 2)
    assert.deepEqual(span.status, { code: 2, message: 'failed' })
    assert.deepEqual(doc.resourceSpans[0].resource.attributes[0], {
      key: 'service.name',
      value: { stringValue: 'unit' },
    })
  })
})

function provider(
  opts: {
    env?: NodeJS.ProcessEnv
    batch?: object
    sink?: SpanRecord[][]
    sampler?: sdk.Sampler
    parentBased?: boolean
  } = {},
) {
  const sink = opts.sink ?? []
  return {
    sink,
    provider: new RecorderProvider({
      sampler: opts.sampler ?? samplerFromEnv(opts.env ?? {}, sdk),
      // As tracing.ts registers it: the standard parent-based samplers let a child follow its parent.
      parentBased:
        opts.parentBased ??
        (opts.sampler === undefined && samplerName(opts.env ?? {}).startsWith('parentbased_')),
      export: async (spans) => {
        sink.push([...spans])
      },
      resource: { 'service.name': 'unit' },
      batch: opts.batch ?? {},
      limits: spanLimitsFromEnv(opts.env ?? {}),
      parseTraceState: (v) => new TraceState(v),
    }),
  }
}

describe('the span recorder', () => {
  test('a child carries its parent and trace; ids are valid hex and distinct; times are Unix ms', async () => {
    const { provider: p, sink } = provider()
    const tracer = p.getTracer()
    const before = Date.now()
    const root = tracer.startSpan('root', { kind: SpanKind.SERVER }, ROOT_CONTEXT)
    const child = tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, root))
    child.end()
    root.end()
    await p.forceFlush()
    const [c, r] = sink.flat()
    assert.ok(c && r)
    assert.match(r.traceId, /^[0-9a-f]{32}$/)
    assert.match(r.spanId, /^[0-9a-f]{16}$/)
    assert.equal(c.traceId, r.traceId)
    assert.equal(c.parentSpanId, r.spanId)
    assert.notEqual(c.spanId, r.spanId)
    assert.equal(r.parentSpanId, undefined)
    // Unix ms from the monotonic clock anchored at the time origin: within a second of the wall clock
    // (a 1 ms bound would fail if the wall clock were stepped after the process started), never
    // relative ms, seconds or nanoseconds (off by orders of magnitude).
    assert.ok(r.startMs >= before - 1000 && r.endMs <= Date.now() + 1000 && r.endMs >= r.startMs)
    assert.equal(root.isRecording(), false)
  })

  test('the span limits drop and count attributes, events and links past them; long strings are cut', async () => {
    const { provider: p, sink } = provider({
      env: {
        OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '2',
        OTEL_SPAN_EVENT_COUNT_LIMIT: '1',
        OTEL_SPAN_LINK_COUNT_LIMIT: '1',
        OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4',
      },
    })
    const link = { context: { traceId: 'e'.repeat(32), spanId: 'f'.repeat(16), traceFlags: 1 } }
    const span = p
      .getTracer()
      .startSpan('limited', { attributes: { a: 'abcdefgh', b: 1 }, links: [link, link] }, ROOT_CONTEXT)
    span.setAttribute('c', 2)
    span.setAttribute('a', 'xy')
    span.addEvent('one')
    span.recordException(new Error('two'))
    span.end()
    await p.forceFlush()
    const r = sink.flat()[0]!
    assert.deepEqual({ ...r.attributes }, { a: 'xy', b: 1 })
    assert.equal(r.droppedAttributes, 1)
    assert.deepEqual(
      r.events.map((e) => e.name),
      ['one'],
    )
    assert.equal(r.droppedEvents, 1)
    assert.equal(r.links.length, 1)
    assert.equal(r.droppedLinks, 1)
  })

  test('events and links keep their own attribute limits; the value length limit cuts every string, in arrays too', async () => {
    const { provider: p, sink } = provider({
      env: {
        OTEL_ATTRIBUTE_COUNT_LIMIT: '3',
        OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '1',
        OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '3',
      },
    })
    const context = { traceId: 'e'.repeat(32), spanId: 'f'.repeat(16), traceFlags: 1 }
    const bare = { context }
    const span = p.getTracer().startSpan(
      'limited',
      {
        attributes: { list: ['abcdef', 'ab'], numbers: [12345] },
        links: [{ context, attributes: { l1: 'long-value', l2: 2, l3: 3, l4: 4, l5: 5 } }, bare],
      },
      ROOT_CONTEXT,
    )
    span.setAttribute('later', ['wxyz'])
    span.addEvent('with attributes', { e1: 'event-value', e2: 2, e3: ['xx', 'yyyy'] })
    span.end()
    await p.forceFlush()
    const r = sink.flat()[0]!
    assert.deepEqual({ ...r.attributes }, { list: ['abc', 'ab'], numbers: [12345], later: ['wxy'] })
    assert.equal(r.droppedAttributes, 0)
    // The event: OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT; its strings cut too.
    const [event] = r.events
    assert.deepEqual({ ...event?.attributes }, { e1: 'eve' })
    assert.equal(event?.droppedAttributes, 2)
    // The link: no OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, so the general OTEL_ATTRIBUTE_COUNT_LIMIT.
    assert.deepEqual({ ...r.links[0]?.attributes }, { l1: 'lon', l2: 2, l3: 3 })
    assert.equal(r.links[0]?.droppedAttributesCount, 2)
    // A link without attributes is kept as given.
    assert.equal(r.links[1], bare)
    // And exported so: the dropped counts are in the OTLP request.
    const req = decode(encodeProtobuf([r], SCOPE), 'Request') as {
      resourceSpans: { scopeSpans: { spans: { events: object[]; links: object[] }[] }[] }[]
    }
    const sent = req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!
    assert.equal(Number((sent.events[0] as { droppedAttributesCount?: unknown }).droppedAttributesCount), 2)
    assert.equal(Number((sent.links[0] as { droppedAttributesCount?: unknown }).droppedAttributesCount), 2)
  })

  test('keys such as `constructor`, `toString` and `__proto__` are attributes of their own: counted, kept and exported', async () => {
    const { provider: p, sink } = provider({ env: { OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '3' } })
    const span = p.getTracer().startSpan('keys', { attributes: { constructor: 'c' } }, ROOT_CONTEXT)
    span.setAttribute('__proto__', 'p')
    span.setAttribute('toString', 't')
    // A fourth key is past the limit of 3 (inherited names are not keys the span already has).
    span.setAttribute('hasOwnProperty', 'h')
    span.setAttribute('constructor', 'c2')
    // An event's and a link's attributes too (an array: assigned to __proto__ it would become the prototype).
    span.addEvent('e', { ['__proto__']: ['x'], valueOf: 'v' })
    span.end()
    await p.forceFlush()
    const r = sink.flat()[0]!
    assert.deepEqual(Object.entries(r.attributes), [
      ['constructor', 'c2'],
      ['__proto__', 'p'],
      ['toString', 't'],
    ])
    assert.equal(r.droppedAttributes, 1)
    assert.equal(
      Object.getPrototypeOf(r.attributes),
      Object.prototype,
      'the attributes object keeps its prototype',
    )
    assert.deepEqual(Object.entries(r.events[0]!.attributes), [
      ['__proto__', ['x']],
      ['valueOf', 'v'],
    ])
    assert.equal(Object.getPrototypeOf(r.events[0]!.attributes), Object.prototype)
    const req = decode(encodeProtobuf([r], SCOPE), 'Request') as {
      resourceSpans: {
        scopeSpans: { spans: { attributes: { key: string; value: { stringValue: string } }[] }[] }[]
      }[]
    }
    const sent = req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes
    assert.deepEqual(
      sent.map((a) => [a.key, a.value.stringValue]),
      [
        ['constructor', 'c2'],
        ['__proto__', 'p'],
        ['toString', 't'],
      ],
    )
    const json = JSON.parse(encodeJson([r], SCOPE).toString()) as {
      resourceSpans: { scopeSpans: { spans: { attributes: { key: string }[] }[] }[] }[]
    }
    assert.deepEqual(
      json.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.map((a) => a.key),
      ['constructor', '__proto__', 'toString'],
    )
  })

  test('an enumerable key added to Object.prototype is no attribute, in protobuf as in JSON', async () => {
    const { provider: p, sink } = provider()
    const span = p.getTracer().startSpan('polluted', { attributes: { own: 1 } }, ROOT_CONTEXT)
    span.end()
    await p.forceFlush()
    const r = sink.flat()[0]!
    const proto = Object.prototype as Record<string, unknown>
    proto.polluted = 'x'
    try {
      const req = decode(encodeProtobuf([r], SCOPE), 'Request') as {
        resourceSpans: { scopeSpans: { spans: { attributes: { key: string }[] }[] }[] }[]
      }
      assert.deepEqual(
        req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.map((a) => a.key),
        ['own'],
      )
    } finally {
      delete proto.polluted
    }
  })

  test('startChild: under the standard parent-based samplers a child follows its parent, as through a context', async () => {
    for (const env of [
      {},
      { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
      { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '1' },
    ]) {
      const { provider: p, sink } = provider({ env })
      const tracer = p.getTracer()
      const root = tracer.startSpan('root', {}, ROOT_CONTEXT)
      const viaContext = tracer.startSpan(
        'child',
        { attributes: { a: 1 } },
        trace.setSpan(ROOT_CONTEXT, root),
      )
      const direct = p.startChild('child', { attributes: { a: 1 } }, root)
      for (const child of [viaContext, direct]) {
        assert.equal(child.spanContext().traceId, root.spanContext().traceId, JSON.stringify(env))
        assert.equal(child.spanContext().traceFlags, root.spanContext().traceFlags, JSON.stringify(env))
        assert.equal(child.isRecording(), root.isRecording(), JSON.stringify(env))
        child.end()
      }
      assert.notEqual(direct.spanContext().spanId, viaContext.spanContext().spanId)
      root.end()
      await p.forceFlush()
      const spans = sink.flat()
      if (!root.spanContext().traceFlags) {
        assert.deepEqual(spans, [], 'an unsampled parent: neither child is exported')
        continue
      }
      const [a, b] = spans.filter((s) => s.name === 'child')
      assert.ok(a && b)
      for (const k of [
        'traceId',
        'parentSpanId',
        'parentIsRemote',
        'traceFlags',
        'kind',
        'attributes',
      ] as const)
        assert.deepEqual(b[k], a[k], k)
      assert.equal(b.parentSpanId, root.spanContext().spanId)
    }
    // A parent recorded but not sampled (a sampler's RECORD, as ParentBasedSampler({ root }) gives
    // when its root sampler does): its children are not recorded (the default localParentNotSampled).
    const recordOnly = new sdk.ParentBasedSampler({
      root: {
        shouldSample: () => ({ decision: sdk.SamplingDecision.RECORD }),
        toString: () => 'recordOnly',
      },
    })
    const { provider: p, sink } = provider({ sampler: recordOnly, parentBased: true })
    const root = p.getTracer().startSpan('root', {}, ROOT_CONTEXT)
    assert.equal(root.isRecording(), true)
    // Recorded but not sampled: no traceparent for the events appended inside it.
    const traceparent = (s: unknown) =>
      (s as { sampledTraceparent(): string | undefined }).sampledTraceparent()
    assert.equal(traceparent(root), undefined)
    const sampledRoot = provider().provider.getTracer().startSpan('sampled', {}, ROOT_CONTEXT)
    const sc = sampledRoot.spanContext()
    assert.equal(traceparent(sampledRoot), `00-${sc.traceId}-${sc.spanId}-01`)
    for (const child of [
      p.getTracer().startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, root)),
      p.startChild('child', {}, root),
    ]) {
      assert.equal(child.isRecording(), false)
      assert.equal(child.spanContext().traceFlags, TraceFlags.NONE)
      assert.equal(child.spanContext().traceId, root.spanContext().traceId)
      child.end()
    }
    root.end()
    await p.forceFlush()
    assert.deepEqual(sink, [])
  })

  test('startChild: the sampler is asked unless it is parent-based and the parent a recorded span; a root option is honoured', async () => {
    // Samples the span named root (with a trace state), nothing else: not a parent-based sampler.
    const onlyRoots: sdk.Sampler = {
      shouldSample: (_ctx, _traceId, name) =>
        name === 'root'
          ? { decision: sdk.SamplingDecision.RECORD_AND_SAMPLED, traceState: new TraceState('k=v') }
          : { decision: sdk.SamplingDecision.NOT_RECORD },
      toString: () => 'onlyRoots',
    }
    // Not said to be parent-based: the sampler decides the child (no).
    const asked = provider({ sampler: onlyRoots })
    const root = asked.provider.getTracer().startSpan('root', {}, ROOT_CONTEXT)
    const child = asked.provider.startChild('child', {}, root)
    assert.equal(child.isRecording(), false, 'the sampler said no')
    assert.equal(child.spanContext().traceId, root.spanContext().traceId)
    child.end()
    root.end()
    await asked.provider.forceFlush()
    assert.deepEqual(
      asked.sink.flat().map((s) => s.name),
      ['root'],
    )

    // Said to be parent-based: a recorded parent's child is not asked about, and follows its parent
    // (kind, start time, attributes, links and the parent's trace state are the child's).
    const { provider: p, sink } = provider({ sampler: onlyRoots, parentBased: true })
    const parent = p.getTracer().startSpan('root', {}, ROOT_CONTEXT)
    const link = { context: { traceId: 'e'.repeat(32), spanId: 'f'.repeat(16), traceFlags: 1 } }
    const followed = p.startChild(
      'child',
      { kind: SpanKind.CLIENT, startTime: new Date(1_700_000_000_000), attributes: { a: 1 }, links: [link] },
      parent,
    )
    assert.equal(followed.isRecording(), true, 'a recorded parent: the sampler is not asked')
    assert.equal(followed.spanContext().traceState?.serialize(), 'k=v')
    // A parent that is only a context (a remote one, say): asked, through the context (no).
    const remote = trace.wrapSpanContext({
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      traceFlags: 1,
      isRemote: true,
    })
    const fromRemote = p.startChild('child', {}, remote)
    assert.equal(fromRemote.isRecording(), false, 'a context only: the sampler decides')
    assert.equal(fromRemote.spanContext().traceId, 'a'.repeat(32))
    // root: a new trace, as start() gives, not a child.
    const newRoot = p.startChild('root', { root: true }, parent)
    assert.notEqual(newRoot.spanContext().traceId, parent.spanContext().traceId)
    for (const s of [followed, fromRemote, newRoot, parent]) s.end()
    await p.forceFlush()
    const byName = sink.flat()
    const c = byName.find((s) => s.name === 'child')!
    assert.equal(c.parentSpanId, parent.spanContext().spanId)
    assert.equal(c.parentIsRemote, false)
    assert.equal(c.kind, SpanKind.CLIENT)
    assert.equal(c.startMs, 1_700_000_000_000)
    assert.equal(c.traceState, 'k=v')
    assert.deepEqual({ ...c.attributes }, { a: 1 })
    assert.deepEqual(c.links, [link])
    assert.equal(byName.filter((s) => s.name === 'root' && s.parentSpanId === undefined).length, 2)

    // The remote parent through a parent-based sampler: recorded, with its parent remote.
    const { provider: pb, sink: sinkB } = provider()
    pb.startChild('child', {}, remote).end()
    await pb.forceFlush()
    assert.equal(sinkB.flat()[0]?.parentSpanId, 'b'.repeat(16))
    assert.equal(sinkB.flat()[0]?.parentIsRemote, true)
  })

  test('an exception is an `exception` event; ERROR keeps its message; OK is final', async () => {
    const { provider: p, sink } = provider()
    const span = p.getTracer().startSpan('failing', {}, ROOT_CONTEXT)
    span.recordException(new TypeError('bad input'))
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'bad input' })
    span.end()
    const ok = p.getTracer().startSpan('ok', {}, ROOT_CONTEXT)
    ok.setStatus({ code: SpanStatusCode.OK })
    ok.setStatus({ code: SpanStatusCode.ERROR, message: 'late' })
    ok.end()
    await p.forceFlush()
    const [failing, fine] = sink.flat()
    assert.equal(failing!.events[0]!.name, 'exception')
    assert.equal(failing!.events[0]!.attributes['exception.type'], 'TypeError')
    assert.equal(failing!.events[0]!.attributes['exception.message'], 'bad input')
    assert.match(String(failing!.events[0]!.attributes['exception.stacktrace']), /TypeError: bad input/)
    assert.deepEqual(failing!.status, { code: SpanStatusCode.ERROR, message: 'bad input' })
    assert.deepEqual(fine!.status, { code: SpanStatusCode.OK })
  })

  test('unsampled: a non-recording span with the context (not exported); its children stay unsampled', async () => {
    const { provider: p, sink } = provider({
      env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
    })
    const tracer = p.getTracer()
    const root = tracer.startSpan('dropped', {}, ROOT_CONTEXT)
    assert.equal(root.isRecording(), false)
    assert.equal(root.spanContext().traceFlags & TraceFlags.SAMPLED, 0)
    assert.match(root.spanContext().traceId, /^[0-9a-f]{32}$/)
    const child = tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, root))
    assert.equal(child.spanContext().traceId, root.spanContext().traceId)
    assert.equal(child.isRecording(), false)
    child.end()
    root.end()
    await p.forceFlush()
    assert.deepEqual(sink, [])
  })

  test('batches: a full one goes at once; a partial one after the schedule delay; the queue bound drops and counts', async () => {
    const { provider: p, sink } = provider({
      batch: { maxExportBatchSize: 3, scheduledDelayMillis: 150, maxQueueSize: 5 },
    })
    const tracer = p.getTracer()
    const end = (n: number) => {
      for (let i = 0; i < n; i++) tracer.startSpan(`s${i}`, {}, ROOT_CONTEXT).end()
    }
    end(3)
    await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(
      sink.map((b) => b.length),
      [3],
      'a full batch is exported without waiting',
    )
    end(1)
    await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(
      sink.map((b) => b.length),
      [3],
      'a partial batch waits',
    )
    await new Promise((r) => setTimeout(r, 250))
    assert.deepEqual(
      sink.map((b) => b.length),
      [3, 1],
      'then goes after the delay',
    )
    // An export that does not return: the queue fills to its bound, the rest is dropped.
    const stuck = new RecorderProvider({
      sampler: samplerFromEnv({}, sdk),
      export: () => new Promise(() => {}),
      resource: {},
      batch: { maxExportBatchSize: 2, maxQueueSize: 4, exportTimeoutMillis: 60_000 },
      parseTraceState: (v) => new TraceState(v),
    })
    for (let i = 0; i < 10; i++) stuck.getTracer().startSpan('x', {}, ROOT_CONTEXT).end()
    assert.equal(stuck.dropped, 4, '2 in the stuck export, 4 queued, 4 dropped')
  })
})

describe('the OTLP/HTTP exporter', () => {
  test('an endpoint that is not an http(s) URL is refused at start with INK_ERR_INVALID_CONFIG', () => {
    for (const bad of ['collector:4318', 'ftp://x/v1/traces', 'not a url'])
      assert.throws(
        () => exportSettings({}, bad, 'http/protobuf'),
        (err: Error & { code?: string }) =>
          err.code === 'INK_ERR_INVALID_CONFIG' && /is not an http:\/\/ or https:\/\/ URL/.test(err.message),
      )
    assert.equal(
      exportSettings({}, 'HTTPS://Collector:4318/v1/traces', 'http/json').url,
      'https://collector:4318/v1/traces',
    )
    assert.throws(
      () =>
        otlpExporter(
          exportSettings(
            { OTEL_EXPORTER_OTLP_CERTIFICATE: '/nonexistent/ca.pem' },
            'https://x/v1/traces',
            'http/protobuf',
          ),
        ),
      (err: Error & { code?: string }) =>
        err.code === 'INK_ERR_INVALID_CONFIG' && /CERTIFICATE: cannot read/.test(err.message),
    )
  })

  test('an export that throws loses its batch only; the next batches still go', async () => {
    const sink: number[] = []
    let calls = 0
    const p = new RecorderProvider({
      sampler: samplerFromEnv({}, sdk),
      export: (spans) => {
        calls++
        if (calls === 1) throw new Error('synchronous failure')
        sink.push(spans.length)
        return Promise.resolve()
      },
      resource: {},
      batch: { maxExportBatchSize: 2 },
      parseTraceState: (v) => new TraceState(v),
    })
    for (let i = 0; i < 5; i++) p.getTracer().startSpan('x', {}, ROOT_CONTEXT).end()
    await p.forceFlush()
    assert.equal(calls, 3)
    assert.deepEqual(sink, [2, 1])
  })

  test('settings: traces-specific variables win; headers and resource pairs are URL-decoded', () => {
    const s = exportSettings(
      {
        OTEL_EXPORTER_OTLP_HEADERS: 'x-a=1,authorization=Basic%20abc',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-a=2',
        OTEL_EXPORTER_OTLP_TIMEOUT: '1500',
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip',
      },
      'http://x/v1/traces',
      'http/protobuf',
    )
    assert.deepEqual(s.headers, { 'x-a': '2', authorization: 'Basic abc' })
    assert.equal(s.timeoutMs, 1500)
    assert.equal(s.gzip, true)
    assert.deepEqual(parseKeyValues(' a = b ,broken, =x,c=%E2%9C%93'), { a: 'b', c: '✓' })
    assert.deepEqual(
      resourceOf({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=shop' }),
      {
        'telemetry.sdk.language': 'nodejs',
        'telemetry.sdk.name': 'inkstream',
        'deployment.environment': 'prod',
        'service.name': 'shop',
      },
    )
    assert.equal(
      resourceOf({ OTEL_SERVICE_NAME: 'api', OTEL_RESOURCE_ATTRIBUTES: 'service.name=shop' })['service.name'],
      'api',
    )
  })

  test('retries 503 and 429 (Retry-After), sends the headers and gzip; a 400 is dropped and counted', async () => {
    const answers = [503, 429, 200, 400]
    const seen: { status: number; headers: Record<string, unknown>; spans: number }[] = []
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const status = answers.shift() ?? 200
        const body = gunzipSync(Buffer.concat(chunks))
        const doc = decode(body, 'Request') as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] }
        seen.push({ status, headers: req.headers, spans: doc.resourceSpans[0]!.scopeSpans[0]!.spans.length })
        res.writeHead(status, status === 429 ? { 'retry-after': '0' } : {}).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`
    const exporter = otlpExporter(
      exportSettings(
        {
          OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=t1',
          OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
          OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
        },
        url,
        'http/protobuf',
      ),
    )
    try {
      await exporter.export([fullRecord(), fullRecord()], SCOPE)
      assert.deepEqual(exporter.counts, { exports: 1, spans: 2, failedExports: 0, failedSpans: 0 })
      await exporter.export([fullRecord()], SCOPE)
      assert.deepEqual(exporter.counts, { exports: 1, spans: 2, failedExports: 1, failedSpans: 1 })
      assert.deepEqual(
        seen.map((s) => [s.status, s.spans]),
        [
          [503, 2],
          [429, 2],
          [200, 2],
          [400, 1],
        ],
      )
      assert.equal(seen[0]!.headers['x-tenant'], 't1')
      assert.equal(seen[0]!.headers['content-type'], 'application/x-protobuf')
      assert.equal(seen[0]!.headers['content-encoding'], 'gzip')
    } finally {
      exporter.close()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    }
  })

  test('a collector that never answers: the export gives up at the timeout and counts the spans', async () => {
    const server = createServer(() => {})
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`
    const exporter = otlpExporter(exportSettings({ OTEL_EXPORTER_OTLP_TIMEOUT: '300' }, url, 'http/json'))
    try {
      const t0 = Date.now()
      await exporter.export([fullRecord()], SCOPE)
      assert.ok(Date.now() - t0 < 3000, 'bounded by the timeout')
      assert.deepEqual(exporter.counts, { exports: 0, spans: 0, failedExports: 1, failedSpans: 1 })
    } finally {
      exporter.close()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    }
  })
})
