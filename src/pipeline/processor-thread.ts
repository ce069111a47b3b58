/**
 * Runs the processor in a worker thread and relays what it reports. The main thread tells it when
 * events were appended (so it does not wait for its poll), and closes it on shutdown: the worker
 * finishes the batch in flight, commits, and exits.
 */
import type { Worker } from 'node:worker_threads'
import { startTsWorker } from '../core/worker.ts'
import type { BatchReport } from './processor.ts'
import type { ProcessorWorkerData, WorkerMessage } from './processor-worker.ts'

/**
 * The thread's entry lives with the composition (it opens the embedded backends), so this file and
 * processor-worker.ts name no backend.
 */
const WORKER = new URL('../compose/processor-thread-main.ts', import.meta.url)

export class ProcessorThread {
  #worker: Worker | undefined
  #stopped: Promise<void> | undefined
  #restart: NodeJS.Timeout | undefined
  /** True while a worker is consuming (for /healthz). */
  running = false

  constructor(
    private readonly data: ProcessorWorkerData,
    private readonly onBatch: (report: BatchReport) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Resolves once the worker's consumer is running; rejects if it cannot start. */
  start(): Promise<void> {
    const worker = startTsWorker(WORKER, this.data)
    this.#worker = worker
    let ready = false
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') {
          ready = true
          this.running = true
          resolve()
        } else if (msg.type === 'batch') this.onBatch(msg.report)
      })
      worker.once('error', (err) => {
        if (!ready) reject(err)
        this.onError(err)
      })
      worker.once('exit', (code) => {
        this.running = false
        if (!ready || this.#stopped !== undefined) return
        // A crash must not leave profiles frozen while the collector keeps acknowledging events:
        // start again (from the applied offsets in the store) after a pause.
        this.onError(new Error(`processor thread exited with code ${code}; restarting in 1 s`))
        this.#restart = setTimeout(() => {
          this.start().catch((err: unknown) => this.onError(err))
        }, 1_000)
      })
    })
  }

  /** Ends the worker abruptly, as a crash would (for tests of the restart). */
  async kill(): Promise<void> {
    await this.#worker?.terminate()
  }

  /** Tells the worker that events were appended. */
  wake(): void {
    this.#worker?.postMessage('appended')
  }

  close(): Promise<void> {
    clearTimeout(this.#restart)
    const worker = this.#worker
    if (!worker) return Promise.resolve()
    this.#stopped ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => void worker.terminate(), 10_000)
      worker.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      if (!this.running) void worker.terminate()
      else worker.postMessage('stop')
    })
    return this.#stopped
  }
}
