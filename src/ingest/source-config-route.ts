/**
 * GET /sourceConfig: the minimal source configuration RudderStack's JavaScript SDK (v3) fetches
 * from its `configUrl` before it sends anything. Inkstream has no destinations to hand out, so
 * the answer is an enabled source with no device-mode destinations and no error or metrics
 * reporting (those would post to RudderStack's own servers). Registered in the collector's
 * scope, so it carries the same CORS headers; the SDK sends the write key as Basic auth.
 */
import type { FastifyInstance } from 'fastify'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import { isPlainObject } from './validate.ts'
import { authenticate } from './write-key.ts'

export function sourceConfigRoute(app: FastifyInstance, workspaces: WorkspaceStore): void {
  // The SDK appends /sourceConfig/ to its configUrl; accept the path with and without the slash.
  for (const path of ['/sourceConfig', '/sourceConfig/']) {
    app.get(path, async (req, reply) => {
      const query = isPlainObject(req.query) ? req.query : {}
      const ws = authenticate(req, query.writeKey, workspaces, 'as the "writeKey" query parameter')
      // Each page load asks; a short cache spares the round trip on the next pages.
      reply.header('cache-control', 'private, max-age=300')
      return {
        isHosted: false,
        source: {
          id: ws.id,
          name: ws.id,
          workspaceId: ws.id,
          writeKey: ws.writeKey,
          enabled: true,
          config: {},
          destinations: [],
        },
      }
    })
  }
}
