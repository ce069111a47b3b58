/**
 * Request coalescing: concurrent callers with the same key share one running task. Each caller
 * waits with its own signal; the task is aborted only when every caller has given up, with the
 * last caller's abort reason (so the task can tell a timeout from a cancelled render).
 */
import { raceAbort } from './deadline.ts'

interface Flight<T> {
  promise: Promise<T>
  controller: AbortController
  waiters: number
}

export class Coalescer<T> {
  readonly #flights = new Map<string, Flight<T>>()

  /** Number of tasks running now. */
  get inFlight(): number {
    return this.#flights.size
  }

  /**
   * Joins the running task for key, or starts `task` when none runs. Rejects with the signal's
   * reason when this caller's signal aborts first.
   */
  run(key: string, task: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason)
    let flight = this.#flights.get(key)
    if (flight === undefined) {
      const controller = new AbortController()
      const promise = (async () => task(controller.signal))()
      const started: Flight<T> = { controller, waiters: 0, promise }
      const forget = () => {
        if (this.#flights.get(key) === started) this.#flights.delete(key)
      }
      promise.then(forget, forget)
      this.#flights.set(key, started)
      flight = started
    }
    const joined = flight
    joined.waiters++
    return raceAbort(joined.promise, signal, () => {
      joined.waiters--
      if (joined.waiters === 0) {
        // Nobody waits any more: a later caller must not join a task that is being cancelled.
        if (this.#flights.get(key) === joined) this.#flights.delete(key)
        joined.controller.abort(signal.reason)
      }
    })
  }
}
