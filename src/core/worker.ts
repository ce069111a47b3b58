/** Starts a worker thread from one of the app's modules, compiled (dist/) or not (src/ under tsx). */
import { Worker, type WorkerOptions } from 'node:worker_threads'

/** True when this file runs compiled (dist/, `npm start`); false under tsx (tests, development). */
const COMPILED = import.meta.url.endsWith('.js')

/**
 * The single seam through which the app starts its worker threads. `module` is the entry's URL as
 * written next to its caller, with its source name: `new URL('./x-worker.ts', import.meta.url)`.
 * - Compiled (dist/): the entry's `.js` beside the caller (scripts/build.mjs compiles every file
 *   under src/ to the same path in dist/) starts directly: no loader, no TypeScript at run time.
 * - Under tsx: on Node 20 a worker does not inherit tsx's loader, so the worker registers it,
 *   then imports the module.
 * `options` are passed on to the Worker (e.g. resourceLimits, name); `workerData` wins over theirs.
 */
export function startTsWorker(
  module: URL,
  workerData: unknown,
  options: Omit<WorkerOptions, 'eval' | 'workerData'> = {},
): Worker {
  if (COMPILED) return new Worker(compiledUrl(module), { ...options, workerData })
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(module.href)}) })`
  return new Worker(boot, { ...options, eval: true, workerData })
}

/** The compiled entry for a source module URL (`.ts`/`.tsx` → `.js`; a `.js` URL is kept). */
function compiledUrl(module: URL): URL {
  const url = new URL(module.href)
  url.pathname = url.pathname.replace(/\.tsx?$/, '.js')
  return url
}
