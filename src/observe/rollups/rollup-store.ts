/**
 * The per-minute rollups of one deployment (issue 12, "Anomaly detection"): every process writes the
 * raw deltas of its own prom-client registry, one row per (minute, part, bucket, instance), and the
 * watcher and the API read them merged across instances. Raw parts (counter deltas, histogram bucket
 * counts, sums and counts) are summed in SQL, so a merge across instances is exact; the series
 * (rates, ratios, p95s) are derived from the sums afterwards (rollup-series.ts). SQLite embedded,
 * PostgreSQL scale-out.
 */

/** One raw value of one process for one minute. */
export interface RollupRow {
  /** The minute's start, epoch ms (a multiple of 60 000). */
  minute: number
  /** The raw part, e.g. `ingest_accepted`, `render` (a histogram), `cc_calls:api.example`. */
  name: string
  /** A histogram's bucket bound (`0.1`, `+Inf`), `count` or `sum`; '' for a counter. */
  le: string
  /** The process that counted it. */
  instance: string
  value: number
}

/** A minute's raw parts summed over every instance: `name` → `le` → value. */
export type MergedMinute = Map<string, Map<string, number>>

export interface RollupStore {
  /** Adds `rows` (a row already there for the same key is added to, not replaced); durable on return. */
  add(rows: readonly RollupRow[]): Promise<void>
  /** The minutes in [from, to), each summed over instances, ascending; minutes without rows are absent. */
  merged(from: number, to: number): Promise<Map<number, MergedMinute>>
  /** The earliest minute held; undefined when empty. */
  firstMinute(): Promise<number | undefined>
  /** Deletes the minutes before `minute`; answers how many rows went. */
  deleteBefore(minute: number): Promise<number>
  close(): Promise<void>
}

export const MINUTE_MS = 60_000

/** The start of the minute holding `t`. */
export const minuteOf = (t: number): number => Math.floor(t / MINUTE_MS) * MINUTE_MS

/** Folds summed rows (in any order) into minutes. */
export function toMinutes(
  rows: Iterable<{ minute: number; name: string; le: string; value: number }>,
): Map<number, MergedMinute> {
  const out = new Map<number, MergedMinute>()
  for (const r of rows) {
    let m = out.get(r.minute)
    if (!m) {
      m = new Map()
      out.set(r.minute, m)
    }
    let parts = m.get(r.name)
    if (!parts) {
      parts = new Map()
      m.set(r.name, parts)
    }
    parts.set(r.le, (parts.get(r.le) ?? 0) + r.value)
  }
  return new Map([...out.entries()].sort((a, b) => a[0] - b[0]))
}
