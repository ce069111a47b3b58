/**
 * A local OTLP/HTTP trace receiver for tests: POST /v1/traces with the JSON encoding (what
 * @opentelemetry/exporter-trace-otlp-http sends), flattened into spans with their ids as hex.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId: string | undefined
  name: string
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  kind: number
  attributes: Record<string, unknown>
  links: { traceId: string; spanId: string }[]
  /** `service.name` of the resource that sent it. */
  service: unknown
  status: number
}

export interface TraceReceiver {
  /** The base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string
  spans: ReceivedSpan[]
  /** Request paths and content types seen (the exporter must POST JSON to /v1/traces). */
  requests: { path: string; contentType: string | undefined }[]
  /** Resolves once a span satisfies `pred`; rejects after timeoutMs with what arrived. */
  waitFor(pred: (s: ReceivedSpan) => boolean, what: string, timeoutMs?: number): Promise<ReceivedSpan>
  close(): Promise<void>
}

type OtlpValue = {
  stringValue?: string
  intValue?: string | number
  boolValue?: boolean
  doubleValue?: number
}
type OtlpAttr = { key: string; value: OtlpValue }

const value = (v: OtlpValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue))
const attrs = (list: OtlpAttr[] | undefined) =>
  Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]))
/** The JSON encoding writes ids as hex; the default (non-hex) protobuf-JSON would be base64: both read. */
const hex = (id: string | undefined): string | undefined =>
  id === undefined || id === ''
    ? undefined
    : /^[0-9a-f]+$/.test(id)
      ? id
      : Buffer.from(id, 'base64').toString('hex')

// biome-ignore lint/suspicious/noExplicitAny: the OTLP JSON document, read field by field below
function flatten(doc: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = []
  for (const rs of doc.resourceSpans ?? []) {
    const service = attrs(rs.resource?.attributes)['service.name']
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hex(s.traceId)!,
          spanId: hex(s.spanId)!,
          parentSpanId: hex(s.parentSpanId),
          name: s.name,
          kind: s.kind,
          attributes: attrs(s.attributes),
          // biome-ignore lint/suspicious/noExplicitAny: as above
          links: (s.links ?? []).map((l: any) => ({ traceId: hex(l.traceId)!, spanId: hex(l.spanId)! })),
          service,
          status: s.status?.code ?? 0,
        })
      }
    }
  }
  return out
}

export async function startTraceReceiver(): Promise<TraceReceiver> {
  const spans: ReceivedSpan[] = []
  const requests: TraceReceiver['requests'] = []
  const waiters = new Set<() => void>()
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] })
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end()
        return
      }
      spans.push(...flatten(JSON.parse(Buffer.concat(chunks).toString('utf8'))))
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      for (const w of waiters) w()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    waitFor(pred, what, timeoutMs = 15_000) {
      const found = spans.find(pred)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const check = () => {
          const s = spans.find(pred)
          if (!s) return
          cleanup()
          resolve(s)
        }
        const timer = setTimeout(() => {
          cleanup()
          const seen = spans.map((s) => `${s.name} ${s.traceId}/${s.spanId}`).join('\n  ')
          reject(new Error(`no span ${what} within ${timeoutMs} ms; received:\n  ${seen}`))
        }, timeoutMs)
        const cleanup = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
      })
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((err) => (err ? reject(err) : resolve()))
      }),
  }
}

/** The one span named `name` in `trace`, else a failed assertion listing what is there. */
export function only(spans: readonly ReceivedSpan[], name: string, pred: (s: ReceivedSpan) => boolean) {
  const found = spans.filter((s) => s.name === name && pred(s))
  assert.equal(found.length, 1, `spans "${name}": ${JSON.stringify(found, null, 1)}`)
  return found[0]!
}
