/**
 * The analytics consumer in a worker thread of its own (embedded mode): its reads of every log row,
 * and its commits with their fsync, stay off the HTTP thread. It reports the conversions of each
 * committed batch; the main thread counts them in its metrics.
 */
import { ConsumerThread } from '../core/consumer-thread.ts'
import type { Synchronous } from '../db/sqlite.ts'
import type { AnalyticsSettings, CountedConversion } from './analytics-consumer.ts'

/** The thread's entry lives with the composition (it opens the embedded backends). */
const WORKER = new URL('../compose/analytics-thread-main.ts', import.meta.url)

export interface AnalyticsWorkerData extends AnalyticsSettings {
  databaseFile: string
  logFile: string
  synchronous: Synchronous
  logLevel: string
  /** INKSTREAM_FAILPOINTS, parsed in this thread (tests). */
  failpoints?: string | undefined
}

/** What the analytics thread reports besides 'ready' and 'stopped'. */
export type AnalyticsWorkerMessage = { type: 'conversions'; conversions: CountedConversion[] }

export class AnalyticsThread extends ConsumerThread<AnalyticsWorkerMessage> {
  constructor(
    data: AnalyticsWorkerData,
    onConversions: (conversions: readonly CountedConversion[]) => void,
    onError: (err: unknown) => void,
  ) {
    super(WORKER, data, 'analytics', (msg) => onConversions(msg.conversions), onError)
  }
}
