/**
 * The AudienceResolver seam: turns a campaign's stored audience into recipients. The default one
 * knows `{ userIds }`; `{ segment }` is an extension point: pass `segmentMembers` (the segments
 * domain plugs in there) and segment audiences work without other changes.
 */
import { InkError, notFound } from '../core/errors.ts'
import type { Recipient } from './campaign-runner.ts'
import type { Audience } from './campaign-store.ts'

export interface AudienceResolver {
  /**
   * Throws INK_ERR_NOT_FOUND for a segment that does not exist, and INK_ERR_AUDIENCE_UNSUPPORTED
   * when this server cannot resolve such an audience at all.
   */
  check(workspaceId: string, audience: Audience): void | Promise<void>
  /** Recipients in a stable order; `email` is '' for a profile without an `email` trait (→ skipped). */
  resolve(workspaceId: string, audience: Audience): Promise<Recipient[]>
}

export interface ProfileAudienceDeps {
  /** The profile's `email` trait; undefined when there is none. Throws when the profile cannot be read. */
  lookupEmail(workspaceId: string, userId: string): Promise<string | undefined>
  /** userIds of a segment's members; absent until segments exist. */
  segmentMembers?: (workspaceId: string, segment: string) => Promise<string[]>
  /** Whether a segment exists; with it, a campaign to a missing segment is refused at save and start. */
  hasSegment?: (workspaceId: string, segment: string) => Promise<boolean>
}

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

  async resolve(workspaceId: string, audience: Audience): Promise<Recipient[]> {
    await this.check(workspaceId, audience)
    const userIds =
      'segment' in audience
        ? await (this.deps.segmentMembers as NonNullable<ProfileAudienceDeps['segmentMembers']>)(
            workspaceId,
            audience.segment,
          )
        : audience.userIds
    const recipients: Recipient[] = []
    for (const userId of new Set(userIds)) {
      recipients.push({ userId, email: (await this.deps.lookupEmail(workspaceId, userId)) ?? '' })
    }
    return recipients
  }
}
