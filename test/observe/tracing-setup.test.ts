/**
 * When tracing is registered and when not: without OTEL_EXPORTER_OTLP_ENDPOINT nothing is (the
 * API's no-op tracer, no trace context on stored events); with it, a provider exports, traced() puts
 * the appending span's traceparent on appended events, and shutdown() unregisters it again.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type ProxyTracerProvider, TraceFlags, trace } from '@opentelemetry/api'
import Fastify from 'fastify'
import type { LogRecord } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import type { EventLog } from '../../src/log/event-log.ts'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { serializeEvents } from '../../src/log/serialize.ts'
import { SqliteEventLog } from '../../src/log/sqlite-event-log.ts'
import { rootShare, samplerName, samplerRatio } from '../../src/observe/sampling.ts'
import {
  batchConfig,
  inSpan,
  linksTo,
  MAX_LINKS,
  parseTraceparent,
  requestSpan,
  startTracing,
  traced,
  traceparentOf,
  traceRequests,
  tracesProtocol,
  tracesUrl,
  tracingEnabled,
} from '../../src/observe/tracing.ts'
import { basicAuth, startTestApp, type TestApp, tempDir, waitForProcessed } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { loggedPayload } from '../helpers/log.ts'
import { startTraceReceiver, type TraceReceiver } from './tracing-receiver.ts'

const delegate = () => (trace.getTracerProvider() as ProxyTracerProvider).getDelegate().constructor.name
const event = (messageId: string) => ({
  type: 'track' as const,
  event: 'Poked',
  messageId,
  workspaceId: 'ws',
  userId: 'ann',
  timestamp: '2026-01-01T00:00:00.000Z',
  receivedAt: '2026-01-01T00:00:00.000Z',
})

describe('tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let app: TestApp
  before(async () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    app = await startTestApp()
  })
  after(() => app.close())

  test('an app registers no tracer provider and stores no trace context, even from a traceparent header', async () => {
    const messageId = randomUUID()
    const res = await fetch(`${app.url}/v1/track`, {
      method: 'POST',
      headers: {
        authorization: basicAuth(app.workspace.writeKey),
        'content-type': 'application/json',
        traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
      },
      body: JSON.stringify({ userId: 'ann', event: 'Poked', messageId }),
    })
    assert.equal(res.status, 200)
    // A request id is generated when none is given.
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
    await waitForProcessed(app)
    assert.equal(tracingEnabled(), false)
    assert.equal(delegate(), 'NoopTracerProvider')
    const span = trace.getTracer('test').startSpan('probe')
    assert.equal(span.isRecording(), false)
    assert.equal(span.spanContext().traceId, '0'.repeat(32))
    assert.equal('traceparent' in loggedPayload(app, messageId), false)
  })

  test('startTracing registers nothing without an endpoint, or when the SDK is disabled', async () => {
    assert.equal(await startTracing({}), undefined)
    assert.equal(
      await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' }),
      undefined,
    )
    assert.equal(
      await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_TRACES_EXPORTER: 'none' }),
      undefined,
    )
    assert.equal(delegate(), 'NoopTracerProvider')
  })
})

describe('tracing on', () => {
  let receiver: TraceReceiver
  before(async () => {
    receiver = await startTraceReceiver()
  })
  after(() => receiver.close())

  test('the endpoint is the traces endpoint as given, else the base URL + /v1/traces', () => {
    assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }), 'http://c:4318/v1/traces')
    assert.equal(
      tracesUrl({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x',
      }),
      'http://t/x',
    )
    assert.equal(tracesUrl({}), undefined)
  })

  test('the encoding is OTLP/HTTP protobuf unless OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says http/json; grpc is refused', () => {
    assert.equal(tracesProtocol({}), 'http/protobuf')
    assert.equal(tracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), 'http/json')
    assert.equal(
      tracesProtocol({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      }),
      'http/protobuf',
    )
    assert.throws(
      () => tracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
      (err: Error & { code?: string }) =>
        err.code === 'INK_ERR_INVALID_CONFIG' &&
        /"grpc" is not supported; use http\/protobuf/.test(err.message),
    )
  })

  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    test(`spans reach the collector in ${protocol}, with their ids, kind, attributes, links and status`, async () => {
      const tracing = await startTracing({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_SERVICE_NAME: `enc-${protocol}`,
      })
      assert.ok(tracing)
      const seen = receiver.requests.length
      let linked = ''
      try {
        assert.equal(tracing.protocol, protocol)
        const target = `00-${'e'.repeat(32)}-${'f'.repeat(16)}-01`
        await inSpan(
          `encoded ${protocol}`,
          {
            root: true,
            links: () => linksTo([target]),
            attributes: () => ({
              'inkstream.batch.size': 7,
              'inkstream.note': 'héllo',
              'inkstream.ok': true,
            }),
          },
          async (span) => {
            linked = traceparentOf(span) ?? ''
            throw new Error('recorded as the status')
          },
        ).catch(() => {})
        await tracing.flush()
      } finally {
        await tracing.shutdown()
      }
      const got = await receiver.waitFor((s) => s.name === `encoded ${protocol}`, `encoded ${protocol}`)
      const sc = parseTraceparent(linked)
      assert.ok(sc)
      assert.deepEqual(
        { ...got, attributes: { ...got.attributes } },
        {
          traceId: sc.traceId,
          spanId: sc.spanId,
          parentSpanId: undefined,
          name: `encoded ${protocol}`,
          kind: 1,
          attributes: { 'inkstream.batch.size': 7, 'inkstream.note': 'héllo', 'inkstream.ok': true },
          links: [{ traceId: 'e'.repeat(32), spanId: 'f'.repeat(16) }],
          service: `enc-${protocol}`,
          status: 2,
        },
      )
      const contentType = protocol === 'http/json' ? 'application/json' : 'application/x-protobuf'
      assert.deepEqual(
        receiver.requests.slice(seen).map((r) => r.contentType),
        receiver.requests.slice(seen).map(() => contentType),
      )
    })
  }

  test('a registered provider exports spans; appended events carry the appending span; shutdown unregisters', async () => {
    const tracing = await startTracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'unit',
    })
    assert.ok(tracing)
    try {
      assert.equal(tracing.url, `${receiver.url}/v1/traces`)
      assert.equal(tracingEnabled(), true)
      assert.equal(delegate(), 'RecorderProvider')
      // A second registration in the same thread is refused.
      assert.equal(await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }), undefined)
      const outside = JSON.parse(serializeEvents(traced([event('m0')], undefined), 1e6)[0]!.json)
      assert.equal('traceparent' in outside, false)
      // A sampled context with an all-zero id (invalid) gives no traceparent.
      for (const ids of [
        { traceId: '0'.repeat(32), spanId: '1'.repeat(16) },
        { traceId: '1'.repeat(32), spanId: '0'.repeat(16) },
      ])
        assert.equal(
          traceparentOf(trace.wrapSpanContext({ ...ids, traceFlags: TraceFlags.SAMPLED })),
          undefined,
        )
      assert.equal(
        traceparentOf(
          trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1 }),
        ),
        `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
      )
      // A child needs a parent: without one there is no span (its caller is in no trace).
      assert.equal(await inSpan('orphan', {}, async (span) => span), undefined)
      let inner = ''
      let twice = ''
      let child = ''
      const rows = await inSpan('unit span', { root: true }, async (span) => {
        assert.ok(span?.isRecording())
        inner = traceparentOf(span) ?? ''
        await new Promise((r) => setImmediate(r))
        child = await inSpan('unit child', { parent: span }, async (c) => traceparentOf(c) ?? '')
        const encoded = event('m3')
        const json = JSON.stringify(encoded)
        // Traced twice: the context is appended once.
        const again = traced(traced([{ event: encoded, json, bytes: Buffer.byteLength(json) }], span), span)
        twice = (again[0] as { json: string }).json
        return serializeEvents(
          traced(
            [
              event('m1'),
              { ...event('m2'), traceparent: `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01` },
              { event: encoded, json, bytes: Buffer.byteLength(json) },
            ],
            span,
          ),
          1e6,
        )
      })
      const sc = parseTraceparent(inner)
      assert.ok(sc)
      assert.equal(JSON.parse(rows[0]!.json).traceparent, inner)
      // An event encoded beforehand (by the collector) gets the context appended to its JSON.
      assert.deepEqual(JSON.parse(rows[2]!.json), { ...event('m3'), traceparent: inner })
      assert.equal(rows[2]!.bytes, Buffer.byteLength(rows[2]!.json))
      assert.equal(twice.split('"traceparent"').length - 1, 1, twice)
      // An event that already has a context keeps it.
      assert.equal(JSON.parse(rows[1]!.json).traceparent, `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01`)
      await assert.rejects(
        inSpan('failing span', { root: true }, async () => {
          throw new Error('boom')
        }),
        /boom/,
      )
      await tracing.flush()
      const unit = await receiver.waitFor((s) => s.name === 'unit span', 'unit span')
      assert.equal(unit.traceId, sc.traceId)
      assert.equal(unit.spanId, sc.spanId)
      assert.equal(unit.service, 'unit')
      const unitChild = await receiver.waitFor((s) => s.name === 'unit child', 'unit child')
      assert.equal(unitChild.traceId, sc.traceId)
      assert.equal(unitChild.parentSpanId, sc.spanId)
      assert.equal(parseTraceparent(child)?.spanId, unitChild.spanId)
      assert.equal(
        receiver.spans.some((s) => s.name === 'orphan'),
        false,
      )
      const failing = await receiver.waitFor((s) => s.name === 'failing span', 'failing span')
      assert.equal(failing.status, 2)
    } finally {
      await tracing.shutdown()
    }
    assert.equal(tracingEnabled(), false)
    assert.equal(delegate(), 'NoopTracerProvider')
    assert.equal(await inSpan('after', { root: true }, async (span) => span), undefined)
  })

  for (const impl of ['SqliteEventLog', 'KafkaEventLog'] as const) {
    test(`the ${impl} gives back each event with the context of the span that appended it`, async (t) => {
      const skip = impl === 'KafkaEventLog' ? await kafkaMissing() : false
      if (skip) return t.skip(skip)
      const dir = tempDir('inkstream-trace-log-')
      const db = impl === 'SqliteEventLog' ? openSqlite(join(dir, 'log.db')) : undefined
      const log: EventLog = db
        ? new SqliteEventLog(db, { pollMs: 20 })
        : await KafkaEventLog.open({
            brokers: kafkaBrokers(),
            topic: KafkaEventLog.uniqueTopic('inkstream-trace-test'),
            partitions: 2,
          })
      const tracing = await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url })
      assert.ok(tracing)
      try {
        let appendedBy = ''
        await inSpan('append', { root: true }, async (span) => {
          appendedBy = traceparentOf(span) ?? ''
          await log.append(traced([event('k1'), event('k2')], span))
        })
        await log.append(traced([event('k3')], undefined))
        const seen: LogRecord[] = []
        await new Promise<void>((resolve) => {
          const consumer = log.consume('trace-test', async (records) => {
            seen.push(...records)
            if (seen.length >= 3) void consumer.close().then(resolve)
          })
        })
        const byId = Object.fromEntries(seen.map((r) => [r.event.messageId, r.event.traceparent]))
        assert.match(appendedBy, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
        assert.deepEqual(byId, { k1: appendedBy, k2: appendedBy, k3: undefined })
      } finally {
        await tracing.shutdown()
        await log.close()
        db?.close()
        rmSync(dir, { recursive: true, force: true })
      }
    })
  }

  test('an unsampled trace: no child spans, no traceparent on its events; a new trace linked to a sampled one is sampled', async () => {
    // The sampler comes from the env given (process.env has none of these).
    const tracing = await startTracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0',
    })
    assert.ok(tracing)
    try {
      const unsampled = await inSpan('unsampled root', { root: true }, async (span) => {
        assert.equal(span?.isRecording(), false)
        // A child of an unsampled span is not even created: fn gets no span.
        const child = await inSpan('unsampled child', { parent: span }, async (c) => c)
        return {
          child,
          traceparent: traceparentOf(span),
          rows: serializeEvents(traced([event('u1')], span), 1e6),
        }
      })
      assert.equal(unsampled.child, undefined)
      assert.equal(unsampled.traceparent, undefined)
      assert.equal('traceparent' in JSON.parse(unsampled.rows[0]!.json), false)

      // A batch (a new trace) linked to a sampled context is sampled, even at ratio 0; its events
      // carry its context. Linked only to unsampled contexts, it is not.
      const sampledCtx = `00-${'e'.repeat(32)}-${'f'.repeat(16)}-01`
      const linked = await inSpan(
        'linked batch',
        { root: true, links: () => linksTo([sampledCtx]) },
        async (span) => ({
          recording: span?.isRecording(),
          traceparent: traceparentOf(span),
          // A message started from the sampled batch (a link to that span, not to an event) is
          // sampled as the sampler says: not at ratio 0.
          startedFrom: await inSpan(
            'started from batch',
            { root: true, links: () => (span ? [{ context: span.spanContext() }] : []) },
            async (s) => s?.isRecording(),
          ),
        }),
      )
      assert.equal(linked.recording, true)
      assert.equal(linked.startedFrom, false)
      assert.match(linked.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
      const unsampledCtx = `00-${'e'.repeat(32)}-${'1'.repeat(16)}-00`
      const notLinked = await inSpan(
        'batch linked to unsampled',
        { root: true, links: () => linksTo([unsampledCtx]) },
        async (span) => span?.isRecording(),
      )
      assert.equal(notLinked, false)
      await tracing.flush()
      await receiver.waitFor((s) => s.name === 'linked batch', 'linked batch')
      const names = receiver.spans.map((s) => s.name)
      for (const name of [
        'unsampled root',
        'unsampled child',
        'batch linked to unsampled',
        'started from batch',
      ])
        assert.equal(names.includes(name), false, `${name} was exported`)
    } finally {
      await tracing.shutdown()
    }
  })

  test('a request without trace context is sampled before the SDK is asked: at ratio 0 it gets no span; one with a sampled parent does', async () => {
    const tracing = await startTracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0',
    })
    assert.ok(tracing)
    const app = Fastify()
    traceRequests(app)
    app.get('/ratio-zero', async (req) => ({ span: requestSpan(req) !== undefined }))
    try {
      const plain = await app.inject({ method: 'GET', url: '/ratio-zero' })
      assert.deepEqual(plain.json(), { span: false })
      const traceId = 'ab'.repeat(16)
      const child = await app.inject({
        method: 'GET',
        url: '/ratio-zero',
        headers: { traceparent: `00-${traceId}-${'cd'.repeat(8)}-01` },
      })
      assert.deepEqual(child.json(), { span: true })
      await tracing.flush()
      const mine = await receiver.waitFor((s) => s.name === 'GET /ratio-zero', 'the child request span')
      assert.equal(mine.traceId, traceId)
      assert.equal(mine.parentSpanId, 'cd'.repeat(8))
      assert.equal(receiver.spans.filter((s) => s.name === 'GET /ratio-zero').length, 1)
    } finally {
      await app.close()
      await tracing.shutdown()
    }
  })

  test('at ratio 0.5, about half the requests without trace context are exported: drawn once, not again by the SDK', async () => {
    const tracing = await startTracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.5',
    })
    assert.ok(tracing)
    const app = Fastify()
    traceRequests(app)
    app.get('/half', async (req) => ({ recording: requestSpan(req)?.isRecording() === true }))
    try {
      let recording = 0
      for (let i = 0; i < 400; i++) {
        if ((await app.inject({ method: 'GET', url: '/half' })).json().recording) recording++
      }
      await tracing.flush()
      const exported = receiver.spans.filter((s) => s.name === 'GET /half').length
      // Binomial(400, 0.5): 200 ± 10; drawn twice it would be 100 ± 9. Six sigmas either way.
      assert.ok(exported > 140 && exported < 260, `${exported} of 400 exported`)
      // Every span made is recorded and exported: no request gets a span only to drop it.
      assert.equal(recording, exported)
    } finally {
      await app.close()
      await tracing.shutdown()
    }
  })

  test('a request span ends with its response (its status on it) or with a connection closed before one', async () => {
    const tracing = await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url })
    assert.ok(tracing)
    const app = Fastify()
    traceRequests(app)
    app.get('/unavailable', async (_req, reply) => reply.status(503).send({ down: true }))
    app.get('/slow', async () => {
      await new Promise((r) => setTimeout(r, 400))
      return { late: true }
    })
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/unavailable' })).statusCode, 503)
      const url = await app.listen({ port: 0, host: '127.0.0.1' })
      const aborted = new AbortController()
      const pending = fetch(`${url}/slow`, { signal: aborted.signal }).catch(() => 'aborted')
      await new Promise((r) => setTimeout(r, 100))
      aborted.abort()
      assert.equal(await pending, 'aborted')
      await new Promise((r) => setTimeout(r, 500))
      await tracing.flush()
      const failed = await receiver.waitFor((s) => s.name === 'GET /unavailable', 'the 503 span')
      assert.equal(failed.attributes['http.response.status_code'], 503)
      assert.equal(failed.status, 2, 'a 5xx answer marks the span as an error')
      const cut = await receiver.waitFor((s) => s.name === 'GET /slow', 'the aborted span')
      assert.equal(cut.attributes['http.response.status_code'], undefined)
      assert.equal(cut.status, 2, 'a connection closed before the answer marks the span as an error')
      assert.equal(receiver.spans.filter((s) => s.name === 'GET /slow').length, 1, 'ended once')
    } finally {
      await app.close()
      await tracing.shutdown()
    }
  })

  test('the share of requests without trace context that get a span follows the sampler', () => {
    assert.equal(rootShare({}), 1)
    assert.equal(rootShare({ OTEL_TRACES_SAMPLER: 'always_on', OTEL_TRACES_SAMPLER_ARG: '0.1' }), 1)
    assert.equal(rootShare({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' }), 0)
    assert.equal(rootShare({ OTEL_TRACES_SAMPLER: 'always_off' }), 0)
    assert.equal(rootShare({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }), 0.25)
    assert.equal(
      rootShare({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }),
      0,
    )
    assert.equal(rootShare({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' }), 1)
  })

  test('the standard sampler and batch variables are read from the env given', () => {
    assert.equal(samplerName({}), 'parentbased_always_on')
    assert.equal(samplerName({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' }), 'parentbased_traceidratio')
    assert.equal(samplerName({ OTEL_TRACES_SAMPLER: 'jaeger_remote' }), 'parentbased_always_on')
    assert.equal(samplerRatio({ OTEL_TRACES_SAMPLER_ARG: '0.1' }), 0.1)
    assert.equal(samplerRatio({ OTEL_TRACES_SAMPLER_ARG: '2' }), 1)
    assert.equal(samplerRatio({}), 1)
    assert.deepEqual(
      batchConfig({
        OTEL_BSP_MAX_QUEUE_SIZE: '8192',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '',
        OTEL_BSP_SCHEDULE_DELAY: 'soon',
        OTEL_BSP_EXPORT_TIMEOUT: '10000',
      }),
      { maxQueueSize: 8192, exportTimeoutMillis: 10000 },
    )
  })

  test('links: only valid traceparents, each once, at most MAX_LINKS', () => {
    const tp = (i: number) => `00-${'1'.repeat(32)}-${i.toString(16).padStart(16, '0')}-01`
    assert.deepEqual(linksTo([undefined, 'garbage', `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`, 42]), [])
    const links = linksTo([tp(1), tp(1), ...Array.from({ length: 300 }, (_, i) => tp(i + 2))])
    assert.equal(links.length, MAX_LINKS)
    assert.equal(links[0]?.context.spanId, '0000000000000001')
    assert.equal(links[1]?.context.spanId, '0000000000000002')
  })
})
