/** The one place errors become HTTP responses: `{ success: false, code, message, ...details }`. */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InkError, isInkError, payloadTooLarge } from '../core/errors.ts'
import { bodyName } from '../ingest/body-name.ts'

/**
 * SQLite's "database is locked" past its busy timeout (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT,
 * SQLITE_LOCKED) and PostgreSQL's serialization failure, deadlock and lock-wait errors: a moment of
 * contention on the store, not a fault of the request or of the server. The statement was rolled
 * back, so answering 503 with Retry-After lets the caller repeat it.
 */
const BUSY_PG_CODES = new Set(['40001', '40P01', '55P03'])
function storeBusy(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? Reflect.get(err, 'code') : undefined
  if (typeof code !== 'string') return false
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || BUSY_PG_CODES.has(code)
}

/** Fastify's own errors, translated at the boundary so clients only ever see INK_ERR_* codes. */
function translate(err: FastifyError, req: FastifyRequest): InkError {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return payloadTooLarge(req.routeOptions.bodyLimit ?? 0, bodyName(req))
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new InkError(
        'INK_ERR_UNSUPPORTED_MEDIA_TYPE',
        'this Content-Type is not supported; send application/json',
        {
          cause: err,
        },
      )
    default:
      break
  }
  if (storeBusy(err))
    return new InkError(
      'INK_ERR_STORE_BUSY',
      'the store is busy: another writer held its lock too long; retry in a moment',
      { cause: err },
    )
  const status = err.statusCode ?? 500
  if (status >= 400 && status < 500) return new InkError('INK_ERR_BAD_REQUEST', err.message, { cause: err })
  return new InkError('INK_ERR_INTERNAL', 'internal error; the server log has the details', { cause: err })
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | InkError, req: FastifyRequest, reply: FastifyReply) => {
    const ink = isInkError(err) ? err : translate(err, req)
    if (ink.statusCode >= 500) req.log.error({ err }, 'request failed')
    const details = typeof ink.details === 'object' && ink.details !== null ? ink.details : {}
    if (ink.code === 'INK_ERR_LOG_UNAVAILABLE' || ink.code === 'INK_ERR_STORE_BUSY')
      reply.header('retry-after', '1')
    return reply
      .status(ink.statusCode)
      .send({ success: false, code: ink.code, message: ink.message, ...details })
  })
  // A browser can only read a cross-origin answer that allows it: the collector's CORS hook does not
  // run for unknown paths, and a 404 reveals nothing, so every 404 allows any origin.
  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .header('access-control-allow-origin', '*')
      .send({
        success: false,
        code: 'INK_ERR_NOT_FOUND',
        message: `no route ${req.method} ${req.url.split('?')[0]}; see the README for the API`,
      }),
  )
}
