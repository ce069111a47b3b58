/**
 * The export thread (otlp-export.ts, ExportThread): wraps each batch's encoded spans into the
 * request, compresses if asked, POSTs and retries, and answers whether the collector took it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { otlpTransport, protobufRequestOf, type ThreadExport, type TransportSettings } from './otlp-export.ts'

function main(port: NonNullable<typeof parentPort>, settings: TransportSettings): void {
  const transport = otlpTransport(settings)
  port.on('message', async (msg: ThreadExport) => {
    let ok = false
    try {
      const body =
        'body' in msg ? msg.body : protobufRequestOf(new Uint8Array(msg.spans, 0, msg.length), msg.scope)
      ok = await transport.send(body)
    } catch {
      ok = false
    }
    port.postMessage({ id: msg.id, ok })
  })
}

if (parentPort) main(parentPort, workerData as TransportSettings)
