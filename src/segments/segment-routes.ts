/**
 * Segments API (admin key): PUT/GET/DELETE /v1/segments/:id, GET /v1/segments and
 * GET /v1/segments/:id/members?after=&limit= (paged by profileId).
 */
import type { FastifyInstance } from 'fastify'
import { InkError, notFound } from '../core/errors.ts'
import { adminWorkspace } from '../http/admin-auth.ts'
import { refuseNulCharacters } from '../http/admin-body.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import type { SegmentDef, SegmentStore } from './segment-store.ts'

export interface SegmentRoutesDeps {
  segments: SegmentStore
  workspaces: WorkspaceStore
}

const ID = /^[A-Za-z0-9_.-]{1,100}$/
const MAX_LIMIT = 1000

const badRequest = (message: string) => new InkError('INK_ERR_BAD_REQUEST', message)

function segmentId(id: string): string {
  if (!ID.test(id)) throw badRequest('a segment id is 1-100 letters, digits, "_", "-" or "."')
  return id
}

const view = (s: SegmentDef) => ({
  id: s.segmentId,
  name: s.name,
  condition: s.condition,
  version: s.version,
  /** False while the membership of this version is still being computed over existing profiles. */
  backfilled: s.membersVersion === s.version,
  updatedAt: new Date(s.updatedAt).toISOString(),
})

function limitOf(raw: string | undefined): number {
  if (raw === undefined) return 100
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT)
    throw badRequest(`limit must be an integer from 1 to ${MAX_LIMIT}`)
  return n
}

export async function segmentRoutes(app: FastifyInstance, deps: SegmentRoutesDeps): Promise<void> {
  refuseNulCharacters(app)
  const { segments, workspaces } = deps

  app.put<{ Params: { id: string }; Body: unknown }>('/v1/segments/:id', async (req) => {
    const ws = adminWorkspace(req, workspaces)
    const id = segmentId(req.params.id)
    const body = req.body
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw badRequest('send a JSON object: {"name": "...", "condition": {...}}')
    const { name, condition } = body as { name?: unknown; condition?: unknown }
    if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name.length > 200))
      throw badRequest('name must be a non-empty string of at most 200 characters')
    if (condition === undefined) throw badRequest('condition is required, e.g. {"orders_total": {"$gte": 2}}')
    const saved = await segments.put(ws.id, id, name === undefined ? { condition } : { name, condition })
    return view(saved)
  })

  app.get('/v1/segments', async (req) => {
    const ws = adminWorkspace(req, workspaces)
    return { segments: (await segments.list(ws.id)).map(view) }
  })

  app.get<{ Params: { id: string } }>('/v1/segments/:id', async (req) => {
    const ws = adminWorkspace(req, workspaces)
    const s = await segments.get(ws.id, req.params.id)
    if (!s) throw notFound(`a segment with id "${req.params.id}"`)
    return view(s)
  })

  app.get<{ Params: { id: string }; Querystring: { after?: string; limit?: string } }>(
    '/v1/segments/:id/members',
    async (req) => {
      const ws = adminWorkspace(req, workspaces)
      const limit = limitOf(req.query.limit)
      if (!(await segments.get(ws.id, req.params.id))) throw notFound(`a segment with id "${req.params.id}"`)
      const after = req.query.after
      const members = await segments.members(
        ws.id,
        req.params.id,
        after === undefined ? { limit } : { after, limit },
      )
      return { members, next: members.length === limit ? members.at(-1)!.profileId : null }
    },
  )

  app.delete<{ Params: { id: string } }>('/v1/segments/:id', async (req, reply) => {
    const ws = adminWorkspace(req, workspaces)
    if (!(await segments.delete(ws.id, req.params.id))) throw notFound(`a segment with id "${req.params.id}"`)
    return reply.status(204).send()
  })
}
