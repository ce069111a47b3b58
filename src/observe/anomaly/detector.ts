/**
 * An online anomaly detector for per-minute series (docs/anomaly-detection.md explains the method).
 *
 * The forecast for step s is a seasonal-naive forecast re-levelled by robust medians:
 *   forecast_ℓ(s) = level(s) + (ref(s−ℓ) − level(s−ℓ))
 * where level(s) is the median of the W points before s, ref(s−ℓ) the median of the 2m+1 points
 * centred on s−ℓ, and ℓ a seasonal lag (days, weeks); the expected value is the median of the
 * forecasts of the lags that have history. The expected range is ± threshold robust standard
 * deviations, the scale being 1.4826 × the median absolute forecast error over the last R points
 * (MAD). Every statistic comes from points before s, so a verdict never depends on later points.
 * Memory is bounded: two weeks of two per-step statistics, plus small windows.
 */

export interface Verdict {
  /** The point's time, epoch ms. */
  t: number
  /** null: no data for the minute (not scored, not anomalous). */
  value: number | null
  /** The forecast for t from points before t only; NaN until W/2 points have come. */
  expected: number
  /** The expected range; NaN while warming up (until warmupPoints forecast errors are known). */
  lower: number
  upper: number
  /** ≥ 0, in robust standard deviations; > threshold ⇒ anomaly (0 while warming up or missing). */
  score: number
  anomaly: boolean
}

export interface DetectorOptions {
  /** The series' step, ms (default 60 000: per-minute rollups). */
  stepMs?: number
  /** Score above which a point is an anomaly, in robust standard deviations (default 5). */
  threshold?: number
  /** Which deviations count: 'both' (default), 'up' (only above the range), 'down' (only below). */
  direction?: 'both' | 'up' | 'down'
  /** The smallest scale, in the series' unit (default 0): for series that are often constant. */
  minScale?: number
  /** The smallest scale relative to |expected| (default 0.01): a constant series is not alarmed by noise. */
  relativeMinScale?: number
  /** Points in the level window W (default 20): a level shift is adopted after about W/2 points. */
  levelWindow?: number
  /** Forecast errors in the scale window R (default 120): a variance change is adopted after about R/2. */
  scaleWindow?: number
  /** Scored points need this many forecast errors in the scale window first (default 30). */
  warmupPoints?: number
}

export interface Detector {
  push(t: number, value: number | null): Verdict
}

const DAY_MS = 86_400_000
const WEEK_MS = 7 * DAY_MS
/** Half-width m of the seasonal reference window (2m+1 points): 7 ⇒ 15 minutes at a 1-minute step. */
const REF_HALF = 7
/** Gaussian consistency constant: σ = 1.4826 × MAD for normal noise. */
const MAD_TO_SIGMA = 1.4826
/** Points in the run test for small shifts. */
const RUN = 4
const SQRT_RUN = 2

/** k-th smallest (0-based) of a[0..n), reordering a (Hoare's selection). */
function select(a: Float64Array, n: number, k: number): number {
  let lo = 0
  let hi = n - 1
  while (hi > lo) {
    const pivot = a[(lo + hi) >> 1]!
    let i = lo
    let j = hi
    while (i <= j) {
      while (a[i]! < pivot) i++
      while (a[j]! > pivot) j--
      if (i <= j) {
        const tmp = a[i]!
        a[i] = a[j]!
        a[j] = tmp
        i++
        j--
      }
    }
    if (k <= j) hi = j
    else if (k >= i) lo = i
    else return a[k]!
  }
  return a[k]!
}

/** Median of a[0..n) (reorders a); NaN when n is 0. */
function median(a: Float64Array, n: number): number {
  if (n === 0) return Number.NaN
  const mid = n >> 1
  const upper = select(a, n, mid)
  if (n % 2 === 1) return upper
  let lower = a[0]!
  for (let i = 1; i < mid; i++) if (a[i]! > lower) lower = a[i]!
  return (lower + upper) / 2
}

function positiveInt(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`)
  return v
}

function nonNegative(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number ≥ 0, got ${v}`)
  return v
}

/** Creates a detector for one series; push its points in time order, one per step (gaps are missing). */
export function createDetector(opts: DetectorOptions = {}): Detector {
  const stepMs = positiveInt('stepMs', opts.stepMs, 60_000)
  const threshold = nonNegative('threshold', opts.threshold, 5)
  const direction = opts.direction ?? 'both'
  if (direction !== 'both' && direction !== 'up' && direction !== 'down') {
    throw new RangeError(`direction must be both, up or down, got ${String(direction)}`)
  }
  const minScale = nonNegative('minScale', opts.minScale, 0)
  const relMinScale = nonNegative('relativeMinScale', opts.relativeMinScale, 0.01)
  const W = positiveInt('levelWindow', opts.levelWindow, 20)
  const R = positiveInt('scaleWindow', opts.scaleWindow, 120)
  const warmup = Math.min(R, positiveInt('warmupPoints', opts.warmupPoints, 30))

  // Seasonal lags in steps: days 1..6 and weeks 1..2 (only whole-step periods).
  const day = DAY_MS % stepMs === 0 ? DAY_MS / stepMs : 0
  const week = WEEK_MS % stepMs === 0 ? WEEK_MS / stepMs : 0
  const dailyLags: number[] = []
  if (day > REF_HALF) for (let d = 1; d <= 6; d++) dailyLags.push(d * day)
  const weeklyLags = week > REF_HALF ? [week, 2 * week] : []
  const maxLag = Math.max(0, ...dailyLags, ...weeklyLags)

  // Ring of raw values (NaN = missing) deep enough for the level and reference windows.
  const rawCap = Math.max(W, 2 * REF_HALF + 1) + 1
  const raw = new Float64Array(rawCap).fill(Number.NaN)
  // Per-step statistics kept for the seasonal lags: level(s) and ref(s) (NaN = unknown).
  const statCap = maxLag + 2 * REF_HALF + 2
  const level = new Float64Array(statCap).fill(Number.NaN)
  const ref = new Float64Array(statCap).fill(Number.NaN)
  // Absolute forecast errors, ring of R.
  const errs = new Float64Array(R)
  // The same errors sorted, so the MAD is read, not computed, at each point.
  const sortedErrs = new Float64Array(R)
  let errCount = 0
  let errPos = 0
  // Signed scores of the last RUN scored points.
  const zs = new Float64Array(RUN)
  let zCount = 0
  let zPos = 0

  const scratch = new Float64Array(Math.max(W, 2 * REF_HALF + 1, R, 16))
  const cands = new Float64Array(16)
  let lastStep: number | null = null
  let lastLevel = Number.NaN

  const mod = (i: number, n: number) => {
    const r = i % n
    return r < 0 ? r + n : r
  }

  /** Median of the valid values of ring at steps [from, to]; NaN when fewer than half are valid. */
  function windowMedian(ring: Float64Array, from: number, to: number): number {
    let n = 0
    let i = mod(from, rawCap)
    for (let s = from; s <= to; s++) {
      const v = ring[i]!
      if (!Number.isNaN(v)) scratch[n++] = v
      if (++i === rawCap) i = 0
    }
    return n * 2 >= to - from + 1 ? median(scratch, n) : Number.NaN
  }

  /** Records the statistics that become known once step s−1 is in: level(s) and ref(s−1−m). */
  function advance(s: number): void {
    let lv = windowMedian(raw, s - W, s - 1)
    // A level is held through gaps (and outages), so the forecast does not vanish.
    if (Number.isNaN(lv)) lv = lastLevel
    else lastLevel = lv
    level[mod(s, statCap)] = lv
    const c = s - 1 - REF_HALF
    ref[mod(c, statCap)] = windowMedian(raw, c - REF_HALF, c + REF_HALF)
  }

  /** One seasonal forecast for step s from lag ℓ, NaN when that history is missing. */
  function lagForecast(s: number, lag: number, lv: number): number {
    const i = mod(s - lag, statCap)
    return lv + (ref[i]! - level[i]!)
  }

  function forecast(s: number): number {
    const lv = level[mod(s, statCap)]!
    if (Number.isNaN(lv)) return Number.NaN
    let n = 0
    for (const lag of weeklyLags) {
      const f = lagForecast(s, lag, lv)
      if (!Number.isNaN(f)) cands[n++] = f
    }
    const d1 = dailyLags.length > 0 ? lagForecast(s, dailyLags[0]!, lv) : Number.NaN
    if (n === 2) {
      // Two weeks of history: the weekly shape leads; yesterday breaks a tie.
      if (!Number.isNaN(d1)) cands[n++] = d1
      return median(cands, n)
    }
    for (const lag of dailyLags) {
      const f = lagForecast(s, lag, lv)
      if (!Number.isNaN(f)) cands[n++] = f
    }
    // Fewer than three seasonal forecasts: the recent level is a candidate too, so one odd day
    // (an outage yesterday at this time) cannot decide alone.
    if (n < 3) cands[n++] = lv
    return median(cands, n)
  }

  /** First index in sortedErrs[0..errCount) whose value is ≥ x. */
  function lowerBound(x: number): number {
    let lo = 0
    let hi = errCount
    while (lo < hi) {
      const m = (lo + hi) >> 1
      if (sortedErrs[m]! < x) lo = m + 1
      else hi = m
    }
    return lo
  }

  /** Adds a forecast error to the window (dropping the oldest when full), keeping sortedErrs sorted. */
  function addError(e: number): void {
    if (errCount === R) {
      const i = lowerBound(errs[errPos]!)
      sortedErrs.copyWithin(i, i + 1, errCount)
      errCount--
    }
    const j = lowerBound(e)
    sortedErrs.copyWithin(j + 1, j, errCount)
    sortedErrs[j] = e
    errCount++
    errs[errPos] = e
    errPos = (errPos + 1) % R
  }

  const directed = (z: number) =>
    direction === 'up' ? Math.max(z, 0) : direction === 'down' ? Math.max(-z, 0) : Math.abs(z)

  /**
   * A shift too small to flag one point alone still moves every point the same way: when the last
   * RUN scored points all deviate on one side, √RUN × the smallest deviation is a z-score of their
   * mean no larger than the mean's, and almost never high for noise (all four beyond ±2.5σ).
   */
  function runScore(): number {
    if (zCount < RUN) return 0
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    for (let i = 0; i < RUN; i++) {
      const z = zs[i]!
      if (z < min) min = z
      if (z > max) max = z
    }
    if (min > 0) return directed(min) * SQRT_RUN
    if (max < 0) return directed(max) * SQRT_RUN
    return 0
  }

  function scale(expected: number): number {
    const mid = errCount >> 1
    const mad = errCount % 2 === 1 ? sortedErrs[mid]! : (sortedErrs[mid - 1]! + sortedErrs[mid]!) / 2
    return Math.max(MAD_TO_SIGMA * mad, minScale, relMinScale * Math.abs(expected), 1e-12)
  }

  return {
    push(t: number, value: number | null): Verdict {
      if (!Number.isFinite(t)) throw new RangeError(`time must be a finite epoch ms, got ${t}`)
      if (value !== null && !Number.isFinite(value)) {
        throw new RangeError(`value must be a finite number or null, got ${value}`)
      }
      const s = Math.round(t / stepMs)
      if (lastStep !== null && s <= lastStep) {
        throw new RangeError(
          `points must be pushed in time order, one per step: ${new Date(t).toISOString()} is not after ${new Date(lastStep * stepMs).toISOString()}`,
        )
      }
      if (lastStep === null || s - lastStep > statCap) {
        // First point, or a gap longer than the history kept: start afresh.
        raw.fill(Number.NaN)
        level.fill(Number.NaN)
        ref.fill(Number.NaN)
        errCount = 0
        errPos = 0
        zCount = 0
        zPos = 0
        lastLevel = Number.NaN
        advance(s)
      } else {
        // Missing steps in between are gaps.
        for (let g = lastStep + 1; g < s; g++) {
          raw[mod(g, rawCap)] = Number.NaN
          advance(g + 1)
        }
      }
      lastStep = s

      const expected = forecast(s)
      const known = !Number.isNaN(expected)
      const warm = known && errCount >= warmup
      const sc = warm ? scale(expected) : Number.NaN
      const scored = warm && value !== null
      let score = 0
      if (scored) {
        const z = (value - expected) / sc
        zs[zPos] = z
        zPos = (zPos + 1) % RUN
        if (zCount < RUN) zCount++
        score = Math.max(directed(z), runScore())
      }
      const anomaly = scored && score > threshold
      // An anomalous zero (an outage) is not learned as the new normal: neither its level nor its
      // error, so the alarm holds until the series comes back. Other anomalies are learned: a
      // level shift or a variance change becomes the new normal.
      const outage = anomaly && value === 0 && expected > 0
      if (known && value !== null && !outage) {
        addError(Math.abs(value - expected))
      }
      raw[mod(s, rawCap)] = value === null || outage ? Number.NaN : value
      advance(s + 1)
      const half = warm ? threshold * sc : Number.NaN
      return { t, value, expected, lower: expected - half, upper: expected + half, score, anomaly }
    },
  }
}
