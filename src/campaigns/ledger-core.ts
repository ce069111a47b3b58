/**
 * The SendLedger with its rules (ledger-rules.ts) over a backend that only runs SQL: both
 * SqliteSendLedger and PgSendLedger are a LedgerSql plus this class, so a rule lives in one place.
 */
import { InkError } from '../core/errors.ts'
import { type Failpoints, noFailpoints } from '../core/failpoints.ts'
import type { Clock } from '../core/types.ts'
import {
  CLAIMABLE,
  FINISHABLE,
  INTERRUPTED_DETAIL,
  type Move,
  moveTo,
  RECORDABLE_OVER,
  TAKES_ADDRESS,
} from './ledger-rules.ts'
import {
  emptyCounts,
  type FinalState,
  type LedgerEntry,
  type LedgerKey,
  type LedgerPage,
  type LedgerReason,
  type Outcome,
  type SendLedger,
  type SendState,
  type StateCounts,
} from './send-ledger.ts'

/** What a backend answers: plain SQL over its table, no rule of its own. */
export interface LedgerSql {
  /** INSERT … ON CONFLICT DO NOTHING; true when the row was inserted. */
  insert(key: LedgerKey, email: string, messageId: string, move: Move, now: number): Promise<boolean>
  /** Moves the row if its state is in `from`; answers the number of rows changed (0 or 1). */
  move(key: LedgerKey, from: readonly SendState[], move: Move, now: number): Promise<number>
  /** attempts + 1 if the row is in `from`. */
  attempt(key: LedgerKey, from: readonly SendState[], now: number): Promise<void>
  get(key: LedgerKey): Promise<LedgerEntry | undefined>
  page(workspaceId: string, campaignId: string, page: LedgerPage): Promise<LedgerEntry[]>
  handled(workspaceId: string, campaignId: string, recipients: readonly string[]): Promise<string[]>
  addressTaken(key: LedgerKey, email: string, states: readonly SendState[]): Promise<boolean>
  nextRetryAt(workspaceId: string, campaignId: string): Promise<number | undefined>
  /** Deferred rows with `reason`: how many, and their latest retry time (null when none). */
  deferredFor(
    workspaceId: string,
    campaignId: string,
    reason: LedgerReason,
  ): Promise<{ n: number; last: number | null }>
  /** Moves every row in `sending` (of processes that are gone) with `move`; answers their recipients. */
  recover(workspaceId: string, campaignId: string, move: Move, now: number): Promise<string[]>
  counts(workspaceId: string, campaignId: string): Promise<{ state: SendState; n: number }[]>
}

export class LedgerCore implements SendLedger {
  #closed = false

  constructor(
    private readonly sql: LedgerSql,
    private readonly clock: Clock,
    private readonly failpoints: Failpoints = noFailpoints,
  ) {}

  #open(): void {
    if (this.#closed) throw new InkError('INK_ERR_INTERNAL', 'the send ledger is closed')
  }

  #now(): number {
    this.#open()
    return this.clock.now()
  }

  async claim(key: LedgerKey, email: string, messageId: string): Promise<boolean> {
    const now = this.#now()
    const move = moveTo('sending', null)
    const claimed =
      (await this.sql.insert(key, email, messageId, move, now)) ||
      (await this.sql.move(key, CLAIMABLE, move, now)) === 1
    if (claimed) await this.failpoints.hit('ledger.after-claim')
    return claimed
  }

  /** The parameters are SendLedger's (send-ledger.ts documents them). */
  async record(...[key, email, messageId, state, detail, outcome]: Parameters<SendLedger['record']>) {
    const now = this.#now()
    const move = moveTo(state, detail, outcome)
    return (
      (await this.sql.insert(key, email, messageId, move, now)) ||
      (await this.sql.move(key, RECORDABLE_OVER, move, now)) === 1
    )
  }

  async attempt(key: LedgerKey): Promise<void> {
    await this.sql.attempt(key, FINISHABLE, this.#now())
  }

  async finish(
    key: LedgerKey,
    state: FinalState,
    detail?: string,
    outcome?: Omit<Outcome, 'detail'>,
  ): Promise<void> {
    await this.failpoints.hit('ledger.before-record')
    const changed = await this.sql.move(key, FINISHABLE, moveTo(state, detail, outcome), this.#now())
    if (changed !== 1)
      throw new InkError(
        'INK_ERR_INTERNAL',
        `no claimed send for "${key.recipient}" in campaign "${key.campaignId}"; finish needs a claim`,
      )
  }

  async get(key: LedgerKey): Promise<LedgerEntry | undefined> {
    this.#open()
    return this.sql.get(key)
  }

  async addressTaken(key: LedgerKey, email: string): Promise<boolean> {
    this.#open()
    return this.sql.addressTaken(key, email, TAKES_ADDRESS)
  }

  async list(workspaceId: string, campaignId: string): Promise<LedgerEntry[]> {
    this.#open()
    return this.sql.page(workspaceId, campaignId, { limit: Number.MAX_SAFE_INTEGER })
  }

  async page(workspaceId: string, campaignId: string, page: LedgerPage): Promise<LedgerEntry[]> {
    this.#open()
    return this.sql.page(workspaceId, campaignId, page)
  }

  async handled(
    workspaceId: string,
    campaignId: string,
    recipients: readonly string[],
  ): Promise<Set<string>> {
    this.#open()
    if (recipients.length === 0) return new Set()
    return new Set(await this.sql.handled(workspaceId, campaignId, recipients))
  }

  async nextRetryAt(workspaceId: string, campaignId: string): Promise<number | undefined> {
    this.#open()
    return this.sql.nextRetryAt(workspaceId, campaignId)
  }

  async held(workspaceId: string, campaignId: string): Promise<{ count: number; until?: number }> {
    this.#open()
    const { n, last } = await this.sql.deferredFor(workspaceId, campaignId, 'local_time')
    return last === null ? { count: n } : { count: n, until: last }
  }

  async recoverInterrupted(workspaceId: string, campaignId: string): Promise<string[]> {
    const move = moveTo('unknown', INTERRUPTED_DETAIL, { reason: 'interrupted' })
    return this.sql.recover(workspaceId, campaignId, move, this.#now())
  }

  async counts(workspaceId: string, campaignId: string): Promise<StateCounts> {
    this.#open()
    const counts = emptyCounts()
    for (const { state, n } of await this.sql.counts(workspaceId, campaignId)) counts[state] = n
    return counts
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}
