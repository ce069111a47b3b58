/**
 * Episodes over a detector's verdicts: one alert per run of anomalies, not one per point.
 * An episode starts at the first anomalous point and ends once quietPoints scored normal points
 * have followed its last anomalous point; an anomaly in between continues the same episode. A
 * missing point is no evidence either way, but a series that stops reporting (a source no longer
 * called, nothing sent any more) ends its episode after maxMissingPoints missing points in a row,
 * at the first of them: an alert must not stay active for ever on a series with no data.
 */
import type { Verdict } from './detector.ts'

export interface Episode {
  series: string
  /** The first anomalous point's time, epoch ms. */
  startedAt: number
  /** The first normal point after the last anomalous one (known once the episode has ended); null while open. */
  endedAt: number | null
  /** The expected range and the observed value: at the first point when started, at the peak when ended. */
  expectedLower: number
  expectedUpper: number
  observed: number
  /** The highest score of the episode so far. */
  peakScore: number
}

/** Default quiet points: ten normal minutes end an episode (five split a variance change into ~4 alerts). */
export const DEFAULT_QUIET_POINTS = 10

/** Default missing points in a row that end an open episode: an hour of per-minute rollups. */
export const DEFAULT_MAX_MISSING_POINTS = 60

export class EpisodeTracker {
  readonly #series: string
  readonly #quietPoints: number
  readonly #maxMissing: number
  #open: Episode | null = null
  /** Missing points in a row while open, and when the first of them came. */
  #missing = 0
  #missingSince: number | null = null
  /** Normal points since the last anomalous one, and when the first of them came. */
  #quiet = 0
  #quietSince: number | null = null

  constructor(series: string, opts: { quietPoints?: number; maxMissingPoints?: number } = {}) {
    const q = opts.quietPoints ?? DEFAULT_QUIET_POINTS
    if (!Number.isInteger(q) || q < 1)
      throw new RangeError(`quietPoints must be a positive integer, got ${q}`)
    const m = opts.maxMissingPoints ?? DEFAULT_MAX_MISSING_POINTS
    if (!Number.isInteger(m) || m < 1)
      throw new RangeError(`maxMissingPoints must be a positive integer, got ${m}`)
    this.#series = series
    this.#quietPoints = q
    this.#maxMissing = m
  }

  /** The episode in progress (a copy), or null. */
  get open(): Episode | null {
    return this.#open === null ? null : { ...this.#open }
  }

  /** started: the first anomalous point of an episode; ended: after quietPoints normal points. */
  update(v: Verdict): { started?: Episode; ended?: Episode } {
    if (v.value === null) {
      if (this.#open === null) return {}
      if (this.#missing === 0) this.#missingSince = v.t
      this.#missing++
      return this.#missing < this.#maxMissing ? {} : { ended: this.#end(this.#missingSince) }
    }
    this.#missing = 0
    this.#missingSince = null
    if (v.anomaly) {
      this.#quiet = 0
      this.#quietSince = null
      const open = this.#open
      if (open === null) {
        this.#open = {
          series: this.#series,
          startedAt: v.t,
          endedAt: null,
          expectedLower: v.lower,
          expectedUpper: v.upper,
          observed: v.value,
          peakScore: v.score,
        }
        return { started: { ...this.#open } }
      }
      if (v.score > open.peakScore) {
        open.peakScore = v.score
        open.expectedLower = v.lower
        open.expectedUpper = v.upper
        open.observed = v.value
      }
      return {}
    }
    if (this.#open === null) return {}
    if (this.#quiet === 0) this.#quietSince = v.t
    this.#quiet++
    if (this.#quiet < this.#quietPoints) return {}
    return { ended: this.#end(this.#quietSince) }
  }

  #end(at: number | null): Episode {
    const ended: Episode = { ...this.#open!, endedAt: at }
    this.#open = null
    this.#quiet = 0
    this.#quietSince = null
    this.#missing = 0
    this.#missingSince = null
    return ended
  }
}
