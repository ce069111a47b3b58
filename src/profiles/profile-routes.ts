/**
 * The profile admin API: a profile by id (traits evaluated now), a search by userId, anonymousId or
 * email, and what the dashboard's profile page shows of one: recent events, segment memberships,
 * messages with their outcome and engagement. Every read is indexed; none scans the event log.
 */
import type { FastifyInstance } from 'fastify'
import type { AnalyticsStore } from '../analytics/analytics-store.ts'
import { originOf } from '../analytics/engagement-rules.ts'
import { InkError, notFound } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import { adminScope } from '../http/admin-scope.ts'
import type { SegmentStore } from '../segments/segment-store.ts'
import { materialize } from '../traits/computed-traits.ts'
import type { TraitDef } from '../traits/traits-config.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import {
  eventsSchema,
  messagesSchema,
  profileSchema,
  searchSchema,
  segmentsSchema,
} from './profile-schemas.ts'
import type { IdentityKind, ProfileStore, StoredProfile } from './profile-store.ts'

export interface ProfileRoutesDeps {
  store: ProfileStore
  workspaces: WorkspaceStore
  traits: readonly TraitDef[]
  clock: Clock
  /** Segment memberships; without it a profile is in none. */
  segments?: Pick<SegmentStore, 'membershipsOf'> | undefined
  /** Per-message engagement; without it (analytics off) a profile has no messages to list. */
  analytics?: Pick<AnalyticsStore, 'messagesTo'> | undefined
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null)
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms))
export type By = 'userId' | 'anonymousId' | 'profileId' | undefined

/**
 * The profile `id` names (a userId, then an anonymousId; or the kind `by` says), else a 404: how
 * every admin route that takes a profile's `:id` finds it.
 */
export async function resolveProfile(
  store: Pick<ProfileStore, 'findProfileId' | 'getProfile'>,
  ws: string,
  id: string,
  by: By,
): Promise<StoredProfile> {
  let profileId: string | undefined
  if (by === 'profileId') profileId = id
  if (profileId === undefined && (by === undefined || by === 'userId'))
    profileId = await store.findProfileId(ws, 'userId', id)
  if (profileId === undefined && (by === undefined || by === 'anonymousId'))
    profileId = await store.findProfileId(ws, 'anonymousId', id)
  const profile = profileId === undefined ? undefined : await store.getProfile(ws, profileId)
  if (!profile) throw notFound(`a profile with id "${id}"`)
  return profile
}

const badRequest = (message: string) =>
  new InkError('INK_ERR_BAD_REQUEST', `invalid request: ${message}`, { details: { issues: [message] } })

export async function profileRoutes(app: FastifyInstance, deps: ProfileRoutesDeps): Promise<void> {
  const { store, traits, clock } = deps

  const resolve = (ws: string, id: string, by: By) => resolveProfile(store, ws, id, by)

  await adminScope(app, deps.workspaces, (admin) => {
    admin.get('/v1/profiles', { schema: searchSchema }, async (req) => {
      const ws = req.workspace.id
      const { userId, anonymousId, email, q, limit } = req.query
      const given = [userId, anonymousId, email, q].filter((v) => v !== undefined)
      if (given.length !== 1) throw badRequest('give exactly one of userId, anonymousId, email or q')
      const found = new Map<string, 'userId' | 'anonymousId' | 'email'>()
      const byId = async (kind: IdentityKind, value: string | undefined) => {
        if (value === undefined) return
        const id = await store.findProfileId(ws, kind, value)
        if (id !== undefined && !found.has(id)) found.set(id, kind)
      }
      await byId('userId', userId ?? q)
      await byId('anonymousId', anonymousId ?? q)
      const byEmail = email ?? q
      if (byEmail !== undefined)
        for (const id of await store.findByEmail(ws, byEmail, limit))
          if (!found.has(id)) found.set(id, 'email')
      const profiles = []
      for (const [profileId, matchedBy] of [...found].slice(0, limit)) {
        const p = await store.getProfile(ws, profileId)
        if (!p) continue
        const mail = p.state.traits.email
        profiles.push({
          profileId,
          userId: p.userId,
          email: typeof mail === 'string' ? mail : null,
          matchedBy,
          lastSeenAt: iso(p.state.lastSeenAt),
        })
      }
      return { profiles }
    })

    admin.get('/v1/profiles/:id', { schema: profileSchema }, async (req) => {
      const ws = req.workspace.id
      const profile = await resolve(ws, req.params.id, req.query.by)
      const ids = await store.identities(ws, profile.profileId)
      return {
        profileId: profile.profileId,
        userId: profile.userId,
        identities: {
          userIds: ids.filter((i) => i.kind === 'userId').map((i) => i.value),
          anonymousIds: ids.filter((i) => i.kind === 'anonymousId').map((i) => i.value),
        },
        traits: materialize(profile.state, traits, clock.now()),
        version: profile.version,
        createdAt: iso(profile.createdAt),
        updatedAt: iso(profile.updatedAt),
        firstSeenAt: iso(profile.state.firstSeenAt),
        lastSeenAt: iso(profile.state.lastSeenAt),
        lastEventReceivedAt: iso(profile.lastEventReceivedAt),
      }
    })

    admin.get('/v1/profiles/:id/events', { schema: eventsSchema }, async (req) => {
      const ws = req.workspace.id
      const { profileId } = await resolve(ws, req.params.id, req.query.by)
      const events = await store.recentEvents(ws, profileId, req.query.limit)
      return {
        profileId,
        events: events.map((e) => ({
          messageId: e.messageId,
          type: e.type,
          name: e.name,
          timestamp: new Date(e.at).toISOString(),
          receivedAt: new Date(e.receivedAt).toISOString(),
          data: e.data,
        })),
      }
    })

    admin.get('/v1/profiles/:id/segments', { schema: segmentsSchema }, async (req) => {
      const ws = req.workspace.id
      const { profileId } = await resolve(ws, req.params.id, req.query.by)
      const memberships = (await deps.segments?.membershipsOf(ws, profileId)) ?? []
      return {
        profileId,
        segments: memberships.map((m) => ({
          id: m.segmentId,
          name: m.name,
          joinedAt: new Date(m.joinedAt).toISOString(),
          backfilled: m.backfilled,
        })),
      }
    })

    admin.get('/v1/profiles/:id/messages', { schema: messagesSchema }, async (req) => {
      const ws = req.workspace.id
      const { profileId } = await resolve(ws, req.params.id, req.query.by)
      // Outcome and engagement events name the recipient by userId (or anonymousId): every id of the profile.
      const ids = (await store.identities(ws, profileId)).map((i) => i.value)
      const rows =
        deps.analytics && ids.length > 0 ? await deps.analytics.messagesTo(ws, ids, req.query.limit) : []
      return {
        profileId,
        messages: rows.map((m) => {
          const origin = originOf(m.campaignId)
          return {
            emailId: m.emailId,
            origin,
            campaignId: origin === 'campaign' ? m.campaignId : null,
            triggerId: origin === 'trigger' ? m.campaignId.slice('trigger:'.length) : null,
            recipient: m.userId,
            templateId: m.templateId === '' ? null : m.templateId,
            templateVersion: m.templateId === '' ? null : m.templateVersion,
            outcome:
              m.bouncedAt !== null
                ? ('bounced' as const)
                : m.sentAt !== null
                  ? ('sent' as const)
                  : m.failedAt !== null
                    ? ('failed' as const)
                    : ('pending' as const),
            createdAt: new Date(m.createdAt).toISOString(),
            sentAt: isoOrNull(m.sentAt),
            opens: m.opens,
            clicks: m.clicks,
            firstOpenAt: isoOrNull(m.firstOpenAt),
            firstClickAt: isoOrNull(m.firstClickAt),
            unsubscribedAt: isoOrNull(m.unsubscribedAt),
            conversions: m.conversions,
            revenue: m.revenue,
          }
        }),
      }
    })
  })
}
