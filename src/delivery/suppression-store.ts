/**
 * The suppression list: per workspace, the addresses that must not be mailed, and why.
 *
 * An address may be suppressed for several reasons at once (unsubscribed and, later, bounced); each
 * reason is its own entry with its own source and time, so clearing a bounce never clears an
 * unsubscribe. An address is suppressed while it has at least one entry.
 */
import { createHash } from 'node:crypto'
import { domainToASCII } from 'node:url'

/** The reasons an address may be suppressed for through the API and the send path. */
export type SuppressionReason = 'unsubscribed' | 'bounced' | 'complained'

export const SUPPRESSION_REASONS: readonly SuppressionReason[] = ['unsubscribed', 'bounced', 'complained']

/**
 * The reason of the entry an erasure (GDPR Art. 17, src/privacy/) leaves: its key is the address's
 * hash (hashedAddress), never the address. Only an erasure writes it.
 */
export const ERASED = 'erased'

/** Every reason an entry may carry: the settable ones and `erased`. */
export type StoredReason = SuppressionReason | typeof ERASED

export const STORED_REASONS: readonly StoredReason[] = [...SUPPRESSION_REASONS, ERASED]

/** The prefix of a hashed key: it never parses as an address (no `@`), so it cannot collide with one. */
export const HASH_PREFIX = 'sha256:'

/**
 * The key an erased address is suppressed under: SHA-256 of its normalised form, hex. The send path
 * checks an address's normalised key and this hash alike, so an erased address stays unmailable
 * without the list holding it.
 */
export const hashedAddress = (normalized: string): string =>
  `${HASH_PREFIX}${createHash('sha256').update(normalized).digest('hex')}`

export interface Suppression {
  workspaceId: string
  /** The normalised address (see normalizeEmail), or for an `erased` entry its hash (hashedAddress). */
  email: string
  reason: StoredReason
  /**
   * What led to it: the campaign or trigger whose message bounced or was unsubscribed from, or what
   * an operator's call named (`api` by default, `manual`, an import's name).
   */
  source: string
  /** Epoch milliseconds of the first suppression for this reason. */
  createdAt: number
}

export interface ListOptions {
  /** At most this many entries (default 100, at most 1000). */
  limit?: number
  /**
   * Only entries after this one in (email, reason) order: pass the last entry of the previous page.
   * The address may be given in any spelling; without a reason, every entry of that address is passed.
   */
  after?: { email: string; reason?: StoredReason | undefined }
  reason?: StoredReason
}

export interface SuppressionStore {
  /**
   * Suppresses an address for a reason. Idempotent: suppressing again for the same reason keeps the
   * first entry (its source and time) and answers `created: false`. Throws INK_ERR_BAD_REQUEST for
   * something that is not an address.
   */
  suppress(
    workspaceId: string,
    email: string,
    entry: { reason: SuppressionReason; source: string },
  ): Promise<{ created: boolean; suppression: Suppression }>
  /** True when the address has an entry, under its normalised key or (erased) its hash. */
  isSuppressed(workspaceId: string, email: string): Promise<boolean>
  /** The subscription state of one address: every entry it has (its hash's too), empty when it may be mailed. */
  get(workspaceId: string, email: string): Promise<Suppression[]>
  /**
   * For a campaign's audience: the members of `emails` (as given, not normalised) that are suppressed.
   * Strings that are not addresses are never in the result.
   */
  suppressed(workspaceId: string, emails: readonly string[]): Promise<Set<string>>
  /** Entries of a workspace in (email, reason) order. */
  list(workspaceId: string, opts?: ListOptions): Promise<Suppression[]>
  /**
   * Removes one reason, or every reason when none is given; answers how many entries were removed.
   * An `erased` entry is keyed by the hash, not the address: removing by address leaves it.
   */
  remove(workspaceId: string, email: string, reason?: SuppressionReason): Promise<number>
  close(): Promise<void>
}

const MAX_ADDRESS = 254

/**
 * The key an address is stored under, or undefined for something that is not an address: trimmed,
 * the domain in lower-case ASCII (IDNA), and the local part lower-cased too. RFC 5321 lets a server
 * treat local parts case-sensitively, but practically none does, and for a suppression list merging
 * two spellings errs on the safe side: it can only stop mail, never send mail someone refused.
 * Dots and +tags are kept: they can name different mailboxes.
 */
export function normalizeEmail(raw: string): string | undefined {
  const text = raw.trim()
  const at = text.lastIndexOf('@')
  if (at <= 0 || at === text.length - 1) return undefined
  const local = text.slice(0, at).toLowerCase()
  // Whitespace, controls and angle brackets: a display name or a header fragment, not an address.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\s\x00-\x1f\x7f<>]/.test(local)) return undefined
  const domain = domainToASCII(text.slice(at + 1).replace(/\.$/, ''))
  if (domain === '' || !domain.includes('.') || /[^a-z0-9.-]/.test(domain)) return undefined
  const email = `${local}@${domain}`
  return email.length <= MAX_ADDRESS ? email : undefined
}
