/**
 * Traces exported over OTLP/HTTP by the real `inkstream start` (embedded: the processor in its worker
 * thread) to a local receiver: ingest request (→ log append, for a batch) → processor batch, and the
 * trigger's message (deliver → render, send over real SMTP) linked to the request of the event that
 * fired it; the trace ids are the ones on the log lines.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { SPANS } from '../../src/observe/tracing.ts'
import { startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { basicAuth, tempDir } from '../helpers/app.ts'
import { type ServerProcess, startServerProcess, testKey, waitForZeroLag } from '../helpers/server-process.ts'
import { sample } from './prom.ts'
import { only, type ReceivedSpan, startTraceReceiver, type TraceReceiver } from './tracing-receiver.ts'

const hex = (bytes: number) => randomBytes(bytes).toString('hex')
const SERVER = 2
const CLIENT = 3

/** The JSON log lines of the server's output (the banner is not a log line). */
const logLines = (output: string): Record<string, unknown>[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)

/**
 * Waits until inkstream_trace_spans_total{outcome} is the number of spans the receiver has read, the
 * other outcomes 0. Each scrape is a request span too, exported later: the two agree at a scrape
 * with no export in flight (every span before it counted), and a thread whose spans are not counted
 * keeps the total short of what was read.
 */
async function spansCounted(url: string, receiver: TraceReceiver, outcome: 'exported' | 'failed') {
  const deadline = Date.now() + 15_000
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text()
    const read = receiver.spans.length
    const counted = sample(text, 'inkstream_trace_spans_total', { outcome })
    for (const other of ['exported', 'failed', 'dropped'].filter((o) => o !== outcome))
      assert.equal(sample(text, 'inkstream_trace_spans_total', { outcome: other }), 0, other)
    assert.ok(counted !== undefined && counted <= read, `${counted} ${outcome}, ${read} read`)
    if (counted === read) return
    assert.ok(Date.now() < deadline, `${outcome}: ${counted}, but the receiver read ${read} spans`)
    await new Promise((r) => setTimeout(r, 300))
  }
}

describe('traces exported to an OTLP collector', () => {
  let receiver: TraceReceiver
  let smtp: TestSmtpServer
  let server: ServerProcess
  let output = ''
  const writeKey = testKey('wk')
  const adminKey = testKey('ak')
  // The caller's trace: the server span must continue it.
  const callerTrace = hex(16)
  const callerSpan = hex(8)
  const dataDir = tempDir()

  const admin = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    assert.ok(res.status < 300, `${path}: ${res.status} ${await res.text()}`)
  }
  const collect = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { authorization: basicAuth(writeKey), 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })

  before(async () => {
    receiver = await startTraceReceiver()
    smtp = await startSmtpServer()
    server = await startServerProcess({
      dataDir,
      writeKey,
      adminKey,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_SERVICE_NAME: 'inkstream-test',
        INKSTREAM_LOG_LEVEL: 'debug',
        INKSTREAM_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        INKSTREAM_FROM: 'news@shop.example',
      },
    })
    await admin('PUT', '/v1/templates/poke', { subject: 'Hi {{ user_id }}', html: '<p>Hi {{ user_id }}</p>' })
    await admin('PUT', '/v1/triggers/poke', { event: 'Poked', templateId: 'poke' })
    const identified = await collect('/v1/batch', {
      batch: [{ type: 'identify', userId: 'ann', traits: { email: 'ann@example.com' } }],
    })
    assert.equal(identified.status, 200, await identified.text())
    await waitForZeroLag(server.url, 30_000, server.output)
  })
  after(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM')
      await server.exited
    }
    await receiver.close()
    await smtp.close()
  })

  test('ingest, processor batch, deliver, render and send are linked spans sharing ids with the logs', async () => {
    const tracked = await collect(
      '/v1/track',
      { userId: 'ann', event: 'Poked', properties: {} },
      { traceparent: `00-${callerTrace}-${callerSpan}-01`, 'x-request-id': 'trace-test-1' },
    )
    assert.equal(tracked.status, 200, await tracked.text())
    assert.equal(tracked.headers.get('x-request-id'), 'trace-test-1')
    const [mail] = await smtp.waitForMessages(1)
    assert.deepEqual(mail?.rcptTo, ['ann@example.com'])

    // A log line written inside a request span (the handler refuses the token).
    const refused = await fetch(`${server.url}/c/not-a-token`, { headers: { 'x-request-id': 'bad-token' } })
    assert.equal(refused.headers.get('x-request-id'), 'bad-token')
    await refused.text()

    const ingest = await receiver.waitFor((s) => s.attributes['http.request.id'] === 'trace-test-1', 'ingest')
    const linksTo = (target: ReceivedSpan) => (s: ReceivedSpan) =>
      s.links.some((l) => l.traceId === target.traceId && l.spanId === target.spanId)
    // A single event's request has no log append span: the event carries the request's context.
    const deliver = await receiver.waitFor((s) => s.name === SPANS.deliver && linksTo(ingest)(s), 'deliver')
    await receiver.waitFor((s) => s.name === SPANS.send && s.parentSpanId === deliver.spanId, 'send')
    // The Email Sent outcome event is appended inside the deliver span: its batch links back to it.
    await receiver.waitFor((s) => s.name === SPANS.batch && linksTo(deliver)(s), 'outcome batch')
    const get = await receiver.waitFor((s) => s.attributes['http.request.id'] === 'bad-token', 'GET')

    // The request continues the caller's trace; the append is its child.
    assert.equal(ingest.name, 'POST /v1/track')
    assert.equal(ingest.kind, SERVER)
    assert.equal(ingest.traceId, callerTrace)
    assert.equal(ingest.parentSpanId, callerSpan)
    assert.equal(ingest.attributes['http.response.status_code'], 200)
    assert.equal(ingest.service, 'inkstream-test')
    assert.equal(
      receiver.spans.some((s) => s.name === SPANS.append && s.traceId === callerTrace),
      false,
      'a single-event request has no log append span',
    )
    // A batch request has one, the child of its request span, for all its events.
    const batchRequest = only(receiver.spans, 'POST /v1/batch', () => true)
    const batchAppend = only(receiver.spans, SPANS.append, (s) => s.parentSpanId === batchRequest.spanId)
    assert.equal(batchAppend.traceId, batchRequest.traceId)
    assert.equal(batchAppend.attributes['inkstream.events'], 1)

    // The batch (in the processor's thread) is a trace of its own, linked to the event's request.
    const batch = only(receiver.spans, SPANS.batch, linksTo(ingest))
    assert.equal(batch.parentSpanId, undefined)
    assert.notEqual(batch.traceId, callerTrace)
    assert.equal(batch.service, 'inkstream-test')

    // The trigger's message: its own trace, linked to the same request; render and send inside it.
    assert.equal(deliver.parentSpanId, undefined)
    assert.notEqual(deliver.traceId, callerTrace)
    assert.equal(deliver.attributes['inkstream.origin'], 'trigger')
    assert.equal(deliver.attributes['inkstream.campaign.id'], 'trigger:poke')
    assert.equal(deliver.attributes['inkstream.outcome'], 'sent')
    const render = only(receiver.spans, SPANS.render, (s) => s.parentSpanId === deliver.spanId)
    assert.equal(render.traceId, deliver.traceId)
    assert.equal(render.attributes['inkstream.template.id'], 'poke')
    assert.equal(render.attributes['inkstream.render.outcome'], 'ok')
    const send = only(receiver.spans, SPANS.send, (s) => s.parentSpanId === deliver.spanId)
    assert.equal(send.traceId, deliver.traceId)
    assert.equal(send.kind, CLIENT)
    assert.equal(send.attributes['inkstream.send.outcome'], 'sent')

    assert.equal(get.name, 'GET /c/*')
    assert.ok(receiver.requests.length > 0)
    // OTLP/HTTP protobuf: the spec's default encoding (no OTEL_EXPORTER_OTLP_PROTOCOL set here).
    for (const r of receiver.requests)
      assert.deepEqual(r, { path: '/v1/traces', contentType: 'application/x-protobuf' })

    // Both threads' tracers are counted (the processor thread's after each of its exports).
    await spansCounted(server.url, receiver, 'exported')

    // The log lines carry the trace and span ids of the spans they were written in.
    server.child.kill('SIGTERM')
    await server.exited
    output = server.output()
    const lines = logLines(output)
    const completed = lines.find((l) => l['http.request.id'] === 'trace-test-1')
    assert.ok(completed, `no request line for trace-test-1 in:\n${output}`)
    assert.equal(completed['trace.id'], ingest.traceId)
    assert.equal(completed['span.id'], ingest.spanId)
    const inside = lines.find((l) => l.message === 'tracking token refused')
    assert.ok(inside, `no "tracking token refused" line in:\n${output}`)
    assert.equal(inside['http.request.id'], 'bad-token')
    assert.equal(inside['trace.id'], get.traceId)
    assert.equal(inside['span.id'], get.spanId)
    assert.equal(inside['service.name'], 'inkstream-test')
  })
})

describe('an OTLP collector that refuses the exports', () => {
  test('the spans are counted as failed, those of the processor thread too', async () => {
    const receiver = await startTraceReceiver({ refuse: 400 })
    const writeKey = testKey('wk')
    const server = await startServerProcess({
      dataDir: tempDir(),
      writeKey,
      adminKey: testKey('ak'),
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' },
    })
    try {
      for (const event of ['Viewed', 'Added']) {
        const res = await fetch(`${server.url}/v1/track`, {
          method: 'POST',
          headers: { authorization: basicAuth(writeKey), 'content-type': 'application/json' },
          body: JSON.stringify({ userId: 'ann', event }),
        })
        assert.equal(res.status, 200, await res.text())
      }
      await waitForZeroLag(server.url, 30_000, server.output)
      // The processor thread's batch spans reached the collector: its counts must be in the total.
      await receiver.waitFor((s) => s.name === SPANS.batch, 'processor batch')
      await spansCounted(server.url, receiver, 'failed')
    } finally {
      server.child.kill('SIGTERM')
      await server.exited
      await receiver.close()
    }
  })
})
