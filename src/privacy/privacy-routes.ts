/**
 * The data-subject routes (GDPR Art. 17 and 20), behind the admin key like the profile routes:
 *   GET    /v1/profiles/:id/export   everything held about the person, one JSON document (audited)
 *   DELETE /v1/profiles/:id          erase the person (audited); unknown or already erased → 404
 *   GET    /v1/audit                 the audit of both, newest first
 * `:id` is a userId, then an anonymousId, or what `?by=` says (as the profile routes take it).
 * Log lines carry ids and counts only, never traits or addresses.
 */

import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AnalyticsStore } from '../analytics/analytics-store.ts'
import { notFound } from '../core/errors.ts'
import type { Failpoints } from '../core/failpoints.ts'
import type { Clock } from '../core/types.ts'
import type { SuppressionStore } from '../delivery/suppression-store.ts'
import { UNSUBSCRIBED } from '../delivery/tracking-events.ts'
import { adminScope } from '../http/admin-scope.ts'
import type { ProfileReader } from '../profiles/profile-reader.ts'
import { type By, resolveProfile } from '../profiles/profile-routes.ts'
import type { ProfileStore } from '../profiles/profile-store.ts'
import { RECENT_EVENTS_KEPT } from '../profiles/recent-events.ts'
import type { SegmentStore } from '../segments/segment-store.ts'
import { materialize } from '../traits/computed-traits.ts'
import type { TraitDef } from '../traits/traits-config.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import type { ErasuresInFlight } from './erasure-resume.ts'
import { auditSchema, EXPORT_FORMAT, eraseSchema, exportSchema } from './privacy-schemas.ts'
import type { LogErasure, PrivacyStore } from './privacy-store.ts'

export interface PrivacyRoutesDeps {
  store: ProfileStore
  privacy: PrivacyStore
  suppressions: SuppressionStore
  workspaces: WorkspaceStore
  traits: readonly TraitDef[]
  clock: Clock
  segments?: Pick<SegmentStore, 'membershipsOf'> | undefined
  analytics?: Pick<AnalyticsStore, 'messagesTo'> | undefined
  /** The profile cache's reader: an erased profile's cached copies are deleted. */
  reader?: Pick<ProfileReader, 'forget'> | undefined
  /** Deletes the person's events from the log (embedded SQLite); undefined where it cannot (Kafka). */
  eraseLogEvents?: ((workspaceId: string, ids: readonly string[]) => Promise<number>) | undefined
  /** The erasures being carried out here, which the resume (erasure-resume.ts) must not take over. */
  erasures?: ErasuresInFlight | undefined
  /** INKSTREAM_FAILPOINTS (tests): `privacy.after-erase`. */
  failpoints?: Failpoints | undefined
}

/** Most messages an export lists (the analytics rows kept for the person, newest first). */
export const EXPORT_MESSAGES = 10_000

const iso = (ms: number) => new Date(ms).toISOString()
const isoOrNull = (ms: number | null) => (ms === null || ms <= 0 ? null : iso(ms))

/** Who asked, without the secret: the admin key's hash prefix, or the dashboard's session. */
export function actorOf(req: FastifyRequest): string {
  if (typeof req.headers.authorization !== 'string') return 'dashboard'
  return `admin-key:${createHash('sha256').update(req.workspace.adminKey).digest('hex').slice(0, 12)}`
}

export async function privacyRoutes(app: FastifyInstance, deps: PrivacyRoutesDeps): Promise<void> {
  const { store, privacy, clock } = deps

  const resolve = (ws: string, id: string, by: By) => resolveProfile(store, ws, id, by)

  await adminScope(app, deps.workspaces, (admin) => {
    admin.get('/v1/profiles/:id/export', { schema: exportSchema }, async (req) => {
      const ws = req.workspace.id
      const profile = await resolve(ws, req.params.id, req.query.by)
      const { profileId } = profile
      const now = clock.now()
      const identities = await store.identities(ws, profileId)
      const ids = identities.map((i) => i.value)
      const events = (await store.recentEvents(ws, profileId, RECENT_EVENTS_KEPT)).map((e) => ({
        messageId: e.messageId,
        type: e.type,
        name: e.name,
        timestamp: iso(e.at),
        receivedAt: iso(e.receivedAt),
        data: e.data,
      }))
      const email = profile.state.traits.email
      const sends = await privacy.sendsTo(ws, ids)
      // The suppression entries of every address known for the person: the trait and those mailed.
      const addresses = new Set([...(typeof email === 'string' ? [email] : []), ...sends.map((s) => s.email)])
      const suppressions = []
      for (const a of addresses) suppressions.push(...(await deps.suppressions.get(ws, a)))
      const messages =
        deps.analytics && ids.length > 0 ? await deps.analytics.messagesTo(ws, ids, EXPORT_MESSAGES) : []
      const body = {
        format: EXPORT_FORMAT,
        exportedAt: iso(now),
        workspaceId: ws,
        profile: {
          profileId,
          userId: profile.userId,
          traits: materialize(profile.state, deps.traits, now),
          createdAt: isoOrNull(profile.createdAt),
          updatedAt: isoOrNull(profile.updatedAt),
          firstSeenAt: isoOrNull(profile.state.firstSeenAt),
          lastSeenAt: isoOrNull(profile.state.lastSeenAt),
          lastEventReceivedAt: isoOrNull(profile.lastEventReceivedAt),
        },
        identities: {
          userIds: identities.filter((i) => i.kind === 'userId').map((i) => i.value),
          anonymousIds: identities.filter((i) => i.kind === 'anonymousId').map((i) => i.value),
        },
        events,
        consent: events.filter((e) => e.name === UNSUBSCRIBED),
        segments: ((await deps.segments?.membershipsOf(ws, profileId)) ?? []).map((m) => ({
          id: m.segmentId,
          name: m.name,
          joinedAt: iso(m.joinedAt),
        })),
        suppressions: suppressions.map((s) => ({
          email: s.email,
          reason: s.reason,
          source: s.source,
          createdAt: iso(s.createdAt),
        })),
        messages: messages.map((m) => ({
          emailId: m.emailId,
          campaignId: m.campaignId,
          recipient: m.userId,
          templateId: m.templateId === '' ? null : m.templateId,
          createdAt: iso(m.createdAt),
          sentAt: isoOrNull(m.sentAt),
          bouncedAt: isoOrNull(m.bouncedAt),
          failedAt: isoOrNull(m.failedAt),
          opens: m.opens,
          clicks: m.clicks,
          firstOpenAt: isoOrNull(m.firstOpenAt),
          firstClickAt: isoOrNull(m.firstClickAt),
          unsubscribedAt: isoOrNull(m.unsubscribedAt),
          conversions: m.conversions,
          revenue: m.revenue,
        })),
        sends: sends.map((s) => ({ ...s, updatedAt: iso(s.updatedAt) })),
        triggerJobs: (await privacy.triggerJobsOf(ws, profileId)).map((j) => ({
          jobId: j.jobId,
          triggerId: j.triggerId,
          state: j.state,
          eventAt: iso(j.eventAt),
          dueAt: iso(j.dueAt),
          sentAt: isoOrNull(j.sentAt),
          createdAt: iso(j.createdAt),
        })),
      }
      const details = {
        events: body.events.length,
        messages: body.messages.length,
        sends: body.sends.length,
        segments: body.segments.length,
        suppressions: body.suppressions.length,
        triggerJobs: body.triggerJobs.length,
      }
      const entry = await privacy.audit({
        workspaceId: ws,
        action: 'export',
        profileId,
        actor: actorOf(req),
        at: now,
        details,
      })
      req.log.info(
        {
          'inkstream.audit_id': entry.id,
          'inkstream.workspace': ws,
          'inkstream.profile_id': profileId,
          details,
        },
        'profile exported',
      )
      return body
    })

    admin.delete('/v1/profiles/:id', { schema: eraseSchema }, async (req) => {
      const ws = req.workspace.id
      const { profileId } = await resolve(ws, req.params.id, req.query.by)
      const now = clock.now()
      // The audit entry is written in the erasure's transaction with `log: 'pending'`: a crash after
      // it leaves the erasure audited as not finished in the log, and erasure-resume.ts finishes it.
      const erased = await privacy.erase(ws, profileId, now, actorOf(req))
      // Erased by a concurrent call between the look-up and the transaction: as for an unknown one.
      if (erased === undefined) throw notFound(`a profile with id "${req.params.id}"`)
      await deps.failpoints?.hit('privacy.after-erase')
      const finish = async () => {
        // After the store's transaction (its tombstones stop processors from folding these events again).
        const logEvents = deps.eraseLogEvents ? await deps.eraseLogEvents(ws, erased.ids) : null
        const log: LogErasure = logEvents === null ? 'retention' : 'erased'
        const removed = { ...erased.counts, logEvents, log }
        // At once: a cache that cannot forget (Redis down) must not leave the log's part unaudited.
        // False only when erasure-resume.ts (its grace past) finished the entry first: it keeps its own.
        if (!(await privacy.completeAudit(erased.auditId, removed)))
          req.log.warn(
            { 'inkstream.audit_id': erased.auditId },
            'erasure audit already finished by the resume',
          )
        return removed
      }
      const removed = deps.erasures ? await deps.erasures.around(erased.auditId, finish) : await finish()
      await deps.reader?.forget(ws, erased.ids)
      req.log.info(
        {
          'inkstream.audit_id': erased.auditId,
          'inkstream.workspace': ws,
          'inkstream.profile_id': profileId,
          removed,
        },
        'profile erased',
      )
      return { profileId, erasedAt: iso(now), auditId: erased.auditId, removed }
    })

    admin.get('/v1/audit', { schema: auditSchema }, async (req) => {
      const { before, limit } = req.query
      const rows = await privacy.auditPage(req.workspace.id, { before, limit })
      const last = rows.at(-1)
      return {
        entries: rows.map((e) => ({
          id: e.id,
          action: e.action,
          profileId: e.profileId,
          actor: e.actor,
          at: iso(e.at),
          details: e.details,
        })),
        next: rows.length === limit && last ? last.id : null,
      }
    })
  })
}
