/**
 * The SendLedger seam: one row per (workspace, campaign, recipient), written before a message is
 * handed to the transport. It is what makes a campaign at-most-once per recipient: a recipient with a
 * row is never sent to again, except a `deferred` row (a temporary failure, the server certainly
 * does not have the message), which is claimed again when it is retried.
 *
 * Crash semantics: a row in `sending` means the process died between `claim` and the transport's
 * answer. The server may or may not have the message, so `recoverInterrupted` turns such rows into
 * `unknown` and they are NOT resent (a duplicate is worse than a missing message for a campaign).
 *
 * The rules (which state may follow which, which rows take an address) are written once, in
 * ledger-rules.ts / ledger-core.ts; the SQLite and PostgreSQL files keep only SQL and row mapping.
 */
import type { FailReason, SkipReason } from '../delivery/outcome.ts'

export const SEND_STATES = [
  'sending',
  'sent',
  'failed',
  'unknown',
  'suppressed',
  'skipped',
  'deferred',
] as const
export type SendState = (typeof SEND_STATES)[number]
/** The states a row ends in; `sending` only lasts while the transport has the message. */
export type FinalState = Exclude<SendState, 'sending'>

/** Why a row is in its state, as a value (the detail keeps the server's or the template's words). */
export type LedgerReason =
  | SkipReason
  /** A failed send's own reason (render_error, rejected, transport_deferred, profile_unreadable…). */
  | FailReason
  /** A 5xx about the mailbox itself: the address is now suppressed. */
  | 'bounced'
  /** A permanent failure about the message (a 5xx, an invalid field, a render error). */
  | 'permanent'
  /** A temporary failure; the row is `deferred` and retried later. */
  | 'temporary'
  /** Still temporary after the campaign's last retry. */
  | 'gave_up'
  /** The body was sent, the answer lost: the server may have the message. */
  | 'maybe_delivered'
  /** A crash between the claim and the transport's answer. */
  | 'interrupted'
  | 'suppressed'
  /** Held (`deferred`) until the recipient's local send time (a campaign's `sendAt`); not a failure. */
  | 'local_time'

export interface LedgerEntry {
  workspaceId: string
  campaignId: string
  recipient: string
  email: string
  state: SendState
  messageId: string
  attempts: number
  detail: string | null
  reason: LedgerReason | null
  /** When a `deferred` row is due again (ms since the epoch); null in every other state. */
  retryAt: number | null
  /** How many times the row was deferred. */
  deferrals: number
  updatedAt: number
}

export interface LedgerKey {
  workspaceId: string
  campaignId: string
  recipient: string
}

export type StateCounts = Record<SendState, number>

/** What a final state carries besides the state. */
export interface Outcome {
  detail?: string
  reason?: LedgerReason
  /** Required for `deferred`: when the row is due again. */
  retryAt?: number
}

export interface LedgerPage {
  /** Only rows in this state. */
  state?: SendState
  /** Rows whose recipient sorts after this one (keyset). */
  after?: string
  limit: number
  /** With state `deferred`: only rows due by then. */
  dueBy?: number
}

export interface SendLedger {
  /**
   * Atomically records `sending` for a recipient that has no row yet, or takes over its `deferred`
   * row. Answers false when another row exists: the caller must not send.
   */
  claim(key: LedgerKey, email: string, messageId: string): Promise<boolean>
  /**
   * Records a final state for a recipient that has no row yet, or whose row is `deferred`
   * (suppressed, skipped, a render failure, a profile that could not be read).
   */
  record(
    key: LedgerKey,
    email: string,
    messageId: string,
    state: FinalState,
    detail?: string,
    outcome?: Omit<Outcome, 'detail'>,
  ): Promise<boolean>
  /** Counts one more attempt at the transport for a claimed row. */
  attempt(key: LedgerKey): Promise<void>
  /** Sets the final state of a claimed row. */
  finish(key: LedgerKey, state: FinalState, detail?: string, outcome?: Omit<Outcome, 'detail'>): Promise<void>
  get(key: LedgerKey): Promise<LedgerEntry | undefined>
  /** True when another recipient of this campaign was sent (or may be sent) to `email`. */
  addressTaken(key: LedgerKey, email: string): Promise<boolean>
  /** Every row of a campaign, by recipient. */
  list(workspaceId: string, campaignId: string): Promise<LedgerEntry[]>
  /** One page of a campaign's rows, by recipient. */
  page(workspaceId: string, campaignId: string, page: LedgerPage): Promise<LedgerEntry[]>
  /** Which of `recipients` have a row (any state): one query for a page of the audience. */
  handled(workspaceId: string, campaignId: string, recipients: readonly string[]): Promise<Set<string>>
  /** Recipients held for their local send time (`deferred`, reason `local_time`), and when the last one is due. */
  held(workspaceId: string, campaignId: string): Promise<{ count: number; until?: number }>
  /** The earliest retry time of the campaign's `deferred` rows; undefined when there is none. */
  nextRetryAt(workspaceId: string, campaignId: string): Promise<number | undefined>
  /** Rows left in `sending` by a crash become `unknown` (never resent); answers their recipients. */
  recoverInterrupted(workspaceId: string, campaignId: string): Promise<string[]>
  counts(workspaceId: string, campaignId: string): Promise<StateCounts>
  close(): Promise<void>
}

export const emptyCounts = (): StateCounts => ({
  sending: 0,
  sent: 0,
  failed: 0,
  unknown: 0,
  suppressed: 0,
  skipped: 0,
  deferred: 0,
})
