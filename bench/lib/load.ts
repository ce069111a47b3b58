/**
 * Closed-loop load with autocannon's programmatic API: N keep-alive connections, one request in
 * flight on each, every request a fresh body from a BodyPool (so messageIds never repeat).
 */
import autocannon from 'autocannon'
import type { ServerUnderTest } from './children.ts'
import { round } from './children.ts'
import { type BodyPool, basicAuth } from './events.ts'

export interface LoadSpec {
  path: string
  bodies: BodyPool
  connections: number
  /** Seconds of unmeasured load first (JIT, SQLite page cache, socket set-up). */
  warmupSeconds: number
  /** Roughly how long the measured run lasts; see measureThroughput. */
  seconds: number
}

export interface LoadResult {
  /** 2xx responses. */
  ok: number
  non2xx: number
  errors: number
  /** From the first request sent to the last response received. */
  seconds: number
  /** 2xx responses per second. */
  perSecond: number
  /** autocannon's best one-second sample (all responses). */
  peakPerSecond: number
  latencyMs: { p50: number; p99: number }
}

interface RunOptions {
  duration?: number
  amount?: number
}

function cannon(server: ServerUnderTest, spec: LoadSpec, run: RunOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    let last = t0
    const instance = autocannon(
      {
        url: server.url,
        connections: spec.connections,
        ...run,
        requests: [
          {
            method: 'POST',
            path: spec.path,
            headers: { 'content-type': 'application/json', authorization: basicAuth(server.writeKey) },
            setupRequest: (req) => ({ ...req, body: spec.bodies.next() }),
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err)
        // autocannon reports on its 1 s ticker, so its own duration can overshoot by up to a second
        // in `amount` mode; the window from our start to the last response is exact.
        const seconds = (last - t0) / 1000
        resolve({
          ok: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          seconds: round(seconds, 3),
          perSecond: result['2xx'] / seconds,
          peakPerSecond: result.requests.max,
          latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
        })
      },
    )
    instance.on('response', () => {
      last = performance.now()
    })
  })
}

/**
 * Warm up for `warmupSeconds`, then send a fixed number of requests (the warm-up rate × `seconds`),
 * so every request sent is also answered and counted: with a fixed duration autocannon would drop
 * the connections with requests still in flight, and the server may still have accepted them.
 */
export async function measureThroughput(
  server: ServerUnderTest,
  spec: LoadSpec,
  /** Runs between warm-up and the measured run (e.g. to read a counter). */
  betweenRuns?: () => Promise<void>,
): Promise<LoadResult> {
  const warm = await cannon(server, spec, { duration: spec.warmupSeconds })
  if (warm.ok === 0)
    throw new Error(`${server.name}: no 2xx during warm-up (${warm.non2xx} non-2xx, ${warm.errors} errors)`)
  await betweenRuns?.()
  // The warm-up's best second, not its average: a server still warming up would make the run too short.
  const rate = Math.max(warm.perSecond, warm.peakPerSecond)
  const amount = Math.max(spec.connections, Math.round(rate * spec.seconds))
  return cannon(server, spec, { amount })
}
