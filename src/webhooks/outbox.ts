/**
 * The open webhook's outbox (issue 11): one row per open to deliver, written durably when the open
 * is recorded and sent later by the dispatcher (webhook-dispatcher.ts), so an image request never
 * waits on the receiver. The seam every backend implements (SQLite embedded, PostgreSQL scale-out);
 * the rules are written once in outbox-rules.ts.
 *
 * States: pending → delivered (a 2xx) | failed (still failing 24 h after the first attempt).
 * A pending row is retried with exponential backoff; while an attempt is in flight the row stays
 * `pending` with `nextAttemptAt` at the end of the claim's lease (a crash mid-attempt makes it due
 * again then).
 */
import type { InkEvent } from '../core/types.ts'

export const DELIVERY_STATES = ['pending', 'delivered', 'failed'] as const
export type DeliveryState = (typeof DELIVERY_STATES)[number]

/**
 * What a delivery is about, and so which receiver gets it: `open` (the open webhook, per recorded
 * open) or `alert` (an anomaly episode's start or end, src/observe/alerts). Each kind has its own
 * dispatcher (its own URL and secret); the rows, retries and signature are the same.
 */
export const DELIVERY_KINDS = ['open', 'alert'] as const
export type DeliveryKind = (typeof DELIVERY_KINDS)[number]

/** A message to deliver: its body is `{ id, type, createdAt, workspaceId, ...data }`. */
export interface OutboxMessage {
  workspaceId: string
  kind: DeliveryKind
  /** Idempotency key within the workspace (an open's messageId, an alert's id and transition). */
  key: string
  /** The body's `type`, e.g. `email.opened`, `anomaly.started`. */
  type: string
  /** The rest of the body. */
  data: Record<string, unknown>
}

export interface WebhookDelivery {
  /** Sortable by creation time (the clock's milliseconds, then random): the `Inkstream-Delivery` header. */
  id: string
  workspaceId: string
  kind: DeliveryKind
  /** The open event's messageId (an alert's key): a re-delivered open makes no second row. */
  eventId: string
  /** The exact JSON body POSTed (and signed) on every attempt. */
  payload: string
  state: DeliveryState
  /** Attempts started so far (a claim counts one). */
  attempts: number
  /** When the next attempt may start (epoch ms); for a delivered or failed row, the last value it had. */
  nextAttemptAt: number
  firstAttemptAt: number | null
  lastAttemptAt: number | null
  /** The HTTP status of the last attempt; null when it got none (timeout, network error) or none ran. */
  lastStatus: number | null
  /** Why the last attempt failed; null after a success or before any attempt. Never holds the secret. */
  lastError: string | null
  createdAt: number
  deliveredAt: number | null
}

/** What one attempt came to. */
export type AttemptResult = { ok: true; status: number } | { ok: false; status: number | null; error: string }

export interface DeliveryListOptions {
  state?: DeliveryState
  /** 1..1001 (the API's largest page, 1000, and one more), default 100. */
  limit?: number
  /** Only deliveries older than this id (the last id of the previous page). */
  after?: string
}

export interface WebhookOutbox {
  /**
   * Stores one delivery of the open `event` for its workspace; resolves once durable. Idempotent per
   * (workspace, messageId): a second call answers the first row with `created: false`.
   */
  enqueue(event: InkEvent): Promise<{ created: boolean; delivery: WebhookDelivery }>
  /** Stores one delivery of any kind; idempotent per (workspace, key) like enqueue(). */
  enqueueMessage(message: OutboxMessage): Promise<{ created: boolean; delivery: WebhookDelivery }>
  /**
   * Claims up to `limit` due pending rows of `kind` (default `open`) for one attempt each: counts the
   * attempt and moves the row's next attempt to the end of a lease, so no other dispatcher (another
   * process) claims it meanwhile.
   */
  claim(limit: number, kind?: DeliveryKind): Promise<WebhookDelivery[]>
  /**
   * Records the outcome of the attempt `claimed` (as claim() returned it): delivered, pending again
   * after a backoff, or failed. Undefined when the claim was lost (the lease ran out and another
   * dispatcher claimed the row since): nothing is written.
   */
  record(claimed: WebhookDelivery, result: AttemptResult): Promise<WebhookDelivery | undefined>
  /** A workspace's deliveries, newest first (by id), optionally of one state. */
  list(workspaceId: string, opts?: DeliveryListOptions): Promise<WebhookDelivery[]>
  get(workspaceId: string, id: string): Promise<WebhookDelivery | undefined>
  /** The earliest next attempt of a pending row of `kind` (default `open`, any workspace); undefined when none is pending. */
  nextDueAt(kind?: DeliveryKind): Promise<number | undefined>
  /**
   * Deletes delivered and failed rows created before `before` (epoch ms); pending ones stay whatever
   * their age. Answers how many. A deleted row no longer dedupes its key: keep rows at least as long
   * as an event may be consumed again (the log's retention).
   */
  prune(before: number): Promise<number>
  close(): Promise<void>
}
