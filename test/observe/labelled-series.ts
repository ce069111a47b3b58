/**
 * A generator of labelled per-minute series for evaluating the anomaly detector: daily and weekly
 * seasonality, trend and noise, with injected anomalies (spikes, dips, level shifts, drops to zero,
 * variance changes) whose windows are returned as labels. Deterministic: the same seed gives the
 * same series.
 */
import { createDetector, type DetectorOptions } from '../../src/observe/anomaly/detector.ts'
import { EpisodeTracker } from '../../src/observe/anomaly/episodes.ts'

export type AnomalyType = 'spike' | 'dip' | 'level-shift' | 'drop-to-zero' | 'variance-change'
export const ANOMALY_TYPES: readonly AnomalyType[] = [
  'spike',
  'dip',
  'level-shift',
  'drop-to-zero',
  'variance-change',
]

export interface Label {
  type: AnomalyType
  /** Index of the first anomalous point. */
  start: number
  /** Index after the last point of the window (a level shift's window is its first levelShiftWindow points). */
  end: number
}

export interface LabelledSeries {
  seed: number
  t: number[]
  values: (number | null)[]
  labels: Label[]
}

export interface SeriesSpec {
  seed: number
  /** Points (minutes); default three weeks. */
  length?: number
  /** Epoch ms of the first point; default Monday 2026-01-05T00:00Z. */
  start?: number
  base?: number
  /** Daily amplitude relative to the level (0.5 ⇒ ±50 %). */
  dailyAmplitude?: number
  /** Level on Saturday and Sunday relative to weekdays. */
  weekendFactor?: number
  /** Relative level change per week (0.1 ⇒ +10 % a week). */
  trendPerWeek?: number
  /** Noise standard deviation relative to the level. */
  noise?: number
  /** Fraction of minutes with no data. */
  missing?: number
  /** Anomalies to inject (default one of each type per ~2 days after the first hours). */
  anomalies?: number
  /** No anomaly before this index (default 120: the detector must be useful after an hour or two). */
  quietStart?: number
  /** Types to draw from (default all). */
  types?: readonly AnomalyType[]
}

export const LEVEL_SHIFT_WINDOW = 30
const MINUTE = 60_000

/** mulberry32: a small, fast, seeded PRNG with a 2^32 period. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function gaussian(rand: () => number): () => number {
  return () => {
    const u = 1 - rand()
    const v = rand()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
}

const isWeekend = (time: number) => {
  const dow = new Date(time).getUTCDay()
  return dow === 0 || dow === 6
}

/** The weekly factor: `weekend` on Saturday and Sunday, 1 on weekdays, ramped over 3 hours around midnight. */
function weekendLevel(time: number, weekend: number): number {
  const ramp = 90 * MINUTE
  const before = isWeekend(time - ramp) ? weekend : 1
  const after = isWeekend(time + ramp) ? weekend : 1
  if (before === after) return before
  const midnight = Math.round(time / (1440 * MINUTE)) * 1440 * MINUTE
  const x = (time - (midnight - ramp)) / (2 * ramp)
  return before + (after - before) * x
}

/** A labelled series from a spec. */
export function labelledSeries(spec: SeriesSpec): LabelledSeries {
  const rand = prng(spec.seed)
  const gauss = gaussian(rand)
  const n = spec.length ?? 3 * 7 * 1440
  const t0 = spec.start ?? Date.UTC(2026, 0, 5)
  const base = spec.base ?? 1000
  const amp = spec.dailyAmplitude ?? 0.5
  const weekend = spec.weekendFactor ?? 0.6
  const trend = spec.trendPerWeek ?? 0.1
  const noise = spec.noise ?? 0.03
  const missing = spec.missing ?? 0.002
  const quietStart = spec.quietStart ?? 120
  const types = spec.types ?? ANOMALY_TYPES
  const count = spec.anomalies ?? Math.floor(n / 1440)

  // Place anomalies in equal slots, each at a random offset, so they never overlap.
  const labels: Label[] = []
  const slot = Math.floor((n - quietStart) / Math.max(count, 1))
  for (let k = 0; k < count; k++) {
    const type = types[Math.floor(rand() * types.length)]!
    const len =
      type === 'spike'
        ? 1 + Math.floor(rand() * 3)
        : type === 'dip'
          ? 10 + Math.floor(rand() * 50)
          : type === 'level-shift'
            ? LEVEL_SHIFT_WINDOW
            : type === 'drop-to-zero'
              ? 30 + Math.floor(rand() * 90)
              : 60 + Math.floor(rand() * 120)
    const from = quietStart + k * slot
    const start = from + Math.floor(rand() * Math.max(1, slot - len - 240))
    labels.push({ type, start, end: Math.min(n, start + len) })
  }

  const t: number[] = []
  const values: (number | null)[] = []
  let shift = 1
  const spikeSize = new Map<number, number>()
  const labelAt = new Int32Array(n).fill(-1)
  labels.forEach((l, i) => {
    for (let j = l.start; j < l.end; j++) labelAt[j] = i
    if (l.type === 'spike') spikeSize.set(i, (7 + rand() * 5) * (rand() < 0.8 ? 1 : -1))
    if (l.type === 'dip') spikeSize.set(i, 0.35 + rand() * 0.3)
    if (l.type === 'level-shift') spikeSize.set(i, rand() < 0.5 ? 1.25 + rand() * 0.25 : 0.6 + rand() * 0.15)
    if (l.type === 'variance-change') spikeSize.set(i, 5 + rand() * 2)
  })
  for (let i = 0; i < n; i++) {
    const time = t0 + i * MINUTE
    t.push(time)
    const minuteOfDay = (time / MINUTE) % 1440
    const daily = 1 + amp * Math.sin((2 * Math.PI * (minuteOfDay - 360)) / 1440)
    const weekly = weekendLevel(time, weekend)
    const li = labelAt[i]!
    const label = li >= 0 ? labels[li]! : undefined
    if (label?.type === 'level-shift' && i === label.start) shift *= spikeSize.get(li)!
    const level = base * shift * daily * weekly * (1 + (trend * i) / (7 * 1440))
    const sigma = noise * level
    let v = level + sigma * gauss()
    if (label?.type === 'spike') v = level + sigma * spikeSize.get(li)!
    if (label?.type === 'dip') v = level * spikeSize.get(li)! + sigma * gauss()
    if (label?.type === 'drop-to-zero') v = 0
    if (label?.type === 'variance-change') v = level + sigma * spikeSize.get(li)! * gauss()
    // A missing minute only outside the labelled windows, so each label has its points.
    values.push(label === undefined && rand() < missing ? null : Math.max(0, v))
  }
  return { seed: spec.seed, t, values, labels }
}

/** The evaluation corpus: ten three-week series, with different shapes, noise and trends. */
export function evaluationCorpus(): LabelledSeries[] {
  const specs: SeriesSpec[] = [
    ...[1, 2, 3, 4, 5, 6].map((seed) => ({ seed })),
    { seed: 7, noise: 0.05, dailyAmplitude: 0.8 },
    { seed: 8, trendPerWeek: -0.15, weekendFactor: 0.4 },
    { seed: 9, dailyAmplitude: 0, weekendFactor: 1, trendPerWeek: 0 },
    { seed: 10, base: 20, noise: 0.02, missing: 0.02 },
  ]
  return specs.map(labelledSeries)
}

/** Runs a detector and an episode tracker over a series; the episodes by index. */
export function detectEpisodes(
  series: LabelledSeries,
  opts: DetectorOptions = {},
  quietPoints?: number,
): FoundEpisode[] {
  const detector = createDetector(opts)
  const tracker = new EpisodeTracker('eval', quietPoints === undefined ? {} : { quietPoints })
  const found: FoundEpisode[] = []
  const index = new Map<number, number>()
  for (let i = 0; i < series.t.length; i++) index.set(series.t[i]!, i)
  let open: FoundEpisode | null = null
  for (let i = 0; i < series.t.length; i++) {
    const { started, ended } = tracker.update(detector.push(series.t[i]!, series.values[i]!))
    if (ended !== undefined && open !== null) {
      open.end = index.get(ended.endedAt!)!
      open.peakScore = ended.peakScore
      open = null
    }
    if (started !== undefined) {
      open = { start: i, end: series.t.length, peakScore: started.peakScore }
      found.push(open)
    }
  }
  return found
}

/** Episodes of the detector over a series (start and end indexes; end exclusive, n when still open). */
export interface FoundEpisode {
  start: number
  end: number
  peakScore: number
}

export interface TypeScore {
  type: AnomalyType
  labelled: number
  detected: number
  recall: number
  /** Points from the window's start to the first episode's start, over the detected windows. */
  meanDelay: number
  maxDelay: number
  /** Episodes overlapping a window (widened by the tolerance), on average: 1 is one alert per anomaly. */
  episodesPerWindow: number
}

export interface Evaluation {
  series: number
  points: number
  labelled: number
  detected: number
  episodes: number
  falsePositives: number
  precision: number
  recall: number
  byType: TypeScore[]
}

/**
 * Event-level scores: a labelled window is detected when an episode starts within it or within
 * `tolerance` points after it; an episode overlapping no labelled window (widened by the tolerance)
 * is a false positive.
 */
export function evaluate(
  runs: readonly { series: LabelledSeries; episodes: readonly FoundEpisode[] }[],
  tolerance = 5,
): Evaluation {
  const perType = new Map<AnomalyType, { labelled: number; delays: number[]; overlapping: number }>()
  for (const type of ANOMALY_TYPES) perType.set(type, { labelled: 0, delays: [], overlapping: 0 })
  let labelled = 0
  let detected = 0
  let episodes = 0
  let falsePositives = 0
  for (const { series, episodes: found } of runs) {
    for (const label of series.labels) {
      const entry = perType.get(label.type)!
      entry.labelled++
      labelled++
      entry.overlapping += found.filter((e) => e.start < label.end + tolerance && e.end > label.start).length
      const hit = found.find((e) => e.start >= label.start && e.start < label.end + tolerance)
      if (hit !== undefined) {
        detected++
        entry.delays.push(hit.start - label.start)
      }
    }
    for (const e of found) {
      episodes++
      const overlaps = series.labels.some((l) => e.start < l.end + tolerance && e.end > l.start)
      if (!overlaps) falsePositives++
    }
  }
  const byType = ANOMALY_TYPES.map((type) => {
    const { labelled: n, delays, overlapping } = perType.get(type)!
    return {
      type,
      labelled: n,
      detected: delays.length,
      recall: n === 0 ? 1 : delays.length / n,
      meanDelay: delays.length === 0 ? 0 : delays.reduce((a, b) => a + b, 0) / delays.length,
      maxDelay: delays.length === 0 ? 0 : Math.max(...delays),
      episodesPerWindow: n === 0 ? 0 : overlapping / n,
    }
  })
  return {
    series: runs.length,
    points: runs.reduce((a, r) => a + r.series.t.length, 0),
    labelled,
    detected,
    episodes,
    falsePositives,
    precision: episodes === 0 ? 1 : (episodes - falsePositives) / episodes,
    recall: labelled === 0 ? 1 : detected / labelled,
    byType,
  }
}

/** The evaluation as a Markdown table, one row per anomaly type and one overall. */
export function evaluationTable(ev: Evaluation): string {
  const rows = ev.byType.map(
    (r) =>
      `| ${r.type} | ${r.labelled} | ${r.detected} | ${r.recall.toFixed(3)} | ${r.meanDelay.toFixed(1)} | ${r.maxDelay} | ${r.episodesPerWindow.toFixed(2)} |`,
  )
  return [
    `${ev.series} series, ${ev.points} points; ${ev.episodes} episodes, ${ev.falsePositives} false positives.`,
    '',
    '| anomaly type | labelled | detected | recall | mean delay (points) | max delay (points) | episodes per anomaly |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    `| **overall** | ${ev.labelled} | ${ev.detected} | ${ev.recall.toFixed(3)} | precision **${ev.precision.toFixed(3)}** | | |`,
  ].join('\n')
}
