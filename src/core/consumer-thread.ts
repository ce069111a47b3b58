/**
 * A log consumer in a worker thread of its own (the embedded processor, the analytics consumer):
 * the main thread starts it, tells it when events were appended (so it does not wait for its
 * poll), relays what it reports, starts it again when it dies, and closes it on shutdown (the
 * worker finishes the batch in flight, commits, and exits).
 *
 * The protocol: in, 'appended' (wake up) and 'stop'; out, { type: 'ready' } once consuming,
 * { type: 'stopped' } before exiting, and whatever else the consumer reports (`onMessage`).
 * serveConsumer is the worker's side.
 */
import type { MessagePort, Worker } from 'node:worker_threads'
import { startTsWorker } from './worker.ts'

export type ConsumerThreadMessage = { type: 'ready' } | { type: 'stopped' }

/**
 * Wake-ups closer together than this are merged into one at the end of the interval. Under ingest
 * every commit of the log (thousands a second) woke every consumer thread: 4.6 % of the HTTP
 * thread in postMessage alone (docs/benchmarks.md), while a busy consumer reads on after each batch
 * without being told. A quiet consumer is still woken at once.
 */
export const WAKE_INTERVAL_MS = 5

export class ConsumerThread<M extends { type: string }> {
  #worker: Worker | undefined
  #stopped: Promise<void> | undefined
  #restart: NodeJS.Timeout | undefined
  /** When the last wake-up was posted; a later one within WAKE_INTERVAL_MS waits for #trailing. */
  #wokenAt = Number.NEGATIVE_INFINITY
  #trailing: NodeJS.Timeout | undefined
  /** True while a worker is consuming (for /healthz). */
  running = false
  /** True once a worker has consumed: not running then means restarting, not starting (/healthz). */
  everRan = false

  /**
   * `entry` is the worker's module (its source URL; startTsWorker finds the compiled one), `name`
   * says which consumer in errors, `onMessage` gets every report but 'ready' and 'stopped'.
   */
  constructor(
    private readonly entry: URL,
    private readonly data: unknown,
    private readonly name: string,
    private readonly onMessage: (msg: M) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Resolves once the worker's consumer is running; rejects if it cannot start. */
  start(): Promise<void> {
    const worker = startTsWorker(this.entry, this.data, { name: this.name })
    this.#worker = worker
    let ready = false
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: M | ConsumerThreadMessage) => {
        if (msg.type === 'ready') {
          ready = true
          this.running = true
          this.everRan = true
          resolve()
        } else if (msg.type !== 'stopped') this.onMessage(msg as M)
      })
      worker.once('error', (err) => {
        if (!ready) reject(err)
        this.onError(err)
      })
      worker.once('exit', (code) => {
        this.running = false
        // Gone: close() has nothing to wait for (a worker that exits never emits 'exit' again).
        if (this.#worker === worker) this.#worker = undefined
        if (!ready || this.#stopped !== undefined) return
        // A crash must not leave the consumer behind while the collector keeps acknowledging
        // events: start again (from the applied offsets in its store) after a pause.
        this.onError(new Error(`${this.name} thread exited with code ${code}; restarting in 1 s`))
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

  /** Tells the worker that events were appended: at once, or with others at the interval's end. */
  wake(): void {
    if (this.#trailing !== undefined) return
    const wait = this.#wokenAt + WAKE_INTERVAL_MS - performance.now()
    if (wait <= 0) {
      this.#post()
      return
    }
    this.#trailing = setTimeout(() => {
      this.#trailing = undefined
      this.#post()
    }, wait)
    this.#trailing.unref()
  }

  #post(): void {
    this.#wokenAt = performance.now()
    this.#worker?.postMessage('appended')
  }

  close(): Promise<void> {
    clearTimeout(this.#restart)
    clearTimeout(this.#trailing)
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

/**
 * The worker's side: starts `consumer`, says 'ready', and serves the port until 'stop' (then closes
 * the consumer, then `backends`, says 'stopped').
 */
export async function serveConsumer(
  port: MessagePort,
  consumer: { start(): Promise<void>; close(): Promise<void> },
  backends: { wake(): void; close(): Promise<void> },
): Promise<void> {
  port.on('message', async (msg: unknown) => {
    if (msg === 'appended') backends.wake()
    else if (msg === 'stop') {
      await consumer.close()
      await backends.close()
      port.postMessage({ type: 'stopped' } satisfies ConsumerThreadMessage)
      port.close()
    }
  })
  await consumer.start()
  port.postMessage({ type: 'ready' } satisfies ConsumerThreadMessage)
}
