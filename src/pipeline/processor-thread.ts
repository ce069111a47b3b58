/**
 * Runs the processor in a worker thread and relays what it reports. The main thread tells it when
 * events were appended (so it does not wait for its poll), and closes it on shutdown: the worker
 * finishes the batch in flight, commits, and exits.
 */
import { Worker } from 'node:worker_threads'
import type { BatchReport } from './processor.ts'
import type { ProcessorWorkerData, WorkerMessage } from './processor-worker.ts'

const WORKER = new URL('./processor-worker.ts', import.meta.url).href

export class ProcessorThread {
  #worker: Worker | undefined
  #stopped: Promise<void> | undefined

  constructor(
    private readonly data: ProcessorWorkerData,
    private readonly onBatch: (report: BatchReport) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Resolves once the worker's consumer is running. */
  start(): Promise<void> {
    // The worker is TypeScript run through tsx, whose loader a worker does not inherit on Node 20.
    const tsx = import.meta.resolve('tsx/esm/api')
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER)}) })`
    const worker = new Worker(boot, { eval: true, workerData: this.data })
    this.#worker = worker
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') resolve()
        else if (msg.type === 'batch') this.onBatch(msg.report)
      })
      worker.once('error', (err) => {
        reject(err)
        this.onError(err)
      })
      worker.once('exit', (code) => {
        if (code !== 0 && this.#stopped === undefined)
          this.onError(new Error(`processor thread exited with code ${code}`))
      })
    })
  }

  /** Tells the worker that events were appended. */
  wake(): void {
    this.#worker?.postMessage('appended')
  }

  close(): Promise<void> {
    const worker = this.#worker
    if (!worker) return Promise.resolve()
    this.#stopped ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => void worker.terminate(), 10_000)
      worker.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      worker.postMessage('stop')
    })
    return this.#stopped
  }
}
