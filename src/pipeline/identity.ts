/**
 * Identity resolution: which profile an event belongs to, merging profiles when an event ties an
 * anonymousId to a userId. Rules (docs/architecture.md):
 *  - an anonymous profile (no userId) merges into the known profile it is tied to;
 *  - two profiles with different userIds never merge implicitly; an event tying an anonymousId
 *    already owned by another user goes to its userId's profile and leaves the anonymousId alone;
 *  - `alias` (previousId → userId) is an explicit merge and may merge two known profiles.
 */
import type { InkEvent } from '../core/types.ts'
import type { IdentityKind, StoredProfile } from '../profiles/profile-store.ts'
import { mergeStates } from '../traits/computed-traits.ts'
import type { TraitDef } from '../traits/traits-config.ts'
import type { UnitOfWork } from './unit-of-work.ts'

/**
 * The identities resolveProfile may look up for `e`, each as (kind, value), for a batch to read
 * them all before it resolves any (UnitOfWork.prefetch). Keep in step with resolveProfile: one it
 * asks for and this leaves out is read on its own, so it costs a statement, not correctness.
 */
export function identitiesOf(e: InkEvent): [IdentityKind, string][] {
  const ids: [IdentityKind, string][] = []
  if (e.userId !== undefined) ids.push(['userId', e.userId])
  if (e.type === 'alias' && e.userId !== undefined && e.previousId !== undefined)
    ids.push(['userId', e.previousId], ['anonymousId', e.previousId])
  else if (e.anonymousId !== undefined) ids.push(['anonymousId', e.anonymousId])
  return ids
}

export async function resolveProfile(
  uow: UnitOfWork,
  e: InkEvent,
  defs: readonly TraitDef[],
  now: number,
): Promise<StoredProfile> {
  const ws = e.workspaceId
  if (e.type === 'alias' && e.userId !== undefined && e.previousId !== undefined) {
    const target = await profileForUser(uow, ws, e.userId)
    const prevId =
      (await uow.findProfileId(ws, 'userId', e.previousId)) ??
      (await uow.findProfileId(ws, 'anonymousId', e.previousId))
    if (prevId !== undefined && prevId !== target.profileId)
      await merge(uow, await uow.getProfile(ws, prevId), target, defs, now)
    else if (prevId === undefined) uow.bind(ws, 'anonymousId', e.previousId, target.profileId)
    return target
  }
  if (e.userId !== undefined) {
    const userProfileId = await uow.findProfileId(ws, 'userId', e.userId)
    const anonProfileId =
      e.anonymousId === undefined ? undefined : await uow.findProfileId(ws, 'anonymousId', e.anonymousId)
    if (userProfileId === undefined && anonProfileId !== undefined) {
      const anon = await uow.getProfile(ws, anonProfileId)
      if (anon.userId === null) {
        // The anonymous visitor just became known: the profile keeps its history and gains the userId.
        anon.userId = e.userId
        uow.bind(ws, 'userId', e.userId, anon.profileId)
        uow.touch(anon)
        return anon
      }
    }
    const known =
      userProfileId === undefined
        ? await profileForUser(uow, ws, e.userId)
        : await uow.getProfile(ws, userProfileId)
    if (e.anonymousId !== undefined) {
      if (anonProfileId === undefined) uow.bind(ws, 'anonymousId', e.anonymousId, known.profileId)
      else if (anonProfileId !== known.profileId) {
        const anon = await uow.getProfile(ws, anonProfileId)
        if (anon.userId === null) await merge(uow, anon, known, defs, now)
      }
    }
    return known
  }
  const anonymousId = e.anonymousId as string
  const id = await uow.findProfileId(ws, 'anonymousId', anonymousId)
  if (id !== undefined) return uow.getProfile(ws, id)
  const p = uow.create(ws, null)
  uow.bind(ws, 'anonymousId', anonymousId, p.profileId)
  return p
}

async function profileForUser(uow: UnitOfWork, ws: string, userId: string): Promise<StoredProfile> {
  const id = await uow.findProfileId(ws, 'userId' satisfies IdentityKind, userId)
  if (id !== undefined) return uow.getProfile(ws, id)
  const p = uow.create(ws, userId)
  uow.bind(ws, 'userId', userId, p.profileId)
  return p
}

async function merge(
  uow: UnitOfWork,
  from: StoredProfile,
  into: StoredProfile,
  defs: readonly TraitDef[],
  now: number,
) {
  mergeStates(into.state, from.state, defs, now)
  into.lastEventReceivedAt = Math.max(into.lastEventReceivedAt, from.lastEventReceivedAt)
  into.createdAt = Math.min(into.createdAt, from.createdAt)
  uow.touch(into)
  await uow.remove(from, into)
}
