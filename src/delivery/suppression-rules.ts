/**
 * The suppression rules, written once for every backend: addresses are normalised (normalizeEmail)
 * before they reach the database, something that is not an address is refused when suppressing
 * and never suppressed when asked, unknown reasons are refused, list pages are 1 to 1000 entries,
 * and a closed store refuses every call. A backend supplies only SuppressionRows (SQL and row
 * mapping) and extends SuppressionRules:
 *
 *   export class SqliteSuppressionStore extends SuppressionRules {
 *     constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) { super(new Rows(db), opts.clock) }
 *   }
 */
import { InkError } from '../core/errors.ts'
import { type Clock, systemClock } from '../core/types.ts'
import {
  hashedAddress,
  type ListOptions,
  normalizeEmail,
  type StoredReason,
  SUPPRESSION_REASONS,
  type Suppression,
  type SuppressionReason,
  type SuppressionStore,
} from './suppression-store.ts'

/** The rows of one backend; every `email` here is already normalised. */
export interface SuppressionRows {
  /** Inserts the entry unless (workspace, email, reason) exists; answers the stored entry either way. */
  insert(entry: Suppression): Promise<{ created: boolean; stored: Suppression }>
  exists(workspaceId: string, email: string): Promise<boolean>
  /** Every entry of the address, by reason. */
  entries(workspaceId: string, email: string): Promise<Suppression[]>
  /** Of `emails`, those with at least one entry, in one statement whatever their number. */
  suppressedOf(workspaceId: string, emails: readonly string[]): Promise<string[]>
  /** Entries in (email, reason) order after `after` ('' sorts first), of one reason or (null) all. */
  page(
    workspaceId: string,
    after: { email: string; reason: string },
    only: StoredReason | null,
    limit: number,
  ): Promise<Suppression[]>
  /** Removes one reason (or, undefined, every one); answers how many entries. */
  remove(workspaceId: string, email: string, reason: SuppressionReason | undefined): Promise<number>
}

/** The largest list page (and the default is 100). */
export const MAX_PAGE = 1000

/** The longest `source`: a campaign or trigger id with its prefix fits, a paragraph does not. */
export const MAX_SOURCE = 200

/** Sorts after every reason (lower-case ASCII) in both backends' binary order. */
const AFTER_EVERY_REASON = '~'

const validSource = (source: string) =>
  source.length >= 1 &&
  source.length <= MAX_SOURCE &&
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  !/[\x00-\x1f\x7f]/.test(source)

export abstract class SuppressionRules implements SuppressionStore {
  readonly #rows: SuppressionRows
  readonly #clock: Clock
  #closed = false

  constructor(rows: SuppressionRows, clock: Clock = systemClock) {
    this.#rows = rows
    this.#clock = clock
  }

  #open(): SuppressionRows {
    if (this.#closed) throw new InkError('INK_ERR_INTERNAL', 'the suppression store is closed')
    return this.#rows
  }

  async suppress(
    workspaceId: string,
    email: string,
    entry: { reason: SuppressionReason; source: string },
  ): Promise<{ created: boolean; suppression: Suppression }> {
    const rows = this.#open()
    const key = normalizeEmail(email)
    if (key === undefined)
      throw new InkError('INK_ERR_BAD_REQUEST', `"${email}" is not an email address; nothing was suppressed`)
    if (!SUPPRESSION_REASONS.includes(entry.reason))
      throw new InkError('INK_ERR_BAD_REQUEST', `unknown suppression reason "${entry.reason}"`)
    if (!validSource(entry.source))
      throw new InkError(
        'INK_ERR_BAD_REQUEST',
        `source "${entry.source}" must be 1-${MAX_SOURCE} characters without control characters`,
      )
    const { created, stored } = await rows.insert({
      workspaceId,
      email: key,
      reason: entry.reason,
      source: entry.source,
      createdAt: this.#clock.now(),
    })
    return { created, suppression: stored }
  }

  async isSuppressed(workspaceId: string, email: string): Promise<boolean> {
    const rows = this.#open()
    const key = normalizeEmail(email)
    if (key === undefined) return false
    // An erased address is held only as its hash: both keys are looked up, in one statement.
    return (await rows.suppressedOf(workspaceId, [key, hashedAddress(key)])).length > 0
  }

  async get(workspaceId: string, email: string): Promise<Suppression[]> {
    const rows = this.#open()
    const key = normalizeEmail(email)
    if (key === undefined) return []
    return [
      ...(await rows.entries(workspaceId, key)),
      ...(await rows.entries(workspaceId, hashedAddress(key))),
    ]
  }

  async suppressed(workspaceId: string, emails: readonly string[]): Promise<Set<string>> {
    const rows = this.#open()
    // Several spellings of one address are answered together.
    // An erased address is held only as its hash: each address is looked up under both keys.
    const byKey = new Map<string, string[]>()
    const add = (key: string, email: string) => {
      const same = byKey.get(key)
      if (same) same.push(email)
      else byKey.set(key, [email])
    }
    for (const email of emails) {
      const key = normalizeEmail(email)
      if (key === undefined) continue
      add(key, email)
      add(hashedAddress(key), email)
    }
    const result = new Set<string>()
    if (byKey.size === 0) return result
    for (const key of await rows.suppressedOf(workspaceId, [...byKey.keys()]))
      for (const email of byKey.get(key) ?? []) result.add(email)
    return result
  }

  async list(workspaceId: string, opts: ListOptions = {}): Promise<Suppression[]> {
    const rows = this.#open()
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 100), 1), MAX_PAGE)
    // '' sorts before every address, so no `after` means "from the start"; an `after` that is not an
    // address (a mistyped cursor) is compared as given. No reason: AFTER_EVERY_REASON sorts after
    // each reason, so the page goes on with the next address.
    const given = opts.after
    const after =
      given === undefined
        ? { email: '', reason: '' }
        : { email: normalizeEmail(given.email) ?? given.email, reason: given.reason ?? AFTER_EVERY_REASON }
    return rows.page(workspaceId, after, opts.reason ?? null, limit)
  }

  async remove(workspaceId: string, email: string, reason?: SuppressionReason): Promise<number> {
    const rows = this.#open()
    const key = normalizeEmail(email)
    return key === undefined ? 0 : rows.remove(workspaceId, key, reason)
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}

/** The table's columns, as both backends name them. */
export const SUPPRESSION_COLUMNS = 'workspace_id, email, reason, source, created_at'

export interface SuppressionRow {
  workspace_id: string
  email: string
  reason: StoredReason
  source: string
  /** INTEGER in SQLite; bigint (a string) in PostgreSQL. */
  created_at: number | string
}

export const suppressionFromRow = (r: SuppressionRow): Suppression => ({
  workspaceId: r.workspace_id,
  email: r.email,
  reason: r.reason,
  source: r.source,
  createdAt: Number(r.created_at),
})
