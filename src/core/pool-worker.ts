/**
 * The worker side of a WorkerPool (pool.ts): serveTasks() answers the pool's tasks with the given
 * methods, several at once; callHost() asks the pool's thread for something that lives there.
 */
import { parentPort } from 'node:worker_threads'
import { type FromWorker, fromWire, type ToWorker, toWire } from './pool-protocol.ts'

type Method = (payload: never) => unknown

const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
let nextCall = 1

function port() {
  if (parentPort === null) throw new Error('pool-worker.ts runs in a worker thread only')
  return parentPort
}

/** Calls the pool's `host[name]` handler in the pool's thread and resolves with its answer. */
export function callHost<T>(name: string, payload: unknown): Promise<T> {
  const id = nextCall++
  return new Promise<T>((resolve, reject) => {
    calls.set(id, { resolve: resolve as (v: unknown) => void, reject })
    port().postMessage({ t: 'call', id, name, payload } satisfies FromWorker)
  })
}

/**
 * Answers tasks with `methods`; says ready once `warm` (first work that loads code and caches, so
 * the first real task is not the slow one) has settled.
 */
export function serveTasks(methods: Readonly<Record<string, Method>>, warm?: () => Promise<unknown>): void {
  const p = port()
  p.on('message', (m: ToWorker) => {
    if (m.t === 'reply') {
      const call = calls.get(m.id)
      if (call === undefined) return
      calls.delete(m.id)
      if (m.ok) call.resolve(m.value)
      else call.reject(fromWire(m.error))
      return
    }
    const method = Object.hasOwn(methods, m.method)
      ? (methods[m.method] as (p: unknown) => unknown)
      : undefined
    Promise.resolve()
      .then(() => {
        if (method === undefined) throw new Error(`no task method "${m.method}"`)
        return method(m.payload)
      })
      .then((value) => p.postMessage({ t: 'done', id: m.id, ok: true, value } satisfies FromWorker))
      // A failed task, or an answer that cannot be cloned: the task fails, the worker lives on.
      .catch((err: unknown) =>
        p.postMessage({ t: 'done', id: m.id, ok: false, error: toWire(err) } satisfies FromWorker),
      )
  })
  void Promise.resolve(warm?.())
    .catch(() => {})
    .finally(() => p.postMessage({ t: 'ready' } satisfies FromWorker))
}
