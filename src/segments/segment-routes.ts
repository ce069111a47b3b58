/**
 * Segments API (admin key): PUT/GET/DELETE /v1/segments/:id, GET /v1/segments,
 * GET /v1/segments/:id/members?after=&limit= (paged by profileId) and
 * GET /v1/segments/:id/count?max= (how many members, counted up to max).
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { notFound } from '../core/errors.ts'
import { adminScope } from '../http/admin-scope.ts'
import { resourceRoutes } from '../http/resource-routes.ts'
import { idParams, isoTime, openObject } from '../http/schemas.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import type { SegmentDef, SegmentStore } from './segment-store.ts'

export interface SegmentRoutesDeps {
  segments: SegmentStore
  workspaces: WorkspaceStore
}

const MAX_LIMIT = 1000
const NAME = 'name must be a non-empty string of at most 200 characters'
const LIMIT = `limit must be an integer from 1 to ${MAX_LIMIT}`

const segmentBody = z.object(
  {
    name: z.string({ error: NAME }).min(1, NAME).max(200, NAME).optional(),
    condition: z
      .record(z.string(), z.unknown(), {
        error: (issue) =>
          issue.input === undefined
            ? 'condition is required, e.g. {"orders_total": {"$gte": 2}}'
            : 'condition is a JSON object, e.g. {"orders_total": {"$gte": 2}}',
      })
      .meta({ description: 'A MongoDB-style query over the profile traits (mingo).' }),
  },
  { error: 'send a JSON object: {"name": "...", "condition": {...}}' },
)

const segment = z.strictObject({
  id: z.string(),
  name: z.string(),
  condition: openObject,
  version: z.number().int(),
  backfilled: z
    .boolean()
    .meta({ description: 'False while the membership of this version is still being computed.' }),
  updatedAt: isoTime,
})

const view = (s: SegmentDef): z.output<typeof segment> => ({
  id: s.segmentId,
  name: s.name,
  condition: s.condition,
  version: s.version,
  backfilled: s.membersVersion === s.version,
  updatedAt: new Date(s.updatedAt).toISOString(),
})

const members = z.strictObject({
  members: z.array(
    z.strictObject({ profileId: z.string(), userId: z.string().nullable(), email: z.string().nullable() }),
  ),
  next: z
    .string()
    .nullable()
    .meta({ description: 'Pass as `after` for the next page; null on the last one.' }),
})

/**
 * The most members one count reads unless asked for more. A count is a range scan of the member
 * rows' primary key (no profile is evaluated: membership is kept by the processor), so its cost
 * grows with the answer: on SQLite here ~35 ms for 100,000 and ~0.2 s for a million, on the
 * thread that answers every request. The dashboard asks every few seconds, so it stays bounded.
 */
export const COUNT_MAX = 100_000
/** The most an explicit ?max= may ask for. */
const COUNT_LIMIT = 10_000_000
const MAX = `max must be an integer from 1 to ${COUNT_LIMIT}`

const count = z.strictObject({
  id: z.string(),
  count: z.number().int().meta({ description: 'Members now; when `capped`, at least this many.' }),
  capped: z.boolean().meta({ description: 'True when there are more than `max` members.' }),
  backfilled: z
    .boolean()
    .meta({ description: 'False while the membership of the current version is still being computed.' }),
})

const missing = (id: string) => notFound(`a segment with id "${id}"`)

export async function segmentRoutes(app: FastifyInstance, deps: SegmentRoutesDeps): Promise<void> {
  const { segments } = deps
  await adminScope(app, deps.workspaces, (admin) => {
    resourceRoutes(admin, {
      path: '/v1/segments',
      key: 'segments',
      kind: 'segment',
      summaries: {
        put: 'Create or change a segment (a changed condition is a new version)',
        list: 'All segments',
        get: 'A segment',
        delete: 'Delete a segment and its memberships',
      },
      body: segmentBody,
      item: segment,
      put: (ws, id, { name, condition }) =>
        segments.put(ws, id, name === undefined ? { condition } : { name, condition }),
      list: (ws) => segments.list(ws),
      get: (ws, id) => segments.get(ws, id),
      remove: (ws, id) => segments.delete(ws, id),
      view,
      missing,
    })

    admin.get(
      '/v1/segments/:id/members',
      {
        schema: {
          summary: 'The members of a segment, a page at a time in profileId order',
          params: idParams,
          querystring: z.object({
            after: z.string().optional().meta({ description: 'The `next` of the previous page.' }),
            limit: z.coerce.number(LIMIT).int(LIMIT).min(1, LIMIT).max(MAX_LIMIT, LIMIT).default(100),
          }),
          response: { 200: members },
        },
      },
      async (req) => {
        const ws = req.workspace.id
        const { after, limit } = req.query
        if (!(await segments.get(ws, req.params.id))) throw missing(req.params.id)
        // One member more than asked: whether a next page exists (a full last page answers next: null).
        const read = await segments.members(
          ws,
          req.params.id,
          after === undefined ? { limit: limit + 1 } : { after, limit: limit + 1 },
        )
        const page = read.slice(0, limit)
        return { members: page, next: read.length > limit ? (page.at(-1)?.profileId ?? null) : null }
      },
    )

    admin.get(
      '/v1/segments/:id/count',
      {
        schema: {
          summary: 'How many members a segment has (read from the membership rows, at most `max`)',
          params: idParams,
          querystring: z.object({
            max: z.coerce.number(MAX).int(MAX).min(1, MAX).max(COUNT_LIMIT, MAX).default(COUNT_MAX),
          }),
          response: { 200: count },
        },
      },
      async (req) => {
        const ws = req.workspace.id
        const def = await segments.get(ws, req.params.id)
        if (!def) throw missing(req.params.id)
        const { max } = req.query
        const n = await segments.countMembers(ws, req.params.id, max + 1)
        return {
          id: def.segmentId,
          count: Math.min(n, max),
          capped: n > max,
          backfilled: def.membersVersion === def.version,
        }
      },
    )
  })
}
