/**
 * GET (and HEAD) /o/<token>/<block>.png|.gif|.json and /o/<token>/view: open-time content
 * (open-time-service.ts decides everything; this only maps HTTP in and out).
 *
 * A wildcard route, as the tracking routes: fastify refuses path parameters over 100 characters
 * and an open-time token is longer. HEAD gets GET's status and headers, records nothing.
 */
import type { FastifyInstance } from 'fastify'
import type { OpenTimeService } from './open-time-service.ts'

export interface OpenTimeRoutesDeps {
  service: OpenTimeService
}

export async function openTimeRoutes(app: FastifyInstance, deps: OpenTimeRoutesDeps): Promise<void> {
  app.get<{ Params: { '*': string }; Querystring: Record<string, unknown> }>('/o/*', async (req, reply) => {
    const res = await deps.service.handle({
      path: req.params['*'],
      method: req.method,
      headers: req.headers,
      query: req.query ?? {},
    })
    reply.status(res.status).headers(res.headers)
    return res.body === undefined ? reply.send() : reply.send(res.body)
  })
}
