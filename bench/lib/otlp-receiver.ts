/**
 * The tracing benches' shared parts: a local OTLP/HTTP endpoint that reads and drops every export
 * (counting them), and the four configurations they compare.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export const TRACING_CONFIGS = ['baseline', 'shipped', 'exporter', 'sampled'] as const
export type TracingConfig = (typeof TRACING_CONFIGS)[number]

/** Each configuration's environment: logging silent or `info`, no endpoint, every span, or one trace in ten. */
export function tracingEnv(receiverUrl: string): Record<TracingConfig, Record<string, string>> {
  return {
    baseline: { INKSTREAM_LOG_LEVEL: 'silent', OTEL_EXPORTER_OTLP_ENDPOINT: '' },
    shipped: { INKSTREAM_LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: '' },
    exporter: { INKSTREAM_LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl },
    // The SDK's standard sampler variables: one trace in ten recorded and exported.
    sampled: {
      INKSTREAM_LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    },
  }
}

/** A local OTLP/HTTP endpoint that reads and drops every export, counting them and their bytes. */
export async function startDiscardingReceiver() {
  let exports = 0
  let bytes = 0
  const server = createServer((req, res) => {
    req.on('data', (c: Buffer) => {
      bytes += c.length
    })
    req.on('end', () => {
      exports++
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ exports, bytes }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}
