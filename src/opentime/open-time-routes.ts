/**
 * GET (and HEAD) /o/<token>/<block>.png|.gif|.json and /o/<token>/view: open-time content
 * (open-time-service.ts decides everything; this only maps HTTP in and out).
 *
 * A wildcard route, as the tracking routes: fastify refuses path parameters over 100 characters
 * and an open-time token is longer. HEAD gets GET's status and headers, records nothing. A failure
 * that is not about data (a store down, a render worker lost, a bug) is a 5xx with the stable code —
 * and still an image for an image URL, so the inbox shows nothing rather than a broken-image icon.
 */
import type { FastifyInstance } from 'fastify'
import { isInkError } from '../core/errors.ts'
import { parseOpenPath, refusal } from './open-responses.ts'
import type { OpenTimeService } from './open-time-service.ts'

export interface OpenTimeRoutesDeps {
  service: OpenTimeService
}

export async function openTimeRoutes(app: FastifyInstance, deps: OpenTimeRoutesDeps): Promise<void> {
  app.get<{ Params: { '*': string }; Querystring: Record<string, unknown> }>('/o/*', async (req, reply) => {
    const path = req.params['*']
    let res: Awaited<ReturnType<OpenTimeService['handle']>>
    try {
      res = await deps.service.handle({
        path,
        method: req.method,
        headers: req.headers,
        query: req.query ?? {},
      })
    } catch (err) {
      req.log.error({ err }, 'open-time request failed')
      const surface = parseOpenPath(path).surface
      // A render worker lost or silent (INK_ERR_WORKER_*) says so; anything else is a bug.
      res = isInkError(err)
        ? refusal(surface, err.statusCode, err.code, err.message)
        : refusal(surface, 500, 'INK_ERR_INTERNAL', 'internal error; the server log has the details')
    }
    reply.status(res.status).headers(res.headers)
    return res.body === undefined ? reply.send() : reply.send(res.body)
  })
}
