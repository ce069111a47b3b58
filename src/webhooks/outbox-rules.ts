/**
 * The outbox rules, written once for every backend: the delivery id and body, the claim's lease,
 * the backoff (30 s doubling, jittered down by up to 20 %, capped at 1 h), giving up 24 h after the
 * first attempt, the fence that keeps a late outcome from overwriting a newer claim, list pages of
 * 1 to 1000, and a closed outbox refusing every call. A backend supplies only OutboxRows (SQL and
 * row mapping) and extends OutboxRules:
 *
 *   export class SqliteWebhookOutbox extends OutboxRules {
 *     constructor(db: SqliteDatabase, opts: OutboxOptions = {}) { super(sqliteRows(db), opts) }
 *   }
 */
import { randomBytes } from 'node:crypto'
import { InkError } from '../core/errors.ts'
import { type Clock, type InkEvent, systemClock } from '../core/types.ts'
import type {
  AttemptResult,
  DeliveryKind,
  DeliveryListOptions,
  DeliveryState,
  OutboxMessage,
  WebhookDelivery,
  WebhookOutbox,
} from './outbox.ts'

export interface RetryPolicy {
  /** Delay after the first failed attempt, doubled after each next one; default 30 s. */
  backoffMs: number
  /** The longest delay; default 1 h. */
  maxBackoffMs: number
  /** Each delay is shortened by up to this fraction, at random, so retries spread out; default 0.2. */
  jitter: number
  /** A row still failing this long after its first attempt is `failed`; default 24 h. */
  maxAgeMs: number
  /** How long a claimed row is kept from other dispatchers; longer than an attempt's timeout. Default 60 s. */
  leaseMs: number
}

export const DEFAULT_RETRY: RetryPolicy = {
  backoffMs: 30_000,
  maxBackoffMs: 3_600_000,
  jitter: 0.2,
  maxAgeMs: 24 * 3_600_000,
  leaseMs: 60_000,
}

export interface OutboxOptions {
  clock?: Clock
  retry?: Partial<RetryPolicy>
  /** [0, 1): the jitter's randomness (tests pin it). Default Math.random. */
  random?: () => number
}

/** What an attempt's outcome writes over a claimed row. */
export interface Settle {
  state: DeliveryState
  nextAttemptAt: number
  lastStatus: number | null
  lastError: string | null
  deliveredAt: number | null
}

/** The rows of one backend. */
export interface OutboxRows {
  /** Inserts unless (workspace, eventId) exists; answers whether it did. */
  insert(d: WebhookDelivery): Promise<boolean>
  byEvent(workspaceId: string, eventId: string): Promise<WebhookDelivery | undefined>
  /**
   * Atomically, for up to `limit` pending rows with next_attempt_at ≤ now (earliest first) that no
   * other caller is claiming: attempts + 1, first_attempt_at if null := now, last_attempt_at := now,
   * next_attempt_at := leaseUntil. Answers the rows as updated.
   */
  claim(now: number, leaseUntil: number, limit: number, kind: DeliveryKind): Promise<WebhookDelivery[]>
  /** Writes `change` if the row is still pending with `attempts` (the claim's fence); the row, else undefined. */
  settle(id: string, attempts: number, change: Settle): Promise<WebhookDelivery | undefined>
  /** Rows of a workspace by id descending, below `before` ('' = from the newest), of one state or (null) all. */
  page(
    workspaceId: string,
    state: DeliveryState | null,
    before: string | null,
    limit: number,
  ): Promise<WebhookDelivery[]>
  get(workspaceId: string, id: string): Promise<WebhookDelivery | undefined>
  nextDueAt(kind: DeliveryKind): Promise<number | undefined>
  /** Deletes up to `limit` delivered or failed rows with id < `beforeId` (older ones first); answers how many. */
  prune(beforeId: string, limit: number): Promise<number>
}

/** Rows deleted per statement by prune(): short write transactions, whatever the backlog. */
export const PRUNE_BATCH = 1000

/** The largest page the API shows (and the default is 100); list() takes one more, to tell whether there is a next page. */
export const MAX_PAGE = 1000

/** The event type receivers see in the body. */
export const OPENED_TYPE = 'email.opened'

/** `<epoch ms, base36, 10 wide>-<12 hex>`: ids sort by creation time, then at random within a millisecond. */
export const deliveryId = (now: number): string =>
  `${now.toString(36).padStart(10, '0')}-${randomBytes(6).toString('hex')}`

/** The delay before the attempt after `attempts` failed ones (attempts ≥ 1). */
export function backoffMs(attempts: number, policy: RetryPolicy, random: () => number): number {
  const full = Math.min(policy.backoffMs * 2 ** Math.max(attempts - 1, 0), policy.maxBackoffMs)
  return Math.round(full * (1 - policy.jitter * random()))
}

/**
 * What a claimed row becomes after an attempt at `now`: delivered on success; otherwise pending again
 * after the backoff (never later than 24 h after the first attempt, so the last try lands there), or
 * failed once that deadline has come.
 */
export function afterAttempt(
  claimed: WebhookDelivery,
  result: AttemptResult,
  now: number,
  policy: RetryPolicy,
  random: () => number,
): Settle {
  if (result.ok)
    return {
      state: 'delivered',
      nextAttemptAt: now,
      lastStatus: result.status,
      lastError: null,
      deliveredAt: now,
    }
  const deadline = (claimed.firstAttemptAt ?? now) + policy.maxAgeMs
  const failed = { lastStatus: result.status, lastError: result.error, deliveredAt: null }
  if (now >= deadline) return { state: 'failed', nextAttemptAt: now, ...failed }
  const next = Math.min(now + backoffMs(claimed.attempts, policy, random), deadline)
  return { state: 'pending', nextAttemptAt: next, ...failed }
}

export abstract class OutboxRules implements WebhookOutbox {
  readonly #rows: OutboxRows
  readonly #clock: Clock
  readonly #policy: RetryPolicy
  readonly #random: () => number
  #closed = false

  constructor(rows: OutboxRows, opts: OutboxOptions = {}) {
    this.#rows = rows
    this.#clock = opts.clock ?? systemClock
    this.#policy = { ...DEFAULT_RETRY, ...opts.retry }
    this.#random = opts.random ?? Math.random
  }

  #open(): OutboxRows {
    if (this.#closed) throw new InkError('INK_ERR_INTERNAL', 'the webhook outbox is closed')
    return this.#rows
  }

  async enqueue(event: InkEvent): Promise<{ created: boolean; delivery: WebhookDelivery }> {
    const { workspaceId, messageId } = event
    if (!workspaceId || !messageId)
      throw new InkError('INK_ERR_INTERNAL', 'an open event needs a workspaceId and a messageId')
    return this.enqueueMessage({
      workspaceId,
      kind: 'open',
      key: messageId,
      type: OPENED_TYPE,
      data: { event },
    })
  }

  async enqueueMessage(m: OutboxMessage): Promise<{ created: boolean; delivery: WebhookDelivery }> {
    const rows = this.#open()
    const { workspaceId, key } = m
    const now = this.#clock.now()
    const id = deliveryId(now)
    const payload = JSON.stringify({
      id,
      type: m.type,
      createdAt: new Date(now).toISOString(),
      workspaceId,
      ...m.data,
    })
    const delivery: WebhookDelivery = {
      id,
      workspaceId,
      kind: m.kind,
      eventId: key,
      payload,
      state: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      firstAttemptAt: null,
      lastAttemptAt: null,
      lastStatus: null,
      lastError: null,
      createdAt: now,
      deliveredAt: null,
    }
    if (await rows.insert(delivery)) return { created: true, delivery }
    const stored = await rows.byEvent(workspaceId, key)
    if (!stored) throw new InkError('INK_ERR_INTERNAL', `delivery ${key} conflicted but was not found`)
    return { created: false, delivery: stored }
  }

  async prune(before: number): Promise<number> {
    const rows = this.#open()
    // Ids start with their creation time (deliveryId): every id below this one was created before.
    const beforeId = before.toString(36).padStart(10, '0')
    let total = 0
    for (;;) {
      const n = await rows.prune(beforeId, PRUNE_BATCH)
      total += n
      if (n < PRUNE_BATCH) return total
    }
  }

  async claim(limit: number, kind: DeliveryKind = 'open'): Promise<WebhookDelivery[]> {
    const rows = this.#open()
    const now = this.#clock.now()
    return rows.claim(now, now + this.#policy.leaseMs, Math.max(1, Math.trunc(limit)), kind)
  }

  async record(claimed: WebhookDelivery, result: AttemptResult): Promise<WebhookDelivery | undefined> {
    const rows = this.#open()
    const change = afterAttempt(claimed, result, this.#clock.now(), this.#policy, this.#random)
    return rows.settle(claimed.id, claimed.attempts, change)
  }

  async list(workspaceId: string, opts: DeliveryListOptions = {}): Promise<WebhookDelivery[]> {
    const rows = this.#open()
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 100), 1), MAX_PAGE + 1)
    return rows.page(workspaceId, opts.state ?? null, opts.after ?? null, limit)
  }

  async get(workspaceId: string, id: string): Promise<WebhookDelivery | undefined> {
    return this.#open().get(workspaceId, id)
  }

  async nextDueAt(kind: DeliveryKind = 'open'): Promise<number | undefined> {
    return this.#open().nextDueAt(kind)
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}

/** The table's columns, as both backends name them. */
export const DELIVERY_COLUMNS =
  'id, workspace_id, kind, event_id, payload, state, attempts, next_attempt_at, first_attempt_at, last_attempt_at, last_status, last_error, created_at, delivered_at'

type Int = number | string
export interface DeliveryRow {
  id: string
  workspace_id: string
  kind: DeliveryKind
  event_id: string
  payload: string
  state: DeliveryState
  attempts: number
  /** INTEGER in SQLite; bigint (a string) in PostgreSQL. */
  next_attempt_at: Int
  first_attempt_at: Int | null
  last_attempt_at: Int | null
  last_status: number | null
  last_error: string | null
  created_at: Int
  delivered_at: Int | null
}

const orNull = (v: Int | null): number | null => (v === null ? null : Number(v))

export const deliveryFromRow = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id,
  workspaceId: r.workspace_id,
  kind: r.kind,
  eventId: r.event_id,
  payload: r.payload,
  state: r.state,
  attempts: Number(r.attempts),
  nextAttemptAt: Number(r.next_attempt_at),
  firstAttemptAt: orNull(r.first_attempt_at),
  lastAttemptAt: orNull(r.last_attempt_at),
  lastStatus: r.last_status === null ? null : Number(r.last_status),
  lastError: r.last_error,
  createdAt: Number(r.created_at),
  deliveredAt: orNull(r.delivered_at),
})

/** The values of one delivery in DELIVERY_COLUMNS order. */
export const deliveryValues = (d: WebhookDelivery): unknown[] => [
  d.id,
  d.workspaceId,
  d.kind,
  d.eventId,
  d.payload,
  d.state,
  d.attempts,
  d.nextAttemptAt,
  d.firstAttemptAt,
  d.lastAttemptAt,
  d.lastStatus,
  d.lastError,
  d.createdAt,
  d.deliveredAt,
]
