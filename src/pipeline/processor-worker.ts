/**
 * The message protocol of the processor's worker thread (the embedded default), and the loop that
 * serves a processor over it. The thread's entry (src/compose/processor-thread-main.ts) opens the
 * backends and builds the processor; this file names no backend.
 * Messages in: 'appended' (wake up), 'stop'. Messages out: 'ready', BatchReport, 'stopped', errors.
 */
import type { MessagePort } from 'node:worker_threads'
import type { Synchronous } from '../db/sqlite.ts'
import type { BatchReport } from './processor.ts'

export interface ProcessorWorkerData {
  databaseFile: string
  logFile: string
  synchronous: Synchronous
  traitsFile: string | undefined
  batchSize: number
  dedupeWindowMs: number
  logLevel: string
  /** INKSTREAM_FAILPOINTS, parsed in this thread (tests). */
  failpoints?: string | undefined
}

export type WorkerMessage = { type: 'ready' } | { type: 'batch'; report: BatchReport } | { type: 'stopped' }

/** Starts `processor`, says 'ready', and serves the port until 'stop' (then closes the processor, then `backends`). */
export async function serveProcessor(
  port: MessagePort,
  processor: { start(): Promise<void>; close(): Promise<void> },
  backends: { wake(): void; close(): Promise<void> },
): Promise<void> {
  port.on('message', async (msg: unknown) => {
    if (msg === 'appended') backends.wake()
    else if (msg === 'stop') {
      await processor.close()
      await backends.close()
      port.postMessage({ type: 'stopped' } satisfies WorkerMessage)
      port.close()
    }
  })
  await processor.start()
  port.postMessage({ type: 'ready' } satisfies WorkerMessage)
}
