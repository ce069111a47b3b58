/**
 * The AudienceResolver seam: turns a campaign's stored audience into recipients, page by page, so a
 * campaign's memory does not grow with its audience (listmonk's manager does the same,
 * `NextSubscribers`). `{ segment }` pages come straight from the segment's member rows, which carry
 * the address; `{ userIds }` pages read each profile's address, a page at a time.
 */
import { InkError, notFound } from '../core/errors.ts'
import type { Audience } from './campaign-store.ts'

export interface Recipient {
  userId: string
  /** '' for a profile without an `email` trait (→ skipped). */
  email: string
  /** Set when the profile could not be read just now: the recipient is retried later, not skipped. */
  unreadable?: string
  /** The recipient already has a ledger row (a resume): nothing was read for it, nothing is sent. */
  handled?: true
}

/** Which of these recipients already have a ledger row (one query per page). */
export type HandledFilter = (userIds: readonly string[]) => Promise<Set<string>>

/** One member row of a segment, as the segment store pages them (by profileId). */
export interface MemberRow {
  profileId: string
  userId: string | null
  email: string | null
}

export interface SegmentMembers {
  /** Members ordered by profileId, after `after`. */
  page(workspaceId: string, segment: string, page: { after?: string; limit: number }): Promise<MemberRow[]>
  /** How many members; absent when the store cannot count them in one query. */
  count?(workspaceId: string, segment: string): Promise<number>
}

export interface AudienceResolver {
  /**
   * Throws INK_ERR_NOT_FOUND for a segment that does not exist, and INK_ERR_AUDIENCE_UNSUPPORTED
   * when this server cannot resolve such an audience at all.
   */
  check(workspaceId: string, audience: Audience): void | Promise<void>
  /**
   * Recipients in a stable order, one page at a time; each userId once. With `handled`, recipients
   * that already have a ledger row come marked `handled` and nothing more is read for them (a
   * resume does not read the profiles of those it sent to).
   */
  pages(
    workspaceId: string,
    audience: Audience,
    opts?: { handled?: HandledFilter },
  ): AsyncIterable<Recipient[]>
  /** How many recipients the audience has; undefined when that needs reading it whole. */
  count(workspaceId: string, audience: Audience): Promise<number | undefined>
  /** One recipient again, with its address as of now (a deferred recipient's retry). */
  recipient(workspaceId: string, userId: string): Promise<Recipient>
}

export interface ProfileAudienceDeps {
  /** The profile's `email` trait; undefined when there is none. Throws when the profile cannot be read. */
  lookupEmail(workspaceId: string, userId: string): Promise<string | undefined>
  /** A segment's member rows, page by page; absent until segments exist. */
  segmentMembers?: SegmentMembers
  /** Whether a segment exists; with it, a campaign to a missing segment is refused at save and start. */
  hasSegment?: (workspaceId: string, segment: string) => Promise<boolean>
  /** Recipients a page; default 1000 (segments) and 100 (userIds, whose addresses are read one by one). */
  pageSize?: number
}

const SEGMENT_PAGE = 1000
const PROFILE_PAGE = 100

export class ProfileAudienceResolver implements AudienceResolver {
  constructor(private readonly deps: ProfileAudienceDeps) {}

  async check(workspaceId: string, audience: Audience): Promise<void> {
    if (!('segment' in audience)) return
    if (this.deps.segmentMembers === undefined)
      throw new InkError(
        'INK_ERR_AUDIENCE_UNSUPPORTED',
        'this server cannot resolve segment audiences; use { "userIds": [...] }',
      )
    if (this.deps.hasSegment && !(await this.deps.hasSegment(workspaceId, audience.segment)))
      throw notFound(`segment "${audience.segment}"`)
  }

  async *pages(
    workspaceId: string,
    audience: Audience,
    opts: { handled?: HandledFilter } = {},
  ): AsyncIterable<Recipient[]> {
    await this.check(workspaceId, audience)
    const handled = opts.handled ?? (async () => new Set<string>())
    if ('segment' in audience) yield* this.#segmentPages(workspaceId, audience.segment, handled)
    else yield* this.#profilePages(workspaceId, audience.userIds, handled)
  }

  async count(workspaceId: string, audience: Audience): Promise<number | undefined> {
    if (!('segment' in audience)) return new Set(audience.userIds).size
    return this.deps.segmentMembers?.count?.(workspaceId, audience.segment)
  }

  async recipient(workspaceId: string, userId: string): Promise<Recipient> {
    try {
      return { userId, email: (await this.deps.lookupEmail(workspaceId, userId)) ?? '' }
    } catch (err) {
      return { userId, email: '', unreadable: err instanceof Error ? err.message : String(err) }
    }
  }

  async *#segmentPages(
    workspaceId: string,
    segment: string,
    handled: HandledFilter,
  ): AsyncIterable<Recipient[]> {
    const members = this.deps.segmentMembers as SegmentMembers
    const limit = this.deps.pageSize ?? SEGMENT_PAGE
    for (let after: string | undefined; ; ) {
      const rows = await members.page(workspaceId, segment, {
        ...(after === undefined ? {} : { after }),
        limit,
      })
      // Anonymous members (no userId) have no profile to send to; a member row carries the address.
      const page = rows.flatMap((m) =>
        m.userId === null ? [] : [{ userId: m.userId, email: m.email ?? '' }],
      )
      const done = await handled(page.map((r) => r.userId))
      if (page.length > 0) yield page.map((r) => (done.has(r.userId) ? { ...r, handled: true as const } : r))
      if (rows.length < limit) return
      after = rows[rows.length - 1]?.profileId
    }
  }

  async *#profilePages(
    workspaceId: string,
    userIds: readonly string[],
    handled: HandledFilter,
  ): AsyncIterable<Recipient[]> {
    const limit = this.deps.pageSize ?? PROFILE_PAGE
    const unique = [...new Set(userIds)]
    for (let i = 0; i < unique.length; i += limit) {
      const ids = unique.slice(i, i + limit)
      const done = await handled(ids)
      yield await Promise.all(
        ids.map((id) =>
          done.has(id) ? { userId: id, email: '', handled: true as const } : this.recipient(workspaceId, id),
        ),
      )
    }
  }
}
