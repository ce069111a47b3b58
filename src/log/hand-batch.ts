/** The batch hand-over every EventLog's consumer loop shares. */
import type { Failpoints } from '../core/failpoints.ts'
import type { LogRecord } from '../core/types.ts'
import type { BatchHandler, ConsumeOptions } from './event-log.ts'

/**
 * Hands one batch to a consumer's handler, as every EventLog does: first `onAssigned` when the
 * partitions changed (`reassigned`), then the handler, then the `log.consume.before-offset-commit`
 * failpoint. True when the batch was handled (its offsets may be committed). On a failure: report
 * it (`onError`), run `whileWaiting` (a Kafka heartbeat, so the group keeps the member), wait the
 * retry delay and answer false: the caller hands the same records again.
 */
export async function handBatch(
  records: readonly LogRecord[],
  handler: BatchHandler,
  opts: ConsumeOptions,
  h: {
    failpoints: Failpoints
    /** True when onAssigned is due; `assigned()` is called once it has resolved. */
    reassigned: boolean
    assigned(): void
    whileWaiting?: () => Promise<unknown>
  },
): Promise<boolean> {
  try {
    if (h.reassigned) {
      await opts.onAssigned?.()
      h.assigned()
    }
    await handler(records)
    await h.failpoints.hit('log.consume.before-offset-commit')
    return true
  } catch (err) {
    opts.onError?.(err)
    await h.whileWaiting?.().catch(() => {})
    await new Promise((r) => setTimeout(r, opts.retryDelayMs?.(err) ?? 500))
    return false
  }
}
