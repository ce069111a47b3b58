/** Triggers API (admin key): PUT/GET/DELETE /v1/triggers/:id and GET /v1/triggers. */
import type { FastifyInstance } from 'fastify'
import { InkError, notFound } from '../core/errors.ts'
import { adminWorkspace } from '../http/admin-auth.ts'
import { refuseNulCharacters } from '../http/admin-body.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import { parseTrigger, type TriggerDef } from './trigger-def.ts'
import type { TriggerStore } from './trigger-store.ts'

export interface TriggerRoutesDeps {
  triggers: TriggerStore
  workspaces: WorkspaceStore
  /** Throws (404, 422) when the template does not exist or does not compile. */
  renderer: { compiled(ws: string, templateId: string): Promise<unknown> }
  /** INKSTREAM_FROM: the sender of triggers that set none. */
  defaultFrom: string | undefined
}

const ID = /^[A-Za-z0-9_.-]{1,100}$/

const view = ({ workspaceId: _ws, triggerId, updatedAt, ...def }: TriggerDef) => ({
  id: triggerId,
  ...def,
  updatedAt: new Date(updatedAt).toISOString(),
})

export async function triggerRoutes(app: FastifyInstance, deps: TriggerRoutesDeps): Promise<void> {
  refuseNulCharacters(app)
  const { triggers, workspaces } = deps

  app.put<{ Params: { id: string }; Body: unknown }>('/v1/triggers/:id', async (req) => {
    const ws = adminWorkspace(req, workspaces)
    if (!ID.test(req.params.id))
      throw new InkError('INK_ERR_BAD_REQUEST', 'a trigger id is 1-100 letters, digits, "_", "-" or "."')
    const input = parseTrigger(req.body, deps.defaultFrom)
    await deps.renderer.compiled(ws.id, input.templateId)
    return view(await triggers.put(ws.id, req.params.id, input))
  })

  app.get('/v1/triggers', async (req) => {
    const ws = adminWorkspace(req, workspaces)
    return { triggers: (await triggers.list(ws.id)).map(view) }
  })

  app.get<{ Params: { id: string } }>('/v1/triggers/:id', async (req) => {
    const ws = adminWorkspace(req, workspaces)
    const t = await triggers.get(ws.id, req.params.id)
    if (!t) throw notFound(`a trigger with id "${req.params.id}"`)
    return view(t)
  })

  app.delete<{ Params: { id: string } }>('/v1/triggers/:id', async (req, reply) => {
    const ws = adminWorkspace(req, workspaces)
    if (!(await triggers.delete(ws.id, req.params.id))) throw notFound(`a trigger with id "${req.params.id}"`)
    return reply.status(204).send()
  })
}
