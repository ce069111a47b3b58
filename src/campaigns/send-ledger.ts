/**
 * The SendLedger seam: one row per (workspace, campaign, recipient), written before a message is
 * handed to the transport. It is what makes a campaign at-most-once per recipient: a recipient with a
 * row is never sent to again, whatever state the row is in.
 *
 * Crash semantics: a row in `sending` means the process died between `claim` and the transport's
 * answer. The server may or may not have the message, so `recoverInterrupted` turns such rows into
 * `unknown` and they are NOT resent (a duplicate is worse than a missing message for a campaign).
 */

export const SEND_STATES = ['sending', 'sent', 'failed', 'unknown', 'suppressed', 'skipped'] as const
export type SendState = (typeof SEND_STATES)[number]
/** The states a row ends in; `sending` only lasts while the transport has the message. */
export type FinalState = Exclude<SendState, 'sending'>

export interface LedgerEntry {
  workspaceId: string
  campaignId: string
  recipient: string
  email: string
  state: SendState
  messageId: string
  attempts: number
  detail: string | null
  updatedAt: number
}

export interface LedgerKey {
  workspaceId: string
  campaignId: string
  recipient: string
}

export type StateCounts = Record<SendState, number>

export interface SendLedger {
  /**
   * Atomically records `sending` for a recipient that has no row yet. Answers false when a row
   * exists: the caller must not send.
   */
  claim(key: LedgerKey, email: string, messageId: string): Promise<boolean>
  /** Records a final state for a recipient that has no row yet (suppressed, skipped, a render failure). */
  record(
    key: LedgerKey,
    email: string,
    messageId: string,
    state: FinalState,
    detail?: string,
  ): Promise<boolean>
  /** Counts one more attempt at the transport for a claimed row. */
  attempt(key: LedgerKey): Promise<void>
  /** Sets the final state of a claimed row. */
  finish(key: LedgerKey, state: FinalState, detail?: string): Promise<void>
  get(key: LedgerKey): Promise<LedgerEntry | undefined>
  /** True when another recipient of this campaign was sent (or may have been sent) to `email`. */
  addressTaken(key: LedgerKey, email: string): Promise<boolean>
  /** Every row of a campaign, by recipient. */
  list(workspaceId: string, campaignId: string): Promise<LedgerEntry[]>
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
})
