/**
 * The anomaly detector's speed (issue 12 goal: ≥ 10,000 points/s per series on one core), in
 * process: points/s of createDetector over a three-week labelled per-minute series (each round a
 * fresh detector, as the server's replay of the retained rollups at start), against a baseline
 * measured in the same run, interleaved: a rolling mean/stddev z-score over the last hour (O(1) a
 * point, the cheapest detector there is). Median of the rounds.
 *   npm run bench -- anomaly          (or: npx tsx bench/anomaly.ts)
 *   npx tsx bench/anomaly.ts --eval   prints the evaluation table (precision, recall, delay per type)
 */
import { createDetector } from '../src/observe/anomaly/detector.ts'
import {
  detectEpisodes,
  evaluate,
  evaluationCorpus,
  evaluationTable,
  labelledSeries,
} from '../test/observe/labelled-series.ts'
import { type BenchResult, fmt, print } from './lib/report.ts'

const ROUNDS = Number(process.env.ROUNDS ?? 9)
const GOAL = 10_000

/** The baseline: |x − mean| / stddev over the last `window` points, with running sums. */
function rollingZScore(window = 60, threshold = 5) {
  const ring = new Float64Array(window)
  let n = 0
  let pos = 0
  let sum = 0
  let sumSq = 0
  return (value: number | null): boolean => {
    if (value === null) return false
    let anomaly = false
    if (n >= 2) {
      const mean = sum / n
      const sd = Math.sqrt(Math.max((sumSq - n * mean * mean) / (n - 1), 0))
      anomaly = sd > 0 && Math.abs(value - mean) / sd > threshold
    }
    if (n === window) {
      const old = ring[pos]!
      sum -= old
      sumSq -= old * old
    } else n++
    ring[pos] = value
    sum += value
    sumSq += value * value
    pos = (pos + 1) % window
    return anomaly
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function anomaly(): Promise<BenchResult> {
  const { t, values } = labelledSeries({ seed: 1 })
  const points = t.length
  // Something the optimiser cannot drop.
  let flagged = 0
  const runDetector = () => {
    const d = createDetector()
    const t0 = performance.now()
    for (let i = 0; i < points; i++) if (d.push(t[i]!, values[i]!).anomaly) flagged++
    return points / ((performance.now() - t0) / 1000)
  }
  const runBaseline = () => {
    const z = rollingZScore()
    const t0 = performance.now()
    for (let i = 0; i < points; i++) if (z(values[i]!)) flagged++
    return points / ((performance.now() - t0) / 1000)
  }
  // Warm-up (JIT), then interleaved rounds, alternating which goes first.
  runDetector()
  runBaseline()
  const det: number[] = []
  const base: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      det.push(runDetector())
      base.push(runBaseline())
    } else {
      base.push(runBaseline())
      det.push(runDetector())
    }
  }
  const inkstream = median(det)
  const baseline = median(base)
  const twoWeeksMs = (2 * 7 * 1440 * 1000) / inkstream
  return {
    benchmark: 'anomaly',
    metric: 'points/s per series on one core (detector vs rolling z-score)',
    inkstream,
    baseline,
    ratio: inkstream / baseline,
    goal: `≥ ${fmt(GOAL)} points/s per series`,
    met: inkstream >= GOAL,
    details: {
      points,
      rounds: ROUNDS,
      detectorRounds: det.map(Math.round),
      baselineRounds: base.map(Math.round),
      replayTwoWeeksMs: twoWeeksMs,
      flagged,
    },
    summary:
      `anomaly: detector ${fmt(inkstream)} points/s per series (median of ${ROUNDS} rounds over ${fmt(points)} points), ` +
      `rolling z-score baseline ${fmt(baseline)} points/s (ratio ${(inkstream / baseline).toFixed(3)}); ` +
      `replaying two weeks of per-minute rollups takes ${twoWeeksMs.toFixed(0)} ms; ` +
      `goal ≥ ${fmt(GOAL)} points/s ${inkstream >= GOAL ? 'met' : 'NOT met'}`,
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--eval')) {
    const corpus = evaluationCorpus()
    const ev = evaluate(corpus.map((series) => ({ series, episodes: detectEpisodes(series) })))
    process.stdout.write(`${evaluationTable(ev)}\n`)
  } else {
    print(await anomaly())
  }
}
