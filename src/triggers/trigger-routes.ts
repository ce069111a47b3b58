/** Triggers API (admin key): PUT/GET/DELETE /v1/triggers/:id and GET /v1/triggers. */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { notFound } from '../core/errors.ts'
import { adminScope } from '../http/admin-scope.ts'
import { idParams, isoTime, looseId, noContent } from '../http/schemas.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import { parseTrigger, type TriggerDef, schema as triggerBody } from './trigger-def.ts'
import type { TriggerStore } from './trigger-store.ts'

export interface TriggerRoutesDeps {
  triggers: TriggerStore
  workspaces: WorkspaceStore
  /** Throws (404, 422) when the template does not exist or does not compile. */
  renderer: { compiled(ws: string, templateId: string): Promise<unknown> }
  /** INKSTREAM_FROM: the sender of triggers that set none. */
  defaultFrom: string | undefined
}

/** A stored trigger: its definition as saved, with the sender and delay filled in. */
const trigger = z.strictObject({
  id: z.string(),
  ...triggerBody.shape,
  from: z.string(),
  delayMs: z.number().int(),
  updatedAt: isoTime,
})

const view = ({ workspaceId: _ws, triggerId, updatedAt, ...def }: TriggerDef) => ({
  id: triggerId,
  ...def,
  updatedAt: new Date(updatedAt).toISOString(),
})

const missing = (id: string) => notFound(`a trigger with id "${id}"`)

export async function triggerRoutes(app: FastifyInstance, deps: TriggerRoutesDeps): Promise<void> {
  const { triggers } = deps
  await adminScope(app, deps.workspaces, (admin) => {
    admin.put(
      '/v1/triggers/:id',
      {
        schema: {
          summary: 'Create or replace a trigger (its template must exist and compile)',
          params: z.object({ id: looseId('trigger') }),
          body: triggerBody,
          response: { 200: trigger },
        },
      },
      async (req) => {
        const ws = req.workspace.id
        const input = parseTrigger(req.body, deps.defaultFrom)
        await deps.renderer.compiled(ws, input.templateId)
        return view(await triggers.put(ws, req.params.id, input))
      },
    )

    admin.get(
      '/v1/triggers',
      {
        schema: {
          summary: 'All triggers',
          response: { 200: z.strictObject({ triggers: z.array(trigger) }) },
        },
      },
      async (req) => ({ triggers: (await triggers.list(req.workspace.id)).map(view) }),
    )

    admin.get(
      '/v1/triggers/:id',
      { schema: { summary: 'A trigger', params: idParams, response: { 200: trigger } } },
      async (req) => {
        const t = await triggers.get(req.workspace.id, req.params.id)
        if (!t) throw missing(req.params.id)
        return view(t)
      },
    )

    admin.delete(
      '/v1/triggers/:id',
      { schema: { summary: 'Delete a trigger', params: idParams, response: { 204: noContent } } },
      async (req, reply) => {
        if (!(await triggers.delete(req.workspace.id, req.params.id))) throw missing(req.params.id)
        return reply.status(204).send(null)
      },
    )
  })
}
