/**
 * The detector settings of each rollup series. The detector's defaults suit a busy count (ingest,
 * opens); the others need a direction (only a rise in lag or failures is bad news, only a fall in a
 * success ratio) and a floor under the scale, because they sit at a constant most of the time: the
 * MAD of a constant series is 0, and without a floor one failed send among thousands would score
 * as infinitely anomalous (docs/anomaly-detection.md, "Per-series options").
 */
import type { DetectorOptions } from '../anomaly/detector.ts'
import { CC_SERIES_PREFIX } from '../rollups/rollup-series.ts'

/** Ratio series (0..1): a change smaller than this many σ-units of 0.02 (two points of percentage) is noise. */
const RATIO_FLOOR = 0.02

export function seriesDetectorOptions(series: string): DetectorOptions {
  if (series.startsWith(CC_SERIES_PREFIX)) return { direction: 'down', minScale: RATIO_FLOOR }
  switch (series) {
    case 'send_failure_rate':
    case 'fallback_rate':
      return { direction: 'up', minScale: RATIO_FLOOR }
    case 'pipeline_lag_p95':
    case 'render_p95':
      // Seconds: a p95 moving by less than 5 ms is not worth waking anyone.
      return { direction: 'up', minScale: 0.005 }
    default:
      // Per-minute counts (ingest, opens, clicks): a rise and a fall both matter; at least one event.
      return { minScale: 1 }
  }
}
