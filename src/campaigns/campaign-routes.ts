/**
 * Admin API for campaigns.
 *   PUT  /v1/campaigns/:id        create or replace a draft (a started campaign → 409)
 *   GET  /v1/campaigns[/:id]      definitions, with progress counts from the send ledger
 *   POST /v1/campaigns/:id/start  start or resume in the background (202); already running → 409
 *   POST /v1/campaigns/:id/pause  stop sending, state `paused` with a reason; start resumes it
 *   POST /v1/campaigns/:id/cancel stop for good, state `cancelled`; unsent recipients stay unsent
 *   GET  /v1/campaigns/:id/recipients  the send ledger, a page at a time (?state=&after=&limit=)
 * The new routes carry JSON schemas (campaign-route-schemas.ts) for params, query, body and reply.
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { InkError, notFound } from '../core/errors.ts'
import { checkFrom } from '../delivery/mailbox.ts'
import { adminWorkspace } from '../http/admin-auth.ts'
import { refuseNulCharacters } from '../http/admin-body.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import type { AudienceResolver } from './audience.ts'
import { pauseRoute, recipientsRoute } from './campaign-route-schemas.ts'
import type { CampaignService } from './campaign-service.ts'
import type { CampaignDefinition, CampaignStore } from './campaign-store.ts'
import type { SendState } from './send-ledger.ts'

export interface CampaignRoutesDeps {
  campaigns: CampaignStore
  service: CampaignService
  audience: AudienceResolver
  workspaces: WorkspaceStore
}

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, "_" and "-", at most 64')

const campaignBody = z
  .object({
    name: z.string().max(200).optional(),
    templateId: slug,
    templateVersion: z.number().int().min(1).optional(),
    from: z.string().min(3).max(998).optional(),
    audience: z.union([
      z.object({ userIds: z.array(z.string().min(1).max(256)).max(1_000_000) }).strict(),
      z.object({ segment: z.string().min(1).max(200) }).strict(),
    ]),
    vars: z.record(z.string(), z.unknown()).optional(),
    ratePerSecond: z.number().positive().max(100_000).optional(),
    pauseAfterFailures: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()

function badRequest(issues: z.core.$ZodIssue[]): InkError {
  const list = issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
  return new InkError('INK_ERR_BAD_REQUEST', `invalid request: ${list.join('; ')}`, {
    details: { issues: list },
  })
}

function parseId(value: string): string {
  const r = slug.safeParse(value)
  if (!r.success)
    throw new InkError('INK_ERR_BAD_REQUEST', `campaign "${value}": ${r.error.issues[0]?.message}`)
  return r.data
}

export async function campaignRoutes(app: FastifyInstance, deps: CampaignRoutesDeps): Promise<void> {
  refuseNulCharacters(app)
  const view = async (wsId: string, c: CampaignDefinition) => ({
    ...c,
    progress: await deps.service.progress(wsId, c),
  })

  app.put<{ Params: { id: string } }>('/v1/campaigns/:id', async (req, reply) => {
    const ws = adminWorkspace(req, deps.workspaces)
    const id = parseId(req.params.id)
    const r = campaignBody.safeParse(req.body ?? {})
    if (!r.success) throw badRequest(r.error.issues)
    const b = r.data
    if (b.from !== undefined) checkFrom(b.from)
    await deps.audience.check(ws.id, b.audience)
    const saved = await deps.campaigns.putDraft(ws.id, id, {
      name: b.name ?? id,
      templateId: b.templateId,
      templateVersion: b.templateVersion ?? null,
      from: b.from ?? null,
      audience: b.audience,
      vars: b.vars ?? {},
      ratePerSecond: b.ratePerSecond ?? null,
      pauseAfterFailures: b.pauseAfterFailures ?? null,
    })
    if (!saved)
      throw new InkError(
        'INK_ERR_CAMPAIGN_NOT_DRAFT',
        `campaign "${id}" was already started; its definition can no longer change`,
      )
    return reply.code(saved.created ? 201 : 200).send(await view(ws.id, saved.campaign))
  })

  app.get('/v1/campaigns', async (req) => {
    const ws = adminWorkspace(req, deps.workspaces)
    return { campaigns: await deps.campaigns.list(ws.id) }
  })

  app.get<{ Params: { id: string } }>('/v1/campaigns/:id', async (req) => {
    const ws = adminWorkspace(req, deps.workspaces)
    const id = parseId(req.params.id)
    const c = await deps.campaigns.get(ws.id, id)
    if (!c) throw notFound(`campaign "${id}"`)
    return view(ws.id, c)
  })

  app.post<{ Params: { id: string } }>('/v1/campaigns/:id/start', async (req, reply) => {
    const ws = adminWorkspace(req, deps.workspaces)
    const id = parseId(req.params.id)
    const c = await deps.service.start(ws.id, id)
    return reply.code(202).send(await view(ws.id, c))
  })

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/v1/campaigns/:id/pause',
    { schema: pauseRoute('Pause a running campaign; `start` resumes it') },
    async (req) => {
      const ws = adminWorkspace(req, deps.workspaces)
      const id = parseId(req.params.id)
      return view(ws.id, await deps.service.pause(ws.id, id, req.body?.reason ?? 'paused by request'))
    },
  )

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/v1/campaigns/:id/cancel',
    { schema: pauseRoute('Cancel a campaign for good; recipients not sent to stay unsent') },
    async (req) => {
      const ws = adminWorkspace(req, deps.workspaces)
      const id = parseId(req.params.id)
      return view(ws.id, await deps.service.cancel(ws.id, id, req.body?.reason ?? 'cancelled by request'))
    },
  )

  app.get<{ Params: { id: string }; Querystring: { state?: SendState; after?: string; limit?: number } }>(
    '/v1/campaigns/:id/recipients',
    { schema: recipientsRoute },
    async (req) => {
      const ws = adminWorkspace(req, deps.workspaces)
      const id = parseId(req.params.id)
      if (!(await deps.campaigns.get(ws.id, id))) throw notFound(`campaign "${id}"`)
      const limit = req.query.limit ?? 100
      const rows = await deps.service.recipients(ws.id, id, {
        limit,
        ...(req.query.state === undefined ? {} : { state: req.query.state }),
        ...(req.query.after === undefined ? {} : { after: req.query.after }),
      })
      return {
        recipients: rows.map((r) => ({
          recipient: r.recipient,
          email: r.email,
          state: r.state,
          reason: r.reason,
          detail: r.detail,
          attempts: r.attempts,
          retryAt: r.retryAt,
          updatedAt: r.updatedAt,
        })),
        // The keyset of the next page; null on the last one.
        next: rows.length === limit ? (rows[rows.length - 1]?.recipient ?? null) : null,
      }
    },
  )
}
