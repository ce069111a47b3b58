/**
 * What delivering one message ended in, as typed values (CONVENTIONS.md: expected outcomes are
 * values; skip reasons are a union, not free text). Shared by every origin of a send (campaign,
 * trigger): the one send path returns a `DeliveryOutcome`, each origin maps it onto its own record
 * (the campaign ledger, the trigger job) and its own policy (retry later, pause, count).
 */

/** Why a message was not sent although nothing failed. */
export type SkipReason =
  /** The profile has no usable `email` trait. */
  | 'no_address'
  /** Another recipient of the same campaign already has (or may have) this address. */
  | 'address_taken'
  /** The template decided (`abort_message`). */
  | 'abort_message'
  /** The trigger was deleted between the job's creation and its due time. */
  | 'trigger_deleted'
  /** The trigger's frequency cap for this recipient is reached. */
  | 'frequency_cap'
  /** The recipient left the trigger's segment. */
  | 'not_in_segment'
  /** Another run, process or attempt already handled this recipient (a ledger row or job state exists). */
  | 'already_handled'

export type DeliveryOutcome =
  /** The server took the message. */
  | { kind: 'sent'; detail: string; attempts: number }
  /** A permanent refusal about the mailbox itself (RFC 3463 5.1.x); the address is now suppressed. */
  | { kind: 'bounced'; detail: string }
  /**
   * Not sent. `temporary`: may succeed later (the transport refused the connection, a 4xx before the
   * body, the profile could not be read for a moment): the origin retries it later with backoff and
   * never records it as failed for good. Otherwise final (a render error, a 5xx about the message).
   */
  | { kind: 'failed'; detail: string; temporary: boolean }
  /** The body was sent but the answer was lost: the server may have it; never resent. */
  | { kind: 'unknown'; detail: string }
  /** The address is on the suppression list. */
  | { kind: 'suppressed'; detail: string }
  | { kind: 'skipped'; reason: SkipReason; detail: string }

export type DeliveryKind = DeliveryOutcome['kind']
