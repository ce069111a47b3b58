/** GET /v1/profiles/:id — a profile by userId, anonymousId or profileId, with traits evaluated now. */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { notFound } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import { adminScope } from '../http/admin-scope.ts'
import { isoTime, openObject } from '../http/schemas.ts'
import { materialize } from '../traits/computed-traits.ts'
import type { TraitDef } from '../traits/traits-config.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import type { ProfileStore } from './profile-store.ts'

export interface ProfileRoutesDeps {
  store: ProfileStore
  workspaces: WorkspaceStore
  traits: readonly TraitDef[]
  clock: Clock
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null)
const time = isoTime.nullable()

const profileSchema = {
  summary: 'A profile, with its identities and traits evaluated now',
  params: z.object({ id: z.string().meta({ description: 'A userId, anonymousId or profileId' }) }),
  querystring: z.object({
    by: z
      .enum(['userId', 'anonymousId', 'profileId'])
      .optional()
      .meta({ description: 'Which kind of id `id` is; without it, a userId and then an anonymousId' }),
  }),
  response: {
    200: z.strictObject({
      profileId: z.string(),
      userId: z.string().nullable(),
      identities: z.strictObject({ userIds: z.array(z.string()), anonymousIds: z.array(z.string()) }),
      traits: openObject,
      version: z.number().int(),
      createdAt: time,
      updatedAt: time,
      firstSeenAt: time,
      lastSeenAt: time,
      lastEventReceivedAt: time,
    }),
  },
}

export async function profileRoutes(app: FastifyInstance, deps: ProfileRoutesDeps): Promise<void> {
  const { store, traits, clock } = deps
  await adminScope(app, deps.workspaces, (admin) => {
    admin.get('/v1/profiles/:id', { schema: profileSchema }, async (req) => {
      const ws = req.workspace.id
      const { id } = req.params
      const by = req.query.by
      let profileId: string | undefined
      if (by === 'profileId') profileId = id
      if (profileId === undefined && (by === undefined || by === 'userId'))
        profileId = await store.findProfileId(ws, 'userId', id)
      if (profileId === undefined && (by === undefined || by === 'anonymousId')) {
        profileId = await store.findProfileId(ws, 'anonymousId', id)
      }
      const profile = profileId === undefined ? undefined : await store.getProfile(ws, profileId)
      if (!profile) throw notFound(`a profile with id "${id}"`)
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
  })
}
