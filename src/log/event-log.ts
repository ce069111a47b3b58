/** The EventLog seam (DESIGN.md §3): append durably, consume in order from committed offsets. */
import type { InkEvent, LogRecord } from '../core/types.ts'

/** Handles one batch; the consumer commits the batch's offsets only after this resolves. */
export type BatchHandler = (records: readonly LogRecord[]) => Promise<void>

export interface ConsumeOptions {
  /** Most records handed to one handler call. */
  maxBatch?: number
  /**
   * After a batch smaller than maxBatch, read again no sooner than this long after the last read
   * began (a least interval between reads, as PostgreSQL's commit_delay): under a steady trickle,
   * small batches become fewer, larger ones (fewer commits); an event arriving after a quiet spell
   * is read at once (the consumer waits for the append, not for the interval).
   */
  lingerMs?: number
  /**
   * Commit the group's offset at most this often (0 = after every batch). For consumers that keep
   * their own applied offsets transactionally (the processor), so redelivery after a crash is harmless.
   */
  commitIntervalMs?: number
  /** Called when the handler throws; the batch is retried after a pause. */
  onError?: (err: unknown) => void
  /** That pause, ms, for this error; default 500 (e.g. shorter for a lost race, worth retrying at once). */
  retryDelayMs?: (err: unknown) => number
  /**
   * Called before the first batch, and again before the first batch after the partitions this
   * consumer owns changed (another member of the group joined or left): state the handler keeps
   * per partition (applied offsets, cached profiles) may be stale and must be reloaded. A rejection
   * counts as a failed batch (retried).
   */
  onAssigned?: () => Promise<void>
}

export interface Consumer {
  /** Stops after the batch in flight, if any, has been handled and committed. */
  close(): Promise<void>
}

/**
 * An event with its JSON already produced: the collector serializes each event once, for its size
 * check, and the log stores that same JSON instead of serializing the event again.
 */
export interface EncodedEvent {
  event: InkEvent
  /** JSON.stringify(event). */
  json: string
  /** UTF-8 length of `json`. */
  bytes: number
}

export interface EventLog {
  /**
   * Resolves once every event is durable in the log; rejects with INK_ERR_LOG_UNAVAILABLE otherwise.
   * Events may come as objects or already encoded (EncodedEvent), in one call alike.
   */
  append(events: readonly (InkEvent | EncodedEvent)[]): Promise<void>
  consume(group: string, handler: BatchHandler, opts?: ConsumeOptions): Consumer
  /** Records appended but not yet committed by `group`, summed over partitions. */
  lag(group: string): Promise<number>
  close(): Promise<void>
}
