/**
 * Admin API for campaigns.
 *   PUT  /v1/campaigns/:id        create or replace a draft (a started campaign → 409)
 *   GET  /v1/campaigns[/:id]      definitions, with progress counts from the send ledger
 *                                 (the list: with ?progress=true, one ledger count per campaign)
 *   POST /v1/campaigns/:id/start  start or resume in the background (202); already running → 409
 *   POST /v1/campaigns/:id/pause  stop sending, state `paused` with a reason; start resumes it
 *   POST /v1/campaigns/:id/cancel stop for good, state `cancelled`; unsent recipients stay unsent
 *   GET  /v1/campaigns/:id/recipients  the send ledger, a page at a time (?state=&after=&limit=)
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { InkError, notFound } from '../core/errors.ts'
import { isTimeZone, parseLocalDateTime } from '../core/local-time.ts'
import { checkFrom } from '../delivery/mailbox.ts'
import { adminScope } from '../http/admin-scope.ts'
import { epochMs, openObject, slug } from '../http/schemas.ts'
import type { TopicStore } from '../topics/topic-store.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import type { AudienceResolver } from './audience.ts'
import type { CampaignService } from './campaign-service.ts'
import {
  CAMPAIGN_STATES,
  type CampaignDefinition,
  type CampaignSendAt,
  type CampaignStore,
} from './campaign-store.ts'
import { SEND_STATES } from './send-ledger.ts'

export interface CampaignRoutesDeps {
  campaigns: CampaignStore
  service: CampaignService
  audience: AudienceResolver
  workspaces: WorkspaceStore
  /** To refuse a draft naming a topic the workspace does not have. */
  topics?: Pick<TopicStore, 'get'> | undefined
}

const audience = z.union([
  z.object({ userIds: z.array(z.string().min(1).max(256)).max(1_000_000) }).strict(),
  z.object({ segment: z.string().min(1).max(200) }).strict(),
])

const campaignBody = z
  .object({
    name: z.string().max(200).optional(),
    templateId: slug,
    templateVersion: z.number().int().min(1).optional(),
    from: z.string().min(3).max(998).optional(),
    audience,
    vars: openObject.optional(),
    ratePerSecond: z.number().positive().max(100_000).optional(),
    pauseAfterFailures: z.number().int().min(1).max(1_000_000).optional(),
    sendAt: z
      .strictObject({
        localTime: z.string().max(16).meta({ description: 'YYYY-MM-DDTHH:MM on each recipient’s clock.' }),
        defaultTimezone: z
          .string()
          .max(64)
          .optional()
          .meta({ description: 'IANA zone for recipients without a valid `timezone` trait; default UTC.' }),
      })
      .optional(),
    topic: slug.optional().meta({
      description:
        'A subscription topic (/v1/topics): who left it is skipped; its unsubscribe link leaves it only.',
    }),
  })
  .strict()

const campaign = z.strictObject({
  id: z.string(),
  name: z.string(),
  templateId: z.string(),
  templateVersion: z.number().int().nullable(),
  from: z.string().nullable(),
  audience,
  vars: openObject,
  ratePerSecond: z.number().nullable(),
  pauseAfterFailures: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'Consecutive transport failures that pause it; null: the server default.' }),
  sendAt: z
    .strictObject({ localTime: z.string(), defaultTimezone: z.string() })
    .nullable()
    .meta({ description: 'Local-time send: each recipient at localTime on their own clock; null: at once.' }),
  topic: z.string().nullable().meta({ description: 'The subscription topic; null: none.' }),
  state: z.enum(CAMPAIGN_STATES),
  error: z.string().nullable().meta({ description: 'Why the last run failed (state `failed`).' }),
  reason: z.string().nullable().meta({ description: 'Why the campaign is paused or cancelled.' }),
  createdAt: epochMs,
  updatedAt: epochMs,
  startedAt: epochMs.nullable(),
  finishedAt: epochMs.nullable(),
})

/** Recipients per send state, from the ledger; totals and pace while this process runs it. */
const progress = z.strictObject({
  ...Object.fromEntries(SEND_STATES.map((s) => [s, z.number().int()] as const)),
  total: z.number().int().optional(),
  remaining: z.number().int().optional(),
  ratePerSecond: z.number().optional(),
  etaMs: z.number().optional(),
  held: z.number().int().optional().meta({ description: 'Recipients waiting for their local send time.' }),
  heldUntil: epochMs
    .optional()
    .meta({ description: 'When the last held recipient’s local time comes (the ETA is never earlier).' }),
})

const withProgress = campaign.extend({ progress })
const listed = campaign.extend({ progress: progress.optional() })
const listQuery = z
  .object({
    progress: z
      .enum(['true', 'false'])
      .optional()
      .meta({ description: 'true: each campaign with its progress (one ledger count per campaign).' }),
  })
  .strict()
const params = z.object({ id: slug })
/** POST …/pause and …/cancel: an optional reason, shown in the campaign's `reason`. */
const stopBody = z
  .object({ reason: z.string().min(1).max(500).optional() })
  .strict()
  .nullish()

const recipient = z.strictObject({
  recipient: z.string(),
  email: z.string(),
  state: z.enum(SEND_STATES),
  reason: z.string().nullable().meta({ description: 'Typed reason (skip, failure or bounce).' }),
  detail: z.string().nullable().meta({ description: "The server's words, or what was checked." }),
  attempts: z.number().int(),
  retryAt: epochMs.nullable().meta({ description: 'When a `deferred` row is tried again.' }),
  updatedAt: epochMs,
})
const recipientsQuery = z
  .object({
    state: z.enum(SEND_STATES).optional(),
    after: z.string().max(256).optional().meta({ description: 'The `next` of the previous page.' }),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict()
const recipientsPage = z.strictObject({
  recipients: z.array(recipient),
  next: z.string().nullable().meta({ description: 'Pass as `after` for the next page; null on the last.' }),
})

export async function campaignRoutes(app: FastifyInstance, deps: CampaignRoutesDeps): Promise<void> {
  const view = async (wsId: string, c: CampaignDefinition) => ({
    ...c,
    progress: await deps.service.progress(wsId, c),
  })

  await adminScope(app, deps.workspaces, (admin) => {
    admin.put(
      '/v1/campaigns/:id',
      {
        schema: {
          summary: 'Create or replace a draft campaign (a started one → 409)',
          params,
          body: campaignBody,
          response: { 200: withProgress, 201: withProgress },
        },
      },
      async (req, reply) => {
        const ws = req.workspace.id
        const { id } = req.params
        const b = req.body
        if (b.from !== undefined) checkFrom(b.from)
        await deps.audience.check(ws, b.audience)
        if (b.topic !== undefined && deps.topics && !(await deps.topics.get(ws, b.topic)))
          throw new InkError(
            'INK_ERR_BAD_REQUEST',
            `topic "${b.topic}" does not exist; create it first with PUT /v1/topics/${b.topic}`,
          )
        const saved = await deps.campaigns.putDraft(ws, id, {
          name: b.name ?? id,
          templateId: b.templateId,
          templateVersion: b.templateVersion ?? null,
          from: b.from ?? null,
          audience: b.audience,
          vars: b.vars ?? {},
          ratePerSecond: b.ratePerSecond ?? null,
          pauseAfterFailures: b.pauseAfterFailures ?? null,
          sendAt: b.sendAt ? checkSendAt(b.sendAt) : null,
          topic: b.topic ?? null,
        })
        if (!saved)
          throw new InkError(
            'INK_ERR_CAMPAIGN_NOT_DRAFT',
            `campaign "${id}" was already started; its definition can no longer change`,
          )
        return reply.code(saved.created ? 201 : 200).send(await view(ws, saved.campaign))
      },
    )

    admin.get(
      '/v1/campaigns',
      {
        schema: {
          summary: 'All campaigns (with ?progress=true, each with its progress)',
          querystring: listQuery,
          response: { 200: z.strictObject({ campaigns: z.array(listed) }) },
        },
      },
      async (req) => {
        const ws = req.workspace.id
        const all = await deps.campaigns.list(ws)
        if (req.query.progress !== 'true') return { campaigns: all }
        // One grouped count of the ledger per campaign, one at a time (bounded by the list).
        const campaigns = []
        for (const c of all) campaigns.push(await view(ws, c))
        return { campaigns }
      },
    )

    admin.get(
      '/v1/campaigns/:id',
      { schema: { summary: 'A campaign, with its progress', params, response: { 200: withProgress } } },
      async (req) => {
        const c = await deps.campaigns.get(req.workspace.id, req.params.id)
        if (!c) throw notFound(`campaign "${req.params.id}"`)
        return view(req.workspace.id, c)
      },
    )

    admin.post(
      '/v1/campaigns/:id/start',
      {
        schema: {
          summary: 'Start or resume a campaign in the background (already running → 409)',
          params,
          response: { 202: withProgress },
        },
      },
      async (req, reply) => {
        const c = await deps.service.start(req.workspace.id, req.params.id)
        return reply.code(202).send(await view(req.workspace.id, c))
      },
    )

    /** POST /v1/campaigns/:id/<action>: stops the campaign with the request's reason, else `fallback`. */
    const stopRoute = (action: 'pause' | 'cancel', summary: string, fallback: string) =>
      admin.post(
        `/v1/campaigns/:id/${action}`,
        { schema: { summary, params, body: stopBody, response: { 200: withProgress } } },
        async (req) => {
          const ws = req.workspace.id
          return view(ws, await deps.service[action](ws, req.params.id, req.body?.reason ?? fallback))
        },
      )
    stopRoute(
      'pause',
      'Pause a running campaign (its sends in flight finish); `start` resumes it',
      'paused by request',
    )
    stopRoute(
      'cancel',
      'Cancel a campaign for good; recipients not sent to stay unsent',
      'cancelled by request',
    )

    admin.get(
      '/v1/campaigns/:id/recipients',
      {
        schema: {
          summary: "A campaign's recipients from the send ledger, by recipient id, a page at a time",
          params,
          querystring: recipientsQuery,
          response: { 200: recipientsPage },
        },
      },
      async (req) => {
        const ws = req.workspace.id
        const { id } = req.params
        if (!(await deps.campaigns.get(ws, id))) throw notFound(`campaign "${id}"`)
        const { limit, state, after } = req.query
        // One row more than asked: whether a next page exists (a full last page answers next: null).
        const read = await deps.service.recipients(ws, id, {
          limit: limit + 1,
          ...(state === undefined ? {} : { state }),
          ...(after === undefined ? {} : { after }),
        })
        const rows = read.slice(0, limit)
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
          next: read.length > limit ? (rows[rows.length - 1]?.recipient ?? null) : null,
        }
      },
    )
  })
}

/** A local-time send as stored: a real wall time and a known zone (UTC when none is given); else 400. */
function checkSendAt(b: { localTime: string; defaultTimezone?: string | undefined }): CampaignSendAt {
  if (parseLocalDateTime(b.localTime) === undefined)
    throw new InkError(
      'INK_ERR_BAD_REQUEST',
      `sendAt.localTime: "${b.localTime}" is not a local date and time; use YYYY-MM-DDTHH:MM, e.g. "2026-12-01T09:00" (no offset: it is read on each recipient's clock)`,
    )
  const defaultTimezone = b.defaultTimezone ?? 'UTC'
  if (!isTimeZone(defaultTimezone))
    throw new InkError(
      'INK_ERR_BAD_REQUEST',
      `sendAt.defaultTimezone: unknown time zone "${defaultTimezone}"; use an IANA name such as "Europe/Paris", or "UTC"`,
    )
  return { localTime: b.localTime, defaultTimezone }
}
