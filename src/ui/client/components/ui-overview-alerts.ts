/** Anomaly alerts as /v1/anomalies shows them, and which overview chart shows each series. */
import { href } from '../router.ts'

export interface AlertView {
  id: string
  series: string
  state: 'active' | 'ended'
  startedAt: string
  endedAt: string | null
  expected: { lower: number; upper: number }
  observed: number
  peakScore: number
}

/** Which chart shows the anomalies of a rollup series. */
export function chartOfSeries(series: string): string {
  if (series.startsWith('cc_success_ratio:')) return 'cc'
  const charts: Record<string, string> = {
    ingest_rate: 'ingest',
    pipeline_lag_p95: 'lag',
    render_p95: 'render',
    fallback_rate: 'fallbacks',
    send_failure_rate: 'sends',
    open_rate: 'engagement',
    click_rate: 'engagement',
  }
  return charts[series] ?? 'ingest'
}

/** The overview link for an alert's series. */
export const overviewHref = (series: string): string =>
  `${href('overview')}?series=${encodeURIComponent(series)}`
