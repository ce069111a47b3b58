/**
 * Anomaly alerts (issue 12): one row per episode of one series (start, end, the expected range and the
 * observed value at its start, the peak score), and the watcher's watermark (the last minute it has
 * acted on), so a restart or another process taking over acts on every minute once. An alert's id is
 * `<series>@<start, epoch ms>`: the same episode found again (a replay) is the same row.
 */

export interface Alert {
  id: string
  series: string
  startedAt: number
  /** Null while the episode lasts. */
  endedAt: number | null
  expectedLower: number
  expectedUpper: number
  observed: number
  peakScore: number
}

export const ALERT_STATES = ['active', 'ended'] as const
export type AlertState = (typeof ALERT_STATES)[number]

export interface AlertListOptions {
  state?: AlertState
  series?: string
  /** Default 100. */
  limit?: number
}

export interface AlertStore {
  /** Stores the alert unless its id exists; answers whether it did. */
  insert(alert: Alert): Promise<boolean>
  /**
   * Ends the active alert `id` (raising its peak score to `peakScore` if higher); answers the row as it
   * is afterwards (`changed` false when it had already ended), undefined when there is no such alert.
   */
  end(id: string, endedAt: number, peakScore: number): Promise<{ alert: Alert; changed: boolean } | undefined>
  /** Newest first (by start, then id). */
  list(opts?: AlertListOptions): Promise<Alert[]>
  /** Deletes the episodes that ended before `before` (epoch ms); active ones are kept. Answers how many. */
  deleteEndedBefore(before: number): Promise<number>
  /** The last minute the watcher acted on; undefined before its first. */
  watermark(): Promise<number | undefined>
  setWatermark(minute: number): Promise<void>
  close(): Promise<void>
}

export const alertId = (series: string, startedAt: number): string => `${series}@${startedAt}`

export const ALERT_COLUMNS =
  'id, series, started_at, ended_at, expected_lower, expected_upper, observed, peak_score'

type Int = number | string
export interface AlertRow {
  id: string
  series: string
  started_at: Int
  ended_at: Int | null
  expected_lower: number
  expected_upper: number
  observed: number
  peak_score: number
}

export const alertFromRow = (r: AlertRow): Alert => ({
  id: r.id,
  series: r.series,
  startedAt: Number(r.started_at),
  endedAt: r.ended_at === null ? null : Number(r.ended_at),
  expectedLower: Number(r.expected_lower),
  expectedUpper: Number(r.expected_upper),
  observed: Number(r.observed),
  peakScore: Number(r.peak_score),
})

export const alertValues = (a: Alert): unknown[] => [
  a.id,
  a.series,
  a.startedAt,
  a.endedAt,
  a.expectedLower,
  a.expectedUpper,
  a.observed,
  a.peakScore,
]

export const listLimit = (opts: AlertListOptions): number =>
  Math.min(Math.max(Math.trunc(opts.limit ?? 100), 1), 1000)
