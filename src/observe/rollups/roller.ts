/**
 * Writes this process's per-minute rollups: at each minute boundary it samples the registry
 * (rollup-series.ts), writes what changed since the last sample into the minute that just closed,
 * with a heartbeat row, and deletes the minutes older than the retention. Every process runs one
 * (its own registry, its own `instance`); close() writes the partial minute so a shutdown loses
 * nothing. The clock decides the minutes; tests call tick() after moving it.
 */
import { hostname } from 'node:os'
import type { Registry } from 'prom-client'
import type { Clock } from '../../core/types.ts'
import { HEARTBEAT, sampleDelta, sampleRegistry } from './rollup-series.ts'
import { MINUTE_MS, minuteOf, type RollupRow, type RollupStore } from './rollup-store.ts'

export const DEFAULT_ROLLUP_RETENTION_DAYS = 15

export interface RollerDeps {
  registry: Registry
  store: RollupStore
  clock: Clock
  logger: { warn(obj: unknown, msg: string): void }
  /** This process's name in the rows; default `<hostname>:<pid>`. */
  instance?: string
  /** Rows older than this are deleted; default 15 days. */
  retentionMs?: number
}

export class Roller {
  readonly #deps: RollerDeps
  readonly instance: string
  readonly #retentionMs: number
  #last = new Map<string, number>()
  /** The minute the counts since the last sample belong to. */
  #minute = 0
  #started = false
  #timer: NodeJS.Timeout | undefined
  #chain: Promise<unknown> = Promise.resolve()

  constructor(deps: RollerDeps) {
    this.#deps = deps
    this.instance = deps.instance ?? `${hostname()}:${process.pid}`
    this.#retentionMs = deps.retentionMs ?? DEFAULT_ROLLUP_RETENTION_DAYS * 86_400_000
  }

  /** Takes the baseline sample (counts before it are not this process's minutes); with `timers`, ticks each minute. */
  async start(opts: { timers?: boolean } = {}): Promise<void> {
    this.#last = await sampleRegistry(this.#deps.registry)
    this.#minute = minuteOf(this.#deps.clock.now())
    this.#started = true
    if (opts.timers ?? true) this.#schedule()
  }

  /** If the minute being counted has closed: writes it and starts the next; then applies the retention. */
  tick(): Promise<void> {
    return this.#serial(async () => {
      const now = this.#deps.clock.now()
      if (!this.#started || minuteOf(now) <= this.#minute) return
      await this.#write(this.#minute)
      this.#minute = minuteOf(now)
      await this.#deps.store.deleteBefore(minuteOf(now - this.#retentionMs))
    })
  }

  /** Writes the partial minute and stops. */
  close(): Promise<void> {
    clearTimeout(this.#timer)
    const wasStarted = this.#started
    this.#started = false
    return this.#serial(async () => {
      if (wasStarted) await this.#write(this.#minute)
    })
  }

  async #write(minute: number): Promise<void> {
    const sample = await sampleRegistry(this.#deps.registry)
    const { instance } = this
    const rows: RollupRow[] = sampleDelta(this.#last, sample).map((d) => ({ ...d, minute, instance }))
    rows.push({ minute, name: HEARTBEAT, le: '', instance, value: 1 })
    await this.#deps.store.add(rows)
    // Only once written: after a failed write, the next tick writes these counts (and newer ones) into the same minute.
    this.#last = sample
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(fn)
    this.#chain = run.catch(() => {})
    return run
  }

  #schedule(): void {
    if (!this.#started) return
    const now = this.#deps.clock.now()
    this.#timer = setTimeout(
      () => {
        this.tick()
          .catch((err: unknown) =>
            this.#deps.logger.warn({ err }, 'metric rollup write failed; retrying next minute'),
          )
          .finally(() => this.#schedule())
      },
      minuteOf(now) + MINUTE_MS - now,
    )
    this.#timer.unref()
  }
}
