/**
 * The short, in-call retry of one send, shared by every origin (deliver.ts), and which permanent
 * refusals are about the mailbox itself (a hard bounce, suppressed).
 *
 * Only a temporary failure where the server certainly does not have the message (`accepted: 'no'`:
 * a 4xx before the body, a refused or dropped connection) is sent again, with the same message (so
 * the same Message-ID), after `retryDelayMs`, doubled for each next attempt. `accepted: 'unknown'`
 * (a failure after the body) is never retried: the server may have the message. What is still
 * refused after the last attempt is the origin's to retry later, over minutes (a trigger job goes back
 * to `pending` with a backoff; a campaign keeps the row for its resume).
 */
import type { OutgoingMessage, SendOutcome } from './transport.ts'

export type Sleep = (ms: number) => Promise<void>

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export const DEFAULT_MAX_ATTEMPTS = 3
export const DEFAULT_RETRY_DELAY_MS = 200

export interface RetryPolicy {
  /** Sends per message, the first included. */
  maxAttempts: number
  /** Delay before the first retry, doubled for each next one. */
  retryDelayMs: number
  sleep: Sleep
}

/** Sends until an outcome that is not retryable or the attempts run out; `beforeAttempt` runs before each. */
export async function sendWithRetries(
  send: (message: OutgoingMessage) => Promise<SendOutcome>,
  message: OutgoingMessage,
  policy: RetryPolicy,
  beforeAttempt?: () => Promise<void>,
): Promise<{ outcome: SendOutcome; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    await beforeAttempt?.()
    const outcome = await send(message)
    const retryable = outcome.outcome === 'temporary' && outcome.accepted === 'no'
    if (!retryable || attempt >= policy.maxAttempts) return { outcome, attempts: attempt }
    await policy.sleep(policy.retryDelayMs * 2 ** (attempt - 1))
  }
}

/** A 5xx about the mailbox itself (RFC 3463 5.1.x: bad address), not about the message or policy. */
export function isRecipientBounce(outcome: SendOutcome): boolean {
  if (outcome.outcome !== 'permanent') return false
  const enhanced = /\b5\.(\d{1,3})\.(\d{1,3})\b/.exec(outcome.message)
  if (enhanced) return enhanced[1] === '1' || (enhanced[1] === '2' && enhanced[2] === '1')
  return outcome.code === 550 || outcome.code === 551 || outcome.code === 553
}
