/**
 * The route shapes several admin resources share (segments, triggers, templates, blocks): store one
 * by id, list all, get one by id (404 when missing), delete one (204, 404 when missing). Registered inside the admin
 * scope; each route still names its own summary and zod schemas, which feed /openapi.json.
 */
import { z } from 'zod'
import type { InkError } from '../core/errors.ts'
import type { AdminApp } from './admin-scope.ts'
import { idParams, looseId, noContent } from './schemas.ts'

/**
 * The four routes of a resource kept by id (segments, triggers): PUT `path/:id` stores the body and
 * answers the stored item; GET `path` → `{ [key]: items }`; GET `path/:id` → one item (or the
 * error `missing(id)`); DELETE `path/:id` → 204 (or `missing(id)`).
 */
export function resourceRoutes<T, B extends z.ZodType>(
  admin: AdminApp,
  r: {
    path: string
    key: string
    /** What an id names ("segment"), for the PUT's id rule message. */
    kind: string
    summaries: { put: string; list: string; get: string; delete: string }
    body: B
    item: z.ZodType
    put(workspaceId: string, id: string, body: z.output<B>): Promise<T>
    list(workspaceId: string): Promise<T[]>
    get(workspaceId: string, id: string): Promise<T | undefined>
    remove(workspaceId: string, id: string): Promise<boolean>
    view(item: T): unknown
    missing(id: string): InkError
  },
): void {
  admin.put(
    `${r.path}/:id`,
    {
      schema: {
        summary: r.summaries.put,
        params: z.object({ id: looseId(r.kind) }),
        body: r.body,
        response: { 200: r.item },
      },
    },
    async (req) => r.view(await r.put(req.workspace.id, req.params.id, req.body as z.output<B>)),
  )
  admin.get(
    r.path,
    {
      schema: { summary: r.summaries.list, response: { 200: z.strictObject({ [r.key]: z.array(r.item) }) } },
    },
    async (req) => ({ [r.key]: (await r.list(req.workspace.id)).map((t) => r.view(t)) }),
  )
  admin.get(
    `${r.path}/:id`,
    { schema: { summary: r.summaries.get, params: idParams, response: { 200: r.item } } },
    async (req) => {
      const t = await r.get(req.workspace.id, req.params.id)
      if (!t) throw r.missing(req.params.id)
      return r.view(t)
    },
  )
  deleteRoute(admin, {
    path: `${r.path}/:id`,
    summary: r.summaries.delete,
    remove: r.remove,
    missing: r.missing,
  })
}

/**
 * DELETE `path` (which ends in its one parameter, `/:id` or `/:name`) → 204 once `remove` answers
 * true, else the error `missing(value)`; `removed` runs after a removal (say, to drop a cache).
 */
export function deleteRoute(
  admin: AdminApp,
  r: {
    path: string
    summary: string
    remove(workspaceId: string, value: string): Promise<boolean>
    missing(value: string): InkError
    removed?(workspaceId: string): void
  },
): void {
  const param = /\/:(\w+)$/.exec(r.path)?.[1]
  if (param === undefined) throw new Error(`a DELETE route's path ends in its parameter, not ${r.path}`)
  const params = z.object({ [param]: z.string() })
  admin.delete(
    r.path,
    { schema: { summary: r.summary, params, response: { 204: noContent } } },
    async (req, reply) => {
      const value = (req.params as Record<string, string>)[param] as string
      if (!(await r.remove(req.workspace.id, value))) throw r.missing(value)
      r.removed?.(req.workspace.id)
      return reply.status(204).send(null)
    },
  )
}
