/**
 * The anomaly watcher (issue 12): once a minute, after the minute has closed and a grace for late
 * writers, it reads the merged rollups of the minutes it has not acted on, pushes each series' value
 * into that series' detector (created when the series is first seen) and EpisodeTracker, and acts on
 * each episode's start and end (alert-effects.ts). At start, and when it becomes the watcher again,
 * it rebuilds every detector by replaying the retained rollups up to its watermark, acting on
 * nothing there. One process of a deployment watches: with `locks` (scale-out), the one holding the
 * named lock; every tick tries to take it, so another process takes over when the holder dies.
 *
 * A tick that fails part-way (the store unreachable while a minute's effects or its watermark are
 * written) leaves detectors that have taken a minute the watermark does not hold: the watcher drops
 * them and rebuilds at the next tick, which acts on that minute again (every effect is idempotent).
 * An alert stored for a minute after the watermark (its start written, the watermark not) is left to
 * that minute's second pass, not ended by the rebuild's reconciliation.
 */
import type { Clock } from '../../core/types.ts'
import { createDetector, type Detector, type Verdict } from '../anomaly/detector.ts'
import { type Episode, EpisodeTracker } from '../anomaly/episodes.ts'
import { BASE_SERIES, seriesOf } from '../rollups/rollup-series.ts'
import { type MergedMinute, MINUTE_MS, minuteOf, type RollupStore } from '../rollups/rollup-store.ts'
import type { AlertEffects } from './alert-effects.ts'
import { type Alert, type AlertStore, alertId } from './alert-store.ts'
import { seriesDetectorOptions } from './series-options.ts'

export const WATCHER_LOCK = 'inkstream:anomaly-watcher'

/** How long after a minute closes the watcher reads it: the rollers write at the boundary. */
export const DEFAULT_GRACE_MS = 15_000

/** Replay reads this many minutes per query. */
const REPLAY_CHUNK = 1440

/**
 * At a rebuild, alerts that ended this recently have their `ended` effects run again: ending is
 * stored before its webhook is enqueued, and on the rebuild and confirm paths nothing else would
 * enqueue it after a failure in between (a store that stays unreachable fails every rebuild until it
 * is back, so this covers outages up to this long). Idempotent: the delivery's key is the alert's,
 * and the outbox keeps delivered rows at least a day (INKSTREAM_WEBHOOK_RETENTION_DAYS ≥ 1).
 */
export const RECENTLY_ENDED_MS = 12 * 3_600_000

export interface WatcherDeps {
  rollups: RollupStore
  alerts: AlertStore
  effects: AlertEffects
  clock: Clock
  logger: { warn(obj: unknown, msg: string): void; info(obj: unknown, msg: string): void }
  /** Scale-out: only the holder of WATCHER_LOCK watches. Undefined: this process always does. */
  locks?: { tryHold(name: string): Promise<boolean>; release(name: string): Promise<void> } | undefined
  /**
   * The lock's name; default WATCHER_LOCK. Advisory locks are database-wide: deployments sharing a
   * database (in separate schemas) need names of their own (services.ts adds the Kafka topic).
   */
  lockName?: string
  /** A detector for a series; default the shared createDetector() with the series' options (tests may inject one). */
  detector?: (series: string) => Detector
  /** Normal points that end an episode (EpisodeTracker's quietPoints); default the tracker's. */
  quietPoints?: number
  graceMs?: number
  /** Episodes that ended longer ago than this are deleted after each tick; undefined keeps them all. */
  retentionMs?: number
}

interface Watched {
  detector: Detector
  tracker: EpisodeTracker
  /** The episode the tracker is in, as it started. */
  open: Episode | undefined
}

export class AnomalyWatcher {
  readonly #deps: WatcherDeps
  readonly #series = new Map<string, Watched>()
  /** The last minute pushed into the detectors; undefined until rebuilt. */
  #pushed: number | undefined
  /**
   * Active alerts the last rebuild found starting after the minutes it replayed: confirmed (or ended)
   * once the ticks have acted on their start minute again.
   */
  #unconfirmed: Alert[] = []
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  #chain: Promise<unknown> = Promise.resolve()

  constructor(deps: WatcherDeps) {
    this.#deps = deps
  }

  get #lock(): string {
    return this.#deps.lockName ?? WATCHER_LOCK
  }

  /** Ticks at each minute boundary plus the grace, from now on. */
  start(): void {
    this.#schedule()
  }

  /** Whether this process is the watcher (after its last tick). */
  get watching(): boolean {
    return this.#pushed !== undefined
  }

  /** Acts on every minute closed (with the grace) and not yet acted on; answers how many. */
  tick(): Promise<number> {
    const run = this.#chain.then(() => this.#tick())
    this.#chain = run.catch(() => {})
    return run
  }

  async close(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#chain
    if (this.#pushed !== undefined) await this.#deps.locks?.release(this.#lock)
  }

  async #tick(): Promise<number> {
    if (this.#stopped) return 0
    const { locks, rollups, alerts, clock } = this.#deps
    // A lock that cannot be checked (the database unreachable) is not held: this process stops
    // watching, and clears its gauges, until it can tell again.
    const holds =
      locks === undefined ||
      (await locks.tryHold(this.#lock).catch((err: unknown) => {
        this.#deps.logger.warn({ err }, 'anomaly watcher could not check its lock; not watching until it can')
        return false
      }))
    if (!holds) {
      // Another process watches: what this one knew is stale by the time it watches again, and its
      // gauge is the new watcher's to set (left at 1 here, a max() over the processes never clears).
      if (this.#pushed !== undefined) for (const s of this.#series.keys()) this.#deps.effects.active(s, false)
      this.#forget()
      return 0
    }
    // The last minute that closed more than the grace ago.
    const last = minuteOf(clock.now() - (this.#deps.graceMs ?? DEFAULT_GRACE_MS)) - MINUTE_MS
    let acted = 0
    try {
      if (this.#pushed === undefined) await this.#rebuild(last)
      for (let from = (this.#pushed ?? last) + MINUTE_MS; from <= last; from += REPLAY_CHUNK * MINUTE_MS) {
        const to = Math.min(from + REPLAY_CHUNK * MINUTE_MS, last + MINUTE_MS)
        const minutes = await rollups.merged(from, to)
        for (let m = from; m < to; m += MINUTE_MS) {
          await this.#minute(m, minutes.get(m), true)
          // After the minute's effects: a crash in between acts on it again (each effect is idempotent).
          await alerts.setWatermark(m)
          this.#pushed = m
          acted++
        }
      }
      await this.#confirm()
    } catch (err) {
      // The detectors may hold a minute the watermark does not: rebuilt from the store next tick.
      this.#forget()
      throw err
    }
    // The alert history is kept as long as the rollups it was found in (composeAnomalies).
    const keep = this.#deps.retentionMs
    if (keep !== undefined) await alerts.deleteEndedBefore(clock.now() - keep)
    return acted
  }

  #forget(): void {
    this.#series.clear()
    this.#pushed = undefined
    this.#unconfirmed = []
  }

  /** Ends the unconfirmed alerts whose start minute has been acted on again without opening them. */
  async #confirm(): Promise<void> {
    const pushed = this.#pushed
    if (pushed === undefined || this.#unconfirmed.length === 0) return
    const now = this.#deps.clock.now()
    const waiting: Alert[] = []
    for (const a of this.#unconfirmed) {
      if (a.startedAt > pushed) {
        waiting.push(a)
        continue
      }
      const open = this.#series.get(a.series)?.open
      if (open && alertId(open.series, open.startedAt) === a.id) continue
      this.#deps.logger.info(
        { alert: a.id },
        'anomaly alert ended: its minute acted on again found no episode',
      )
      await this.#deps.effects.ended({ ...a, endedAt: now })
      // The series may be in a newer episode: its gauge stays 1 then.
      if (this.#series.get(a.series)?.open) this.#deps.effects.active(a.series, true)
    }
    this.#unconfirmed = waiting
  }

  /** Replays the retained minutes up to the watermark (no effects), then reconciles the stored alerts. */
  async #rebuild(last: number): Promise<void> {
    const { rollups, alerts, effects, logger } = this.#deps
    this.#series.clear()
    const first = await rollups.firstMinute()
    // First start: the history is replayed, not acted on. After a long stop: from the oldest minute kept.
    const stored = await alerts.watermark()
    const watermark = stored === undefined ? last : Math.max(stored, (first ?? last) - MINUTE_MS)
    const end = Math.min(watermark, last)
    for (let from = first ?? end + MINUTE_MS; from <= end; from += REPLAY_CHUNK * MINUTE_MS) {
      const to = Math.min(from + REPLAY_CHUNK * MINUTE_MS, end + MINUTE_MS)
      const minutes = await rollups.merged(from, to)
      for (let m = from; m < to; m += MINUTE_MS) await this.#minute(m, minutes.get(m), false)
    }
    for (const s of BASE_SERIES) this.#watched(s)
    // Alerts left active whose episode the replay did not find open (the data aged out, or the
    // detector changed) would stay active for ever: they end now.
    const now = this.#deps.clock.now()
    this.#unconfirmed = []
    /** Series with an alert still active after this rebuild. */
    const on = new Set<string>()
    for (const alert of await alerts.list({ state: 'ended', limit: 1000 }))
      if (alert.endedAt !== null && alert.endedAt >= now - RECENTLY_ENDED_MS)
        await effects.ended({ ...alert, endedAt: alert.endedAt })
    for (const alert of await alerts.list({ state: 'active', limit: 1000 })) {
      // Stored for a minute after the watermark (the tick failed or the process died before the
      // watermark moved): the ticks act on that minute again, and #confirm decides then.
      if (alert.startedAt > end) {
        this.#unconfirmed.push(alert)
        on.add(alert.series)
        continue
      }
      const open = this.#series.get(alert.series)?.open
      if (open && alertId(open.series, open.startedAt) === alert.id) {
        on.add(alert.series)
        continue
      }
      logger.info({ alert: alert.id }, 'anomaly alert ended: its episode is no longer open after a restart')
      await effects.ended({ ...alert, endedAt: now })
    }
    // The gauges last: ending an older alert of a series sets its gauge to 0, also when a newer
    // alert of it is still active. An episode the replay found open with no alert stored (a first
    // start's silent replay) is not gauged, as before.
    for (const series of on) effects.active(series, true)
    for (const [series, w] of this.#series) if (!w.open && !on.has(series)) effects.active(series, false)
    // Kept at once: a restart before the next minute must not replay (silently) minutes after this.
    if (stored === undefined) await alerts.setWatermark(end)
    this.#pushed = end
  }

  async #minute(m: number, merged: MergedMinute | undefined, act: boolean): Promise<void> {
    const values = merged ? seriesOf(merged) : new Map<string, number | null>()
    for (const s of values.keys()) this.#watched(s)
    for (const [series, w] of this.#series) {
      const verdict: Verdict = w.detector.push(m, values.get(series) ?? null)
      const { started, ended } = w.tracker.update(verdict)
      if (started) {
        w.open = started
        if (act) await this.#deps.effects.started(started)
      }
      if (ended) {
        const open = w.open ?? ended
        w.open = undefined
        if (act)
          await this.#deps.effects.ended({ ...open, endedAt: ended.endedAt ?? m, peakScore: ended.peakScore })
      }
    }
  }

  #watched(series: string): Watched {
    let w = this.#series.get(series)
    if (!w) {
      const detector = this.#deps.detector?.(series) ?? createDetector(seriesDetectorOptions(series))
      const q = this.#deps.quietPoints
      w = {
        detector,
        tracker: new EpisodeTracker(series, q === undefined ? {} : { quietPoints: q }),
        open: undefined,
      }
      this.#series.set(series, w)
    }
    return w
  }

  #schedule(): void {
    if (this.#stopped) return
    const now = this.#deps.clock.now()
    const grace = this.#deps.graceMs ?? DEFAULT_GRACE_MS
    const next = minuteOf(now - grace) + MINUTE_MS + grace
    this.#timer = setTimeout(() => {
      this.tick()
        .catch((err: unknown) =>
          this.#deps.logger.warn({ err }, 'anomaly watcher failed; retrying next minute'),
        )
        .finally(() => this.#schedule())
    }, next - now)
    this.#timer.unref()
  }
}
