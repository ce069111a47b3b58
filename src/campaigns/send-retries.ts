/**
 * What the campaign runner does with a transport's answer. The retry and the bounce rule are the one
 * send path's (src/delivery/send-retries.ts), re-exported here for the runner; `ledgerState` maps a
 * transport answer onto a ledger state.
 */
import type { SendOutcome } from '../delivery/transport.ts'
import type { FinalState } from './send-ledger.ts'

export {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_DELAY_MS,
  isRecipientBounce,
  type RetryPolicy,
  sendWithRetries,
} from '../delivery/send-retries.ts'

/** The ledger's final state for the last outcome, and its detail (the server's words). */
export function ledgerState(outcome: SendOutcome, attempts: number): [FinalState, string] {
  switch (outcome.outcome) {
    case 'sent':
      return ['sent', outcome.response]
    case 'invalid':
      return ['failed', `invalid ${outcome.field}: ${outcome.message}`]
    case 'permanent':
      return ['failed', `${outcome.code} ${outcome.message}`]
    case 'temporary':
      return outcome.accepted === 'unknown'
        ? ['unknown', `the server may have the message: ${outcome.message}`]
        : ['failed', `${outcome.code ?? 'no reply'} ${outcome.message} (after ${attempts} attempts)`]
  }
}
