/**
 * Episodes over a detector's verdicts: one alert per run of anomalies, not one per point.
 * An episode starts at the first anomalous point and ends once quietPoints scored normal points
 * have followed its last anomalous point; an anomaly in between continues the same episode.
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

export class EpisodeTracker {
  readonly #series: string
  readonly #quietPoints: number
  #open: Episode | null = null
  /** Normal points since the last anomalous one, and when the first of them came. */
  #quiet = 0
  #quietSince: number | null = null

  constructor(series: string, opts: { quietPoints?: number } = {}) {
    const q = opts.quietPoints ?? DEFAULT_QUIET_POINTS
    if (!Number.isInteger(q) || q < 1)
      throw new RangeError(`quietPoints must be a positive integer, got ${q}`)
    this.#series = series
    this.#quietPoints = q
  }

  /** The episode in progress (a copy), or null. */
  get open(): Episode | null {
    return this.#open === null ? null : { ...this.#open }
  }

  /** started: the first anomalous point of an episode; ended: after quietPoints normal points. */
  update(v: Verdict): { started?: Episode; ended?: Episode } {
    if (v.anomaly && v.value !== null) {
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
    // A missing minute is no evidence either way: it neither continues nor ends an episode.
    if (this.#open === null || v.value === null) return {}
    if (this.#quiet === 0) this.#quietSince = v.t
    this.#quiet++
    if (this.#quiet < this.#quietPoints) return {}
    const ended: Episode = { ...this.#open, endedAt: this.#quietSince }
    this.#open = null
    this.#quiet = 0
    this.#quietSince = null
    return { ended }
  }
}
