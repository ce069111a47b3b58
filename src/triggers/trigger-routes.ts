/** Triggers API (admin key): PUT/GET/DELETE /v1/triggers/:id and GET /v1/triggers. */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { InkError, notFound } from '../core/errors.ts'
import { adminScope } from '../http/admin-scope.ts'
import { resourceRoutes } from '../http/resource-routes.ts'
import { isoTime } from '../http/schemas.ts'
import type { TopicStore } from '../topics/topic-store.ts'
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
  /** To refuse a trigger naming a topic the workspace does not have. */
  topics?: Pick<TopicStore, 'get'> | undefined
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
    resourceRoutes(admin, {
      path: '/v1/triggers',
      key: 'triggers',
      kind: 'trigger',
      summaries: {
        put: 'Create or replace a trigger (its template must exist and compile)',
        list: 'All triggers',
        get: 'A trigger',
        delete: 'Delete a trigger',
      },
      body: triggerBody,
      item: trigger,
      put: async (ws, id, body) => {
        const input = parseTrigger(body, deps.defaultFrom)
        await deps.renderer.compiled(ws, input.templateId)
        if (input.topic !== undefined && deps.topics && !(await deps.topics.get(ws, input.topic)))
          throw new InkError(
            'INK_ERR_BAD_REQUEST',
            `topic "${input.topic}" does not exist; create it first with PUT /v1/topics/${input.topic}`,
          )
        return triggers.put(ws, id, input)
      },
      list: (ws) => triggers.list(ws),
      get: (ws, id) => triggers.get(ws, id),
      remove: (ws, id) => triggers.delete(ws, id),
      view,
      missing,
    })
  })
}
