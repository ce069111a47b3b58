/**
 * The send ledger's domain rules, written once for every backend (issue 10: dialect-free rules).
 * The SQL files name these lists; they never spell a state themselves.
 *
 * Transitions:
 *   (no row) ──claim──▶ sending ──finish──▶ sent | failed | unknown | deferred
 *   (no row) ──record─▶ suppressed | skipped | failed | deferred
 *   deferred ──claim──▶ sending     (a retry)
 *   deferred ──record─▶ any final state (the retry ended before the transport: suppressed, skipped…)
 *   sending  ──recoverInterrupted──▶ unknown (a crash: the server may have it; never resent)
 * Every other row is final: a claim or a record of it answers false.
 */
import type { FinalState, LedgerEntry, LedgerReason, SendState } from './send-ledger.ts'

/** Rows a claim takes over (a retry); any other existing row refuses the claim. */
export const CLAIMABLE: readonly SendState[] = ['deferred']
/** Rows a record may overwrite. */
export const RECORDABLE_OVER: readonly SendState[] = ['deferred']
/** Rows finish may move: only a claimed one. */
export const FINISHABLE: readonly SendState[] = ['sending']
/**
 * One message per address per campaign: an address is taken by another recipient's row in one of
 * these states. `deferred` takes it too: that recipient is retried later and will get the message.
 */
export const TAKES_ADDRESS: readonly SendState[] = ['sending', 'sent', 'unknown', 'deferred']

export const INTERRUPTED_DETAIL = 'interrupted between claim and the transport answer; not resent'

/** How long a deferred row waits: `baseMs` doubled per earlier deferral, at most `capMs`. */
export interface BackoffPolicy {
  baseMs: number
  capMs: number
}

/** One minute, doubling, at most an hour: an outage of minutes is waited out, not counted as failures. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 60_000, capMs: 3_600_000 }

/** Deferrals before a recipient is failed for good (`gave_up`); with the default backoff, ~8 hours. */
export const DEFAULT_MAX_DEFERRALS = 12

/** When a row deferred for the `deferrals`-th time (1 = first) is due again. */
export function retryAt(now: number, deferrals: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  return now + Math.min(policy.baseMs * 2 ** Math.max(deferrals - 1, 0), policy.capMs)
}

/** What a move writes, checked: a deferred row needs a retry time, no other row keeps one. */
export interface Move {
  state: SendState
  detail: string | null
  reason: LedgerReason | null
  retryAt: number | null
  /** 1 when this move defers the row (its deferral count grows), else 0. */
  deferral: 0 | 1
}

export function moveTo(
  state: FinalState | 'sending',
  detail: string | null | undefined,
  outcome: { reason?: LedgerReason; retryAt?: number } = {},
): Move {
  if (state === 'deferred' && outcome.retryAt === undefined)
    throw new Error('a deferred ledger row needs a retry time')
  return {
    state,
    detail: detail ?? null,
    reason: outcome.reason ?? null,
    retryAt: state === 'deferred' ? (outcome.retryAt ?? null) : null,
    // A hold for the recipient's local time is not a failed attempt: it does not count towards giving up.
    deferral: state === 'deferred' && outcome.reason !== 'local_time' ? 1 : 0,
  }
}

/** A ledger row as both backends select it (snake_case columns; bigint columns may come as text). */
export interface LedgerRow {
  workspace_id: string
  campaign_id: string
  recipient: string
  email: string
  state: SendState
  message_id: string
  attempts: number
  detail: string | null
  reason: string | null
  retry_at: number | string | null
  deferrals: number
  updated_at: number | string
}

export const LEDGER_COLUMNS =
  'workspace_id, campaign_id, recipient, email, state, message_id, attempts, detail, reason, retry_at, deferrals, updated_at'

export const entryOf = (r: LedgerRow): LedgerEntry => ({
  workspaceId: r.workspace_id,
  campaignId: r.campaign_id,
  recipient: r.recipient,
  email: r.email,
  state: r.state,
  messageId: r.message_id,
  attempts: r.attempts,
  detail: r.detail,
  reason: r.reason as LedgerReason | null,
  retryAt: r.retry_at === null ? null : Number(r.retry_at),
  deferrals: r.deferrals,
  updatedAt: Number(r.updated_at),
})

/**
 * Rows the first schema left `failed` after a temporary refusal ("… (after N attempts)", the
 * retry loop's words) are made `deferred`, due at once: a temporary failure is never final.
 */
export const MIGRATE_TEMPORARY_FAILURES = `UPDATE send_ledger SET state = 'deferred', reason = 'temporary',
  retry_at = 0, deferrals = 1 WHERE state = 'failed' AND detail LIKE '% attempts)'`
