/**
 * A pool of worker threads for asynchronous tasks (renders today; meant to be shared). Each worker
 * runs many tasks at once — a render mostly waits for its sources — and a task goes to the ready
 * worker with the fewest in flight. Workers may call back into this thread (`host` handlers: data
 * and I/O that live here, e.g. connected content). The worker side is pool-worker.ts.
 *
 * - start() spawns every worker; each says it is ready once its module has warmed up, and tasks
 *   given before any worker is ready wait for one (callers that cannot wait check `ready`).
 * - A worker that exits or throws fails its tasks in flight with INK_ERR_WORKER_LOST and is
 *   replaced; a task not answered within its `timeoutMs` fails with INK_ERR_WORKER_TIMEOUT.
 * - Errors thrown by a task cross as `{ code, message, details }`: an InkError comes back as one.
 */
import { availableParallelism } from 'node:os'
import type { Worker } from 'node:worker_threads'
import { InkError } from './errors.ts'
import { type FromWorker, fromWire, type ToWorker, toWire } from './pool-protocol.ts'
import { startTsWorker } from './worker.ts'

export interface WorkerPoolOptions {
  /** The worker's module: it calls serveTasks() (pool-worker.ts). */
  module: URL
  workerData?: unknown
  /** Threads; default: one per core. */
  size?: number
  /** What the workers may ask this thread (callHost in the worker): name → handler. */
  host?: Readonly<Record<string, (payload: never) => unknown>>
  /** Names the pool in error messages. */
  name: string
}

export interface RunOptions {
  /** The task fails with INK_ERR_WORKER_TIMEOUT if not answered within this. */
  timeoutMs?: number
  /**
   * Tasks with the same key go to the same worker while it is not much busier than the least busy
   * one: what a worker builds and keeps for a key (a compiled template) is built once, not per worker.
   */
  key?: string
}

/** In-flight tasks a keyed task's worker may have beyond the least busy one's before it goes there instead. */
const AFFINITY_SLACK = 8

interface Task {
  id: number
  method: string
  payload: unknown
  key: string | undefined
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  timer?: NodeJS.Timeout | undefined
  slot?: Slot | undefined
}

interface Slot {
  /** Its place in the pool: a replacement takes the place (and the keys) of the worker it replaces. */
  place: number
  worker: Worker
  ready: boolean
  tasks: Map<number, Task>
  answered: number
}

/** One worker's state: for metrics, and for tests to see where tasks ran. */
export interface WorkerStats {
  threadId: number
  ready: boolean
  inFlight: number
  /** Tasks this worker answered (results and errors). */
  answered: number
}

/** A crash loop respawns no faster than this. */
const RESPAWN_DELAY_MS = 200

export class WorkerPool {
  readonly #o: WorkerPoolOptions
  readonly #size: number
  readonly #slots = new Set<Slot>()
  readonly #waiting: Task[] = []
  readonly #readyWaiters: (() => void)[] = []
  readonly #respawns = new Set<NodeJS.Timeout>()
  #next = 1
  #started = false
  #closed = false

  constructor(o: WorkerPoolOptions) {
    this.#o = o
    this.#size = Math.max(1, o.size ?? availableParallelism())
  }

  /** Spawns the workers (idempotent); they warm up in the background. */
  start(): void {
    if (this.#started || this.#closed) return
    this.#started = true
    for (let i = 0; i < this.#size; i++) this.#spawn(i)
  }

  /** Whether a worker takes tasks now. */
  get ready(): boolean {
    for (const s of this.#slots) if (s.ready) return true
    return false
  }

  /** Resolves once a worker takes tasks (starts the pool). */
  whenReady(): Promise<void> {
    this.start()
    if (this.ready) return Promise.resolve()
    return new Promise((resolve) => {
      this.#readyWaiters.push(resolve)
      this.#holdAll()
    })
  }

  /** The thread ids of the workers (tests: a task ran in one of these). */
  get threadIds(): number[] {
    return [...this.#slots].map((s) => s.worker.threadId)
  }

  /** The workers now, with their tasks in flight and answered. */
  stats(): WorkerStats[] {
    return [...this.#slots].map((s) => ({
      threadId: s.worker.threadId,
      ready: s.ready,
      inFlight: s.tasks.size,
      answered: s.answered,
    }))
  }

  /** Runs `method` in a worker with `payload` (structured-cloned) and resolves with its result. */
  run<T>(method: string, payload: unknown, opts: RunOptions = {}): Promise<T> {
    if (this.#closed) return Promise.reject(lost(this.#o.name, 'the pool is closed'))
    this.start()
    return new Promise<T>((resolve, reject) => {
      const task: Task = {
        id: this.#next++,
        method,
        payload,
        key: opts.key,
        resolve: resolve as (v: unknown) => void,
        reject,
      }
      if (opts.timeoutMs !== undefined) {
        task.timer = setTimeout(() => {
          this.#forget(task)
          reject(
            new InkError(
              'INK_ERR_WORKER_TIMEOUT',
              `${this.#o.name}: no answer from the worker within ${opts.timeoutMs} ms`,
            ),
          )
        }, opts.timeoutMs)
      }
      this.#dispatch(task)
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const t of this.#respawns) clearTimeout(t)
    this.#respawns.clear()
    const slots = [...this.#slots]
    this.#slots.clear()
    for (const t of this.#waiting.splice(0)) this.#fail(t, lost(this.#o.name, 'the pool closed'))
    for (const s of slots)
      for (const t of s.tasks.values()) this.#fail(t, lost(this.#o.name, 'the pool closed'))
    await Promise.all(slots.map((s) => s.worker.terminate()))
  }

  #dispatch(task: Task): void {
    let best: Slot | undefined
    for (const s of this.#slots)
      if (s.ready && (best === undefined || s.tasks.size < best.tasks.size)) best = s
    if (best !== undefined && task.key !== undefined) {
      const place = placeOf(task.key, this.#size)
      for (const s of this.#slots)
        if (s.place === place && s.ready && s.tasks.size <= best.tasks.size + AFFINITY_SLACK) best = s
    }
    if (best === undefined) {
      this.#waiting.push(task)
      this.#holdAll()
      return
    }
    task.slot = best
    best.tasks.set(task.id, task)
    this.#hold(best)
    try {
      best.worker.postMessage({
        t: 'task',
        id: task.id,
        method: task.method,
        payload: task.payload,
      } satisfies ToWorker)
    } catch (err) {
      // Not cloneable (a function, a symbol): the caller's bug, reported as such.
      best.tasks.delete(task.id)
      this.#fail(task, err instanceof Error ? err : new Error(String(err)))
    }
  }

  /**
   * A worker keeps the process alive only while a task waits for it (as a socket would); an idle
   * pool never does.
   */
  #hold(slot: Slot): void {
    if (slot.tasks.size > 0 || (!slot.ready && this.#wanted())) slot.worker.ref()
    else slot.worker.unref()
  }

  /** Whether someone waits for a worker to become ready. */
  #wanted(): boolean {
    return this.#waiting.length > 0 || this.#readyWaiters.length > 0
  }

  /** Every worker and pending respawn held or let go, after the waiting changed. */
  #holdAll(): void {
    for (const s of this.#slots) this.#hold(s)
    for (const t of this.#respawns) this.#wanted() ? t.ref() : t.unref()
  }

  /** A task that timed out: its answer, if it ever comes, is dropped. */
  #forget(task: Task): void {
    if (task.slot) {
      task.slot.tasks.delete(task.id)
      this.#hold(task.slot)
    }
    const i = this.#waiting.indexOf(task)
    if (i >= 0) {
      this.#waiting.splice(i, 1)
      this.#holdAll()
    }
  }

  #fail(task: Task, err: Error): void {
    clearTimeout(task.timer)
    task.reject(err)
  }

  #spawn(place: number): void {
    if (this.#closed) return
    const worker = startTsWorker(this.#o.module, this.#o.workerData ?? null)
    const slot: Slot = { place, worker, ready: false, tasks: new Map(), answered: 0 }
    this.#slots.add(slot)
    this.#hold(slot)
    worker.on('message', (m: FromWorker) => this.#onMessage(slot, m))
    let gone = false
    const onLost = (why: string) => {
      if (gone) return
      gone = true
      if (!this.#slots.delete(slot)) return // closed
      for (const t of slot.tasks.values()) this.#fail(t, lost(this.#o.name, why))
      slot.tasks.clear()
      // Held like a worker: only while tasks wait for the replacement.
      const respawn = setTimeout(() => {
        this.#respawns.delete(respawn)
        this.#spawn(place)
      }, RESPAWN_DELAY_MS)
      this.#respawns.add(respawn)
      this.#holdAll()
    }
    worker.on('error', (err) => onLost(`the worker failed: ${err.message}`))
    worker.on('exit', (code) => onLost(`the worker exited (${code})`))
  }

  #onMessage(slot: Slot, m: FromWorker): void {
    switch (m.t) {
      case 'ready': {
        slot.ready = true
        for (const w of this.#readyWaiters.splice(0)) w()
        for (const t of this.#waiting.splice(0)) this.#dispatch(t)
        this.#holdAll()
        return
      }
      case 'done': {
        const task = slot.tasks.get(m.id)
        if (task === undefined) return
        slot.tasks.delete(m.id)
        slot.answered += 1
        this.#hold(slot)
        clearTimeout(task.timer)
        if (m.ok) task.resolve(m.value)
        else task.reject(fromWire(m.error))
        return
      }
      case 'call': {
        void this.#host(m.name, m.payload).then(
          (value) => slot.worker.postMessage({ t: 'reply', id: m.id, ok: true, value } satisfies ToWorker),
          (err: unknown) =>
            slot.worker.postMessage({
              t: 'reply',
              id: m.id,
              ok: false,
              error: toWire(err),
            } satisfies ToWorker),
        )
        return
      }
    }
  }

  async #host(name: string, payload: unknown): Promise<unknown> {
    const handler = this.#o.host?.[name] as ((p: unknown) => unknown) | undefined
    if (handler === undefined) throw new Error(`${this.#o.name}: no host handler "${name}"`)
    return handler(payload)
  }
}

/** A key's place: FNV-1a of the key, modulo the pool's size. */
function placeOf(key: string, size: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return (h >>> 0) % size
}

const lost = (pool: string, why: string) =>
  new InkError('INK_ERR_WORKER_LOST', `${pool}: ${why} before answering; retry`)
