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
  /** The message names a subscription topic the recipient left (topics/topic-store.ts). */
  | 'topic_unsubscribed'
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

/** Why a message was not sent because something failed (the `reason` of a `failed` outcome). */
export type FailReason =
  /** The template failed (a typed render error): final. */
  | 'render_error'
  /** Something the send needs could not answer (the render or a store threw): temporary. */
  | 'unavailable'
  /** The recipient's profile could not be read for a moment (a timeout, a database pause): temporary. */
  | 'profile_unreadable'
  /** The transport refused (connection refused, a 4xx before the body) after the short in-call retries: temporary. */
  | 'transport_deferred'
  /** A 5xx about the message or the session, not the mailbox: final. */
  | 'rejected'
  /** The message itself was refused before sending (a malformed address or header): final. */
  | 'invalid_message'
  /** The origin gave up retrying a temporary failure (it went on past its maximum age): final. */
  | 'expired'

/** Who asked for the message; outcomes are counted and reported per origin. */
export type DeliveryOrigin = 'campaign' | 'trigger'

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
  | { kind: 'failed'; detail: string; temporary: boolean; reason?: FailReason }
  /** The body was sent but the answer was lost: the server may have it; never resent. */
  | { kind: 'unknown'; detail: string }
  /** The address is on the suppression list. */
  | { kind: 'suppressed'; detail: string }
  | { kind: 'skipped'; reason: SkipReason; detail: string }

export type DeliveryKind = DeliveryOutcome['kind']
