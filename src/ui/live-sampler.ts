/**
 * The overview's live numbers (issue 13): every `intervalMs` (2 s) it samples this process's
 * registry the way the roller does (sampleRegistry), turns the difference from the previous sample
 * into an OverviewPoint, keeps the last `windowMs` (15 min) of points in a ring for new connections,
 * and hands each new point to the listeners (the open live streams). The per-minute rollups are too
 * slow for charts a new user watches move; these points are only ever held in memory.
 */
import type { Registry } from 'prom-client'
import type { Clock } from '../core/types.ts'
import { sampleDelta, sampleRegistry } from '../observe/rollups/rollup-series.ts'
import { type OverviewPoint, overviewPoint, partsOf } from './overview-series.ts'

export const LIVE_INTERVAL_MS = 2_000
export const LIVE_WINDOW_MS = 15 * 60_000

export interface LiveSamplerDeps {
  registry: Registry
  clock: Clock
  logger: { warn(obj: unknown, msg: string): void }
  intervalMs?: number
  windowMs?: number
}

export class LiveSampler {
  readonly intervalMs: number
  readonly windowMs: number
  readonly #deps: LiveSamplerDeps
  readonly #listeners = new Set<(p: OverviewPoint) => void>()
  #ring: OverviewPoint[] = []
  #last: Map<string, number> | undefined
  #lastAt = 0
  #since = 0
  #timer: NodeJS.Timeout | undefined
  #chain: Promise<unknown> = Promise.resolve()
  #closed = false

  constructor(deps: LiveSamplerDeps) {
    this.#deps = deps
    this.intervalMs = deps.intervalMs ?? LIVE_INTERVAL_MS
    this.windowMs = deps.windowMs ?? LIVE_WINDOW_MS
  }

  /** Takes the baseline sample; with `timers` (default), samples every intervalMs until close(). */
  async start(opts: { timers?: boolean } = {}): Promise<void> {
    await this.#serial(async () => {
      this.#last = await sampleRegistry(this.#deps.registry)
      this.#lastAt = this.#deps.clock.now()
      this.#since = this.#lastAt
    })
    if (opts.timers ?? true) this.#schedule()
  }

  /** Samples now: appends the point of the interval since the last sample and tells the listeners. */
  tick(): Promise<OverviewPoint | undefined> {
    return this.#serial(async () => {
      if (this.#closed || this.#last === undefined) return undefined
      const sample = await sampleRegistry(this.#deps.registry)
      const now = this.#deps.clock.now()
      const seconds = Math.max(now - this.#lastAt, 1) / 1000
      const point = overviewPoint(partsOf(sampleDelta(this.#last, sample)), now, seconds)
      this.#last = sample
      this.#lastAt = now
      this.#ring.push(point)
      const oldest = now - this.windowMs
      const drop = this.#ring.findIndex((p) => p.t > oldest)
      if (drop > 0) this.#ring = this.#ring.slice(drop)
      for (const l of this.#listeners) l(point)
      return point
    })
  }

  /** Where the points held start, epoch ms: the baseline sample, or the start of the oldest point kept. */
  get since(): number {
    const oldest = this.#ring[0]
    return oldest ? Math.max(this.#since, oldest.t - oldest.seconds * 1000) : this.#since
  }

  /** The points of the window, oldest first (a copy). */
  points(): OverviewPoint[] {
    return [...this.#ring]
  }

  /** Calls `listener` with each new point until the returned function is called. */
  subscribe(listener: (p: OverviewPoint) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** How many listeners (open streams) there are. */
  get listeners(): number {
    return this.#listeners.size
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#listeners.clear()
    await this.#chain
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn)
    this.#chain = run.catch(() => {})
    return run
  }

  #schedule(): void {
    if (this.#closed) return
    this.#timer = setTimeout(() => {
      this.tick()
        .catch((err: unknown) => this.#deps.logger.warn({ err }, 'live overview sample failed'))
        .finally(() => this.#schedule())
    }, this.intervalMs)
    this.#timer.unref()
  }
}
