/**
 * The admin scope: every admin route is registered inside it (`adminScope(app, workspaces, routes)`).
 * - One onRequest hook checks the admin key (or the dashboard's session cookie and CSRF token,
 *   ui/session.ts) and sets `req.workspace`, before the body is even read:
 *   a handler reads `req.workspace` and cannot forget the check (401 INK_ERR_UNAUTHORIZED).
 * - Bodies holding U+0000 or nested too deep are refused next (admin-body.ts).
 * - Each route's zod schemas validate params, query and body (→ 400 INK_ERR_BAD_REQUEST naming each
 *   field, through the one error handler) and serialize its responses; /openapi.json is generated
 *   from the same schemas. Every route gets the error responses and the admin security requirement.
 */
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifySchemaCompiler,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify'
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { z } from 'zod'
import { InkError } from '../core/errors.ts'
import type { Workspace, WorkspaceStore } from '../workspaces/workspace-store.ts'
import { ADMIN_SECURITY, requestWorkspace } from './admin-auth.ts'
import { refuseNulCharacters } from './admin-body.ts'
import { errorResponses } from './schemas.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The workspace whose admin key authenticated the request. Set by the admin scope's hook: admin routes only. */
    workspace: Workspace
  }
}

/** A fastify scope whose route schemas are zod schemas (typed `req.params`, `req.query`, `req.body`). */
export type AdminApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>

/** `invalid request: <field>: <problem>; …`, with the list as `issues` (docs/errors.md). */
export function invalidRequest(issues: readonly z.core.$ZodIssue[]): InkError {
  const list = issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
  return new InkError('INK_ERR_BAD_REQUEST', `invalid request: ${list.join('; ')}`, {
    details: { issues: list },
  })
}

/** Validates with the route's zod schema; a request without a body is validated as `{}`. */
const zodValidator: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const r = schema.safeParse(httpPart === 'body' && data === null ? {} : data)
    return r.success ? { value: r.data } : { error: invalidRequest(r.error.issues) }
  }

/** Registers `routes` in their own scope, behind the admin key. */
export async function adminScope(
  app: FastifyInstance,
  workspaces: WorkspaceStore,
  routes: (scope: AdminApp) => void | Promise<void>,
): Promise<void> {
  await app.register(async (scope) => {
    scope.decorateRequest('workspace')
    scope.addHook('onRequest', async (req) => {
      req.workspace = requestWorkspace(req, workspaces, Date.now())
    })
    scope.addHook('onRoute', (route) => {
      route.schema = {
        ...route.schema,
        security: ADMIN_SECURITY,
        response: { ...errorResponses, ...(route.schema?.response ?? {}) },
      }
    })
    scope.setValidatorCompiler(zodValidator)
    scope.setSerializerCompiler(serializerCompiler)
    refuseNulCharacters(scope)
    await routes(scope.withTypeProvider<ZodTypeProvider>())
  })
}
