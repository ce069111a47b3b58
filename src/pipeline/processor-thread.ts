/**
 * Runs the processor in a worker thread (a ConsumerThread) and relays the batches it reports.
 */
import { ConsumerThread } from '../core/consumer-thread.ts'
import type { SpanOutcomes } from '../observe/tracing.ts'
import type { BatchReport } from './processor.ts'
import type { ProcessorWorkerData, WorkerMessage } from './processor-worker.ts'

/**
 * The thread's entry lives with the composition (it opens the embedded backends), so this file and
 * processor-worker.ts name no backend.
 */
const WORKER = new URL('../compose/processor-thread-main.ts', import.meta.url)

export class ProcessorThread extends ConsumerThread<WorkerMessage> {
  constructor(
    data: ProcessorWorkerData,
    onBatch: (report: BatchReport) => void,
    onError: (err: unknown) => void,
    onSpans?: (spans: SpanOutcomes, source: string) => void,
  ) {
    super(
      WORKER,
      data,
      'processor',
      (msg) => (msg.type === 'batch' ? onBatch(msg.report) : onSpans?.(msg.spans, `processor-${msg.thread}`)),
      onError,
    )
  }
}
