/**
 * Entry of the embedded processor's worker thread (started by ProcessorThread): the composition of
 * that thread. Opens the processor's backends, builds the processor, serves it over the port.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { pino } from 'pino'
import { Processor } from '../pipeline/processor.ts'
import { type ProcessorWorkerData, serveProcessor, type WorkerMessage } from '../pipeline/processor-worker.ts'
import { loadTraitsConfig } from '../traits/traits-config.ts'
import { openEmbeddedProcessorBackends } from './embedded-processor.ts'

async function main(port: NonNullable<typeof parentPort>, data: ProcessorWorkerData): Promise<void> {
  const logger = pino({ level: data.logLevel, base: { thread: 'processor' } })
  const backends = openEmbeddedProcessorBackends(data)
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
    // Fewer, larger commits contend less with the collector for SQLite's one write lock.
    lingerMs: 10,
    failpoints: backends.failpoints,
    onBatch: (report) => port.postMessage({ type: 'batch', report } satisfies WorkerMessage),
  })
  await serveProcessor(port, processor, backends)
}

if (parentPort) void main(parentPort, workerData as ProcessorWorkerData)
