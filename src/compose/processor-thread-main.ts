/**
 * Entry of the embedded processor's worker thread (started by ProcessorThread): the composition of
 * that thread. Opens the processor's backends, builds the processor, serves it over the port.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads'
import { serveConsumer } from '../core/consumer-thread.ts'
import { createLogger } from '../observe/logging.ts'
import { serviceName, startTracing } from '../observe/tracing.ts'
import { bouncePolicies } from '../pipeline/bounce-policy.ts'
import { Processor } from '../pipeline/processor.ts'
import type { ProcessorWorkerData, WorkerMessage } from '../pipeline/processor-worker.ts'
import { loadTraitsConfig } from '../traits/traits-config.ts'
import { openEmbeddedProcessorBackends } from './embedded-processor.ts'

async function main(port: NonNullable<typeof parentPort>, data: ProcessorWorkerData): Promise<void> {
  const logger = createLogger({
    level: data.logLevel,
    serviceName: serviceName(process.env),
    bindings: { 'process.thread.name': 'processor' },
  })
  // This thread's own provider (the OpenTelemetry API's globals are per thread); the env is the main thread's.
  const tracing = await startTracing(process.env, {
    onExported: (spans) =>
      port.postMessage({ type: 'spans', spans, thread: threadId } satisfies WorkerMessage),
  })
  const opened = openEmbeddedProcessorBackends(data)
  const backends = {
    ...opened,
    async close() {
      await opened.close()
      await tracing?.shutdown()
    },
  }
  const processor = new Processor({
    log: backends.log,
    store: backends.store,
    traits: loadTraitsConfig(data.traitsFile).traits,
    clock: { now: () => Date.now() },
    logger,
    batchSize: data.batchSize,
    dedupeWindowMs: data.dedupeWindowMs,
    segments: backends.segments,
    triggers: backends.triggers,
    lingerMs: data.lingerMs,
    failpoints: backends.failpoints,
    ...(data.bouncePolicy ? { bouncePolicy: bouncePolicies(data.bouncePolicy) } : {}),
    onBatch: (report) => port.postMessage({ type: 'batch', report } satisfies WorkerMessage),
  })
  await serveConsumer(port, processor, backends)
}

if (parentPort) void main(parentPort, workerData as ProcessorWorkerData)
