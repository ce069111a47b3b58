/**
 * `inkstream anomalies detect --input series.csv` — backtest the anomaly detector the server runs
 * (createDetector) on a CSV of `timestamp,value` rows, so a team can tune the threshold on its own
 * history. `--series <name>` starts from the settings the server gives that rollup series
 * (seriesDetectorOptions: a direction and a floor under the scale for ratios and latencies); without
 * it, the detector's defaults (those of the count series). The other options override either. Prints one CSV line per row:
 * `timestamp,value,expected,lower,upper,score,anomaly` (anomaly 1 or 0; empty where unknown),
 * and a summary (rows, anomalous points, episodes) on stderr.
 * Exit code 2 for bad usage or bad rows (each reported with its line number), before any output.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { seriesDetectorOptions } from '../observe/alerts/series-options.ts'
import { createDetector, type DetectorOptions, type Verdict } from '../observe/anomaly/detector.ts'
import { EpisodeTracker } from '../observe/anomaly/episodes.ts'
import { parseSeriesCsv } from '../observe/anomaly/series-csv.ts'
import { BASE_SERIES, CC_SERIES_PREFIX } from '../observe/rollups/rollup-series.ts'

export const ANOMALIES_USAGE = `usage: inkstream anomalies detect --input <series.csv|-> [--series name] [--threshold n]
                                  [--direction both|up|down] [--min-scale n] [--step seconds]
                                  [--quiet-points n] [--only-anomalies]`

/** Errors shown before giving up (the rest are counted). */
const MAX_ERRORS = 20

const num = (x: number): string => (Number.isFinite(x) ? String(Number(x.toPrecision(6))) : '')

/** One output line for a row. */
export function formatVerdict(timestamp: string, v: Verdict): string {
  const value = v.value === null ? '' : num(v.value)
  return `${timestamp},${value},${num(v.expected)},${num(v.lower)},${num(v.upper)},${num(v.score)},${v.anomaly ? 1 : 0}`
}

function numberOption(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n < min)
    throw new UsageError(`--${name} must be a number ≥ ${min}, got "${text}"`)
  return n
}

class UsageError extends Error {}

interface Io {
  stdout: (s: string) => void
  stderr: (s: string) => void
  readInput: (path: string) => string
}

const processIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  readInput: (path) => readFileSync(path === '-' ? 0 : path, 'utf8'),
}

/** Runs `inkstream anomalies <args>`; resolves with the exit code. */
export async function anomalies(args: string[], io: Io = processIo): Promise<number> {
  try {
    return detect(args, io)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr(`${err.message}\n${ANOMALIES_USAGE}\n`)
    return 2
  }
}

function detect(args: string[], io: Io): number {
  let parsed: ReturnType<typeof parseOptions>
  try {
    parsed = parseOptions(args)
  } catch (err) {
    throw err instanceof UsageError ? err : new UsageError((err as Error).message)
  }
  const { values, positionals } = parsed
  if (positionals[0] !== 'detect' || positionals.length !== 1) {
    throw new UsageError(`unknown anomalies command "${positionals.join(' ')}"`)
  }
  if (values.input === undefined) throw new UsageError('--input is required')
  const series = values.series
  const known = (name: string) =>
    (BASE_SERIES as readonly string[]).includes(name) ||
    (name.startsWith(CC_SERIES_PREFIX) && name.length > CC_SERIES_PREFIX.length)
  if (series !== undefined && !known(series))
    throw new UsageError(
      `--series must name a rollup series (${BASE_SERIES.join(', ')}, ${CC_SERIES_PREFIX}<source>), got "${series}"`,
    )
  // The server's settings for that series, or the detector's defaults; the options below override.
  const opts: DetectorOptions = series === undefined ? {} : { ...seriesDetectorOptions(series) }
  const threshold = numberOption('threshold', values.threshold, 0)
  if (threshold !== undefined) opts.threshold = threshold
  const minScale = numberOption('min-scale', values['min-scale'], 0)
  if (minScale !== undefined) opts.minScale = minScale
  const step = numberOption('step', values.step, 1)
  if (step !== undefined) {
    if (!Number.isInteger(step))
      throw new UsageError(`--step must be a whole number of seconds, got "${values.step}"`)
    opts.stepMs = step * 1000
  }
  const direction = values.direction
  if (direction !== undefined) {
    if (direction !== 'both' && direction !== 'up' && direction !== 'down') {
      throw new UsageError(`--direction must be both, up or down, got "${direction}"`)
    }
    opts.direction = direction
  }
  const quiet = numberOption('quiet-points', values['quiet-points'], 1)
  if (quiet !== undefined && !Number.isInteger(quiet))
    throw new UsageError('--quiet-points must be a whole number')

  let text: string
  try {
    text = io.readInput(values.input)
  } catch (err) {
    throw new UsageError(`cannot read ${values.input}: ${(err as Error).message}`)
  }
  const { rows, errors } = parseSeriesCsv(text, opts.stepMs)
  if (errors.length > 0) {
    for (const e of errors.slice(0, MAX_ERRORS)) io.stderr(`${values.input}:${e.line}: ${e.message}\n`)
    if (errors.length > MAX_ERRORS) io.stderr(`… and ${errors.length - MAX_ERRORS} more bad rows\n`)
    io.stderr(`${errors.length} bad row${errors.length === 1 ? '' : 's'}; nothing was scored\n`)
    return 2
  }

  const detector = createDetector(opts)
  const tracker = new EpisodeTracker('input', quiet === undefined ? {} : { quietPoints: quiet })
  const out: string[] = ['timestamp,value,expected,lower,upper,score,anomaly']
  let anomalous = 0
  let episodes = 0
  for (const row of rows) {
    const v = detector.push(row.t, row.value)
    if (tracker.update(v).started !== undefined) episodes++
    if (v.anomaly) anomalous++
    if (!values['only-anomalies'] || v.anomaly) out.push(formatVerdict(row.timestamp, v))
    if (out.length >= 4096) {
      io.stdout(`${out.join('\n')}\n`)
      out.length = 0
    }
  }
  if (out.length > 0) io.stdout(`${out.join('\n')}\n`)
  io.stderr(`${rows.length} rows, ${anomalous} anomalous points, ${episodes} episodes\n`)
  return 0
}

function parseOptions(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      input: { type: 'string', short: 'i' },
      series: { type: 'string' },
      threshold: { type: 'string' },
      direction: { type: 'string' },
      'min-scale': { type: 'string' },
      step: { type: 'string' },
      'quiet-points': { type: 'string' },
      'only-anomalies': { type: 'boolean' },
    },
  })
}
