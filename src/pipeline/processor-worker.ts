/**
 * The data and the reports of the processor's worker thread (the embedded default). The thread's
 * entry (src/compose/processor-thread-main.ts) opens the backends, builds the processor and serves
 * it (serveConsumer); this file names no backend.
 */
import type { Synchronous } from '../db/sqlite.ts'
import type { SpanOutcomes } from '../observe/tracing.ts'
import type { BouncePolicySettings } from './bounce-policy.ts'
import type { BatchReport } from './processor.ts'

export interface ProcessorWorkerData {
  databaseFile: string
  logFile: string
  synchronous: Synchronous
  traitsFile: string | undefined
  batchSize: number
  /** INKSTREAM_PROCESSOR_LINGER_MS. */
  lingerMs: number
  dedupeWindowMs: number
  logLevel: string
  /** The bounce and complaint policy (INKSTREAM_BOUNCE_*); the defaults when absent. */
  bouncePolicy?: BouncePolicySettings | undefined
  /** INKSTREAM_FAILPOINTS, parsed in this thread (tests). */
  failpoints?: string | undefined
}

/**
 * What the processor thread reports besides 'ready' and 'stopped': each committed batch, and with
 * tracing on, its tracer's span outcomes after each export.
 */
export type WorkerMessage =
  | { type: 'batch'; report: BatchReport }
  /** `thread`: the worker's threadId, one per thread the process ever started (a restarted one is new). */
  | { type: 'spans'; spans: SpanOutcomes; thread: number }
