/** Starts a worker thread from a TypeScript module. */
import { Worker } from 'node:worker_threads'

/**
 * The app runs through tsx, and on Node 20 a worker does not inherit tsx's loader: the worker
 * registers it, then imports the module.
 */
export function startTsWorker(module: URL, workerData: unknown): Worker {
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(module.href)}) })`
  return new Worker(boot, { eval: true, workerData })
}
