/** What a route calls its body in a 413: set on each collector route, read by the one error handler. */
import type { FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a too-large body is called in the 413 message ("the batch", "the event"). */
    bodyName?: string
  }
}

/** The route's name for its body, the one answer to "is this a batch?" for every 413. */
export const bodyName = (req: FastifyRequest): string =>
  req.routeOptions.config?.bodyName ?? 'the request body'
