/** GET /v1/profiles/:id — a profile by userId, anonymousId or profileId, with traits evaluated now. */
import type { FastifyInstance } from 'fastify'
import { notFound } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import { adminWorkspace } from '../http/admin-auth.ts'
import { refuseNulCharacters } from '../http/admin-body.ts'
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

export async function profileRoutes(app: FastifyInstance, deps: ProfileRoutesDeps): Promise<void> {
  refuseNulCharacters(app)
  const { store, workspaces, traits, clock } = deps
  app.get<{ Params: { id: string }; Querystring: { by?: string } }>('/v1/profiles/:id', async (req) => {
    const ws = adminWorkspace(req, workspaces)
    const { id } = req.params
    const by = req.query.by
    let profileId: string | undefined
    if (by === 'profileId') profileId = id
    if (profileId === undefined && (by === undefined || by === 'userId'))
      profileId = await store.findProfileId(ws.id, 'userId', id)
    if (profileId === undefined && (by === undefined || by === 'anonymousId')) {
      profileId = await store.findProfileId(ws.id, 'anonymousId', id)
    }
    const profile = profileId === undefined ? undefined : await store.getProfile(ws.id, profileId)
    if (!profile) throw notFound(`a profile with id "${id}"`)
    const ids = await store.identities(ws.id, profile.profileId)
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
}
