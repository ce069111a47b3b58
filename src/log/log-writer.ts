/**
 * Appends to the SQLite log from a thread of its own, so the HTTP thread keeps parsing requests
 * while a commit (and its fsync) is in progress, and the next group forms meanwhile. A write
 * resolves only after its transaction committed; if the thread dies, pending writes reject (the
 * collector answers 503) and the next write starts a new thread.
 */
import type { Worker } from 'node:worker_threads'
import { startTsWorker } from '../core/worker.ts'
import type { Synchronous } from '../db/sqlite.ts'

/** [workspaceId, messageId, receivedAt (epoch ms), payload JSON] */
export type LogRow = [string, string, number, string]

export interface LogWriterData {
  file: string
  synchronous: Synchronous
}

const WORKER = new URL('./log-writer-worker.ts', import.meta.url)

export class LogWriterThread {
  #worker: Worker | undefined
  #ready: Promise<void> | undefined
  #nextId = 1
  readonly #pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>()
  #closed = false

  constructor(private readonly data: LogWriterData) {}

  /** Resolves once the thread has opened the database. */
  start(): Promise<void> {
    const worker = startTsWorker(WORKER, this.data)
    this.#worker = worker
    this.#ready = new Promise((resolve, reject) => {
      worker.on('message', (msg: { id: number; error?: string } | 'ready') => {
        if (msg === 'ready') return resolve()
        const p = this.#pending.get(msg.id)
        this.#pending.delete(msg.id)
        if (msg.error === undefined) p?.resolve()
        else p?.reject(new Error(msg.error))
      })
      worker.once('error', reject)
      worker.once('exit', (code) => {
        if (this.#worker === worker) this.#worker = undefined
        const err = new Error(`log writer thread exited with code ${code}`)
        reject(err)
        for (const p of this.#pending.values()) p.reject(err)
        this.#pending.clear()
      })
    })
    return this.#ready
  }

  async write(rows: readonly LogRow[]): Promise<void> {
    if (this.#closed) throw new Error('log writer is closed')
    if (this.#worker === undefined) await this.start()
    await this.#ready
    const id = this.#nextId++
    const done = new Promise<void>((resolve, reject) => this.#pending.set(id, { resolve, reject }))
    this.#worker!.postMessage({ id, rows })
    return done
  }

  async close(): Promise<void> {
    this.#closed = true
    const worker = this.#worker
    if (!worker) return
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve())
      worker.postMessage('stop')
    })
  }
}
