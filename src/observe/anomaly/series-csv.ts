/**
 * The backtesting input: a CSV of `timestamp,value` rows (docs/anomaly-detection.md).
 * A header line is optional; a timestamp is ISO-8601 with a zone (`Z` or `±hh:mm`) or epoch
 * seconds or milliseconds (numbers ≥ 1e11 are milliseconds); an empty value is a missing minute.
 * Rows must be in time order. Every bad row is reported with its line number, all at once.
 */

export interface SeriesRow {
  /** 1-based line number in the input. */
  line: number
  /** The timestamp as written. */
  timestamp: string
  /** Epoch ms. */
  t: number
  value: number | null
}

export interface SeriesCsvError {
  line: number
  message: string
}

export interface ParsedSeries {
  rows: SeriesRow[]
  errors: SeriesCsvError[]
}

/** Epoch numbers at or above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const MS_FROM = 1e11
/** The latest time a Date holds (ECMAScript: 8.64e15 ms after the epoch). */
const MAX_DATE_MS = 8.64e15
const EPOCH = /^\d+(\.\d+)?$/
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i
const ZONE = /(Z|[+-]\d{2}:?\d{2})$/i
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/** Epoch ms of a timestamp field, or an error message. */
export function parseTimestamp(text: string): number | string {
  if (EPOCH.test(text)) {
    const n = Number(text)
    const ms = n >= MS_FROM ? n : n * 1000
    // Past what a Date can hold (±8.64e15 ms), a number of hundreds of digits reads as Infinity.
    return ms <= MAX_DATE_MS ? ms : `timestamp "${text}" is past the year 275760`
  }
  if (!ISO.test(text)) return `timestamp "${text}" is neither ISO-8601 nor epoch seconds/milliseconds`
  // A date alone is midnight UTC (as Date.parse reads it); a date and time needs its zone.
  if (text.length > 10 && !ZONE.test(text)) {
    return `timestamp "${text}" has no time zone; add Z or an offset such as +02:00`
  }
  const t = Date.parse(text)
  return Number.isNaN(t) ? `timestamp "${text}" is not a valid date` : t
}

/** Parses the whole input; rows with errors are left out of rows. */
export function parseSeriesCsv(text: string, stepMs = 60_000): ParsedSeries {
  const rows: SeriesRow[] = []
  const errors: SeriesCsvError[] = []
  const lines = text.split(/\r?\n/)
  let lastStep: number | null = null
  let seenData = false
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1
    const content = lines[i]!.trim()
    if (content === '') continue
    const fields = content.split(',').map((f) => f.trim())
    const first = !seenData
    seenData = true
    if (fields.length !== 2) {
      errors.push({ line, message: `expected 2 fields (timestamp,value), found ${fields.length}` })
      continue
    }
    const [ts, raw] = fields as [string, string]
    const t = parseTimestamp(ts)
    if (typeof t === 'string') {
      // Only the first line may be a header, and only when its value field is not a number either.
      if (first && !NUMBER.test(raw)) continue
      errors.push({ line, message: t })
      continue
    }
    let value: number | null = null
    if (raw !== '') {
      if (!NUMBER.test(raw) || !Number.isFinite(Number(raw))) {
        errors.push({ line, message: `value "${raw}" is not a number (leave it empty for a missing minute)` })
        continue
      }
      value = Number(raw)
    }
    const step = Math.round(t / stepMs)
    if (lastStep !== null && step <= lastStep) {
      errors.push({
        line,
        message: `timestamp ${ts} is not after the previous row's (rows must be in time order, one per ${stepMs / 1000} s step)`,
      })
      continue
    }
    lastStep = step
    rows.push({ line, timestamp: ts, t, value })
  }
  return { rows, errors }
}
