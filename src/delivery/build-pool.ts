/**
 * Build workers for the send path: tracking, unsubscribe headers and MIME bytes (message-build.ts)
 * run on the other cores while the main thread claims, sends and records (issue 14: a campaign
 * left the second core idle). Small on purpose: a fixed set of node:worker_threads, each job to the
 * ready worker with the fewest in flight. Until a worker has started (loading the modules takes a
 * moment) and once the pool is closed, `run` answers undefined and the caller builds inline, so a
 * send never waits for a worker to boot.
 *
 * Workers are unref'd: an idle pool does not keep the process alive. A worker that dies fails the
 * jobs it held (the caller's build failure: a temporary outcome, retried) and is not replaced.
 */
import type { Worker } from 'node:worker_threads'
import { startTsWorker } from '../core/worker.ts'
import type { BuildRequest } from './build-worker.ts'
import type { BuildJob } from './message-build.ts'
import type { SigningKey } from './tokens.ts'
import type { OutgoingMessage } from './transport.ts'

interface Slot {
  worker: Worker
  ready: boolean
  inFlight: number
}

interface Waiter {
  slot: Slot
  message: OutgoingMessage
  resolve: (m: OutgoingMessage) => void
  reject: (err: Error) => void
}

type Reply =
  | { ready: true }
  | { id: number; error: string }
  | ({ id: number } & Pick<OutgoingMessage, 'prepared'> & Partial<Pick<OutgoingMessage, 'html' | 'headers'>>)

export class BuildPool {
  readonly #slots: Slot[] = []
  readonly #waiting = new Map<number, Waiter>()
  #nextId = 0
  #started = false
  #closed = false

  /** `workerData` reaches every worker (the DKIM keys the bytes are signed with: build-worker.ts). */
  constructor(
    private readonly size: number,
    private readonly workerData: unknown = null,
  ) {}

  /** Builds in a worker; undefined when none is ready (the caller builds inline). */
  run(job: BuildJob, signing: SigningKey | undefined, now: number): Promise<OutgoingMessage> | undefined {
    if (this.#closed || this.size < 1) return undefined
    if (!this.#started) this.#start()
    let best: Slot | undefined
    for (const s of this.#slots) if (s.ready && (best === undefined || s.inFlight < best.inFlight)) best = s
    if (best === undefined) return undefined
    const slot = best
    const id = this.#nextId++
    slot.inFlight++
    return new Promise<OutgoingMessage>((resolve, reject) => {
      this.#waiting.set(id, { slot, message: job.message, resolve, reject })
      const req: BuildRequest = { id, job, now, ...(signing === undefined ? {} : { signing }) }
      slot.worker.postMessage(req)
    })
  }

  #start(): void {
    this.#started = true
    for (let i = 0; i < this.size; i++) {
      const slot: Slot = {
        worker: startTsWorker(new URL('./build-worker.ts', import.meta.url), this.workerData),
        ready: false,
        inFlight: 0,
      }
      slot.worker.unref()
      slot.worker.on('message', (reply: Reply) => {
        if ('ready' in reply) {
          slot.ready = true
          return
        }
        const waiter = this.#waiting.get(reply.id)
        if (waiter === undefined) return
        this.#waiting.delete(reply.id)
        slot.inFlight--
        if ('error' in reply) waiter.reject(new Error(reply.error))
        else {
          const { id: _, prepared, ...changed } = reply
          // Back to a Buffer (a transferred one arrives as a plain Uint8Array).
          if (prepared)
            prepared.raw = Buffer.from(prepared.raw.buffer, prepared.raw.byteOffset, prepared.raw.byteLength)
          waiter.resolve({ ...waiter.message, ...changed, ...(prepared ? { prepared } : {}) })
        }
      })
      const fail = (err: Error) => {
        slot.ready = false
        const i = this.#slots.indexOf(slot)
        if (i !== -1) this.#slots.splice(i, 1)
        for (const [id, w] of this.#waiting)
          if (w.slot === slot) {
            this.#waiting.delete(id)
            w.reject(err)
          }
      }
      slot.worker.on('error', fail)
      slot.worker.on('exit', (code) => fail(new Error(`a build worker exited (code ${code})`)))
      this.#slots.push(slot)
    }
  }

  /** Stops the workers; jobs still in them fail, later ones are built inline by their callers. */
  async close(): Promise<void> {
    this.#closed = true
    const slots = this.#slots.splice(0)
    await Promise.all(slots.map((s) => s.worker.terminate()))
  }
}
