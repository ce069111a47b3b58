/**
 * A local OTLP/HTTP trace receiver for tests: POST /v1/traces in either encoding of the OTLP spec,
 * `application/x-protobuf` (http/protobuf, the default) or `application/json` (http/json),
 * flattened into spans with their ids as hex. The protobuf is read here from the wire format and
 * the field numbers of opentelemetry-proto's trace.proto (not by the library that wrote it).
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

/** One protobuf field: its number, and its value (a varint / fixed number, or the bytes of a length-delimited one). */
type Field = { n: number; v: bigint | Buffer }

/** The fields of one protobuf message, in order (wire types 0, 1, 2 and 5). */
function fields(buf: Buffer): Field[] {
  const out: Field[] = []
  let i = 0
  const varint = (): bigint => {
    let v = 0n
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[i++]
      if (b === undefined) throw new Error('truncated protobuf varint')
      v |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return v
    }
  }
  while (i < buf.length) {
    const key = Number(varint())
    const n = key >>> 3
    const wire = key & 7
    if (wire === 0) out.push({ n, v: varint() })
    else if (wire === 1) {
      out.push({ n, v: buf.subarray(i, i + 8) })
      i += 8
    } else if (wire === 2) {
      const len = Number(varint())
      out.push({ n, v: buf.subarray(i, i + len) })
      i += len
    } else if (wire === 5) {
      out.push({ n, v: buf.subarray(i, i + 4) })
      i += 4
    } else throw new Error(`protobuf wire type ${wire} not expected in OTLP traces`)
  }
  return out
}

const all = (f: Field[], n: number): Buffer[] => f.filter((x) => x.n === n).map((x) => x.v as Buffer)
const one = (f: Field[], n: number): Field['v'] | undefined => f.find((x) => x.n === n)?.v

/** AnyValue (common.proto): 1 string, 2 bool, 3 int, 4 double. */
function anyValue(buf: Buffer): OtlpValue {
  const f = fields(buf)
  const s = one(f, 1)
  if (s !== undefined) return { stringValue: (s as Buffer).toString('utf8') }
  const b = one(f, 2)
  if (b !== undefined) return { boolValue: b === 1n }
  const i = one(f, 3)
  if (i !== undefined) return { intValue: Number(BigInt.asIntN(64, i as bigint)) }
  const d = one(f, 4)
  return d === undefined ? {} : { doubleValue: (d as Buffer).readDoubleLE(0) }
}

/** KeyValue (common.proto): 1 key, 2 value. */
const keyValues = (list: Buffer[]): OtlpAttr[] =>
  list.map((kv) => {
    const f = fields(kv)
    const value = one(f, 2)
    return { key: (one(f, 1) as Buffer).toString('utf8'), value: value ? anyValue(value as Buffer) : {} }
  })

const hexOf = (v: Field['v'] | undefined): string | undefined =>
  v === undefined || (v as Buffer).length === 0 ? undefined : (v as Buffer).toString('hex')

/**
 * ExportTraceServiceRequest as the JSON encoding's document: 1 resource_spans → (1 resource → 1
 * attributes; 2 scope_spans → 2 spans: 1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind,
 * 9 attributes, 13 links (1 trace_id, 2 span_id), 15 status (3 code)).
 */
function protobufDocument(buf: Buffer) {
  return {
    resourceSpans: all(fields(buf), 1).map((rsBuf) => {
      const rs = fields(rsBuf)
      const resource = one(rs, 1)
      return {
        resource: { attributes: resource ? keyValues(all(fields(resource as Buffer), 1)) : [] },
        scopeSpans: all(rs, 2).map((ssBuf) => ({
          spans: all(fields(ssBuf), 2).map((spanBuf) => {
            const sp = fields(spanBuf)
            const status = one(sp, 15)
            return {
              traceId: hexOf(one(sp, 1)),
              spanId: hexOf(one(sp, 2)),
              parentSpanId: hexOf(one(sp, 4)),
              name: (one(sp, 5) as Buffer | undefined)?.toString('utf8') ?? '',
              kind: Number(one(sp, 6) ?? 0n),
              attributes: keyValues(all(sp, 9)),
              links: all(sp, 13).map((l) => {
                const lf = fields(l)
                return { traceId: hexOf(one(lf, 1)), spanId: hexOf(one(lf, 2)) }
              }),
              status: { code: status ? Number(one(fields(status as Buffer), 3) ?? 0n) : 0 },
            }
          }),
        })),
      }
    }),
  }
}

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

/**
 * `refuse`: answer every export with this status (a collector refusing it), after reading its spans
 * into `spans` (what the server tried to export).
 */
export async function startTraceReceiver(opts: { refuse?: number } = {}): Promise<TraceReceiver> {
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
      const body = Buffer.concat(chunks)
      const protobuf = req.headers['content-type'] === 'application/x-protobuf'
      spans.push(...flatten(protobuf ? protobufDocument(body) : JSON.parse(body.toString('utf8'))))
      res.writeHead(opts.refuse ?? 200, { 'content-type': 'application/json' }).end('{}')
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
