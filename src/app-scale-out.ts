/**
 * Scale-out mode as one object (tests): the roles of INKSTREAM_ROLES on Kafka, PostgreSQL and
 * Redis, composed by the one composition root (src/compose/root.ts; the roles are described in
 * src/compose/scale-out.ts and src/compose/roles.ts).
 */
import type { RouteOptions } from 'fastify'
import type { Logger } from 'pino'
import { type ComposedApp, composeScaleOut } from './compose/root.ts'
import type { Config } from './config.ts'
import type { Clock } from './core/types.ts'

/** The scale-out app as tests use it: the composed app without its backends, services and banner. */
export type ScaleOutApp = Pick<
  ComposedApp,
  'config' | 'roles' | 'server' | 'workspace' | 'metrics' | 'log' | 'listen' | 'close'
>

export async function createScaleOutApp(
  config: Config,
  opts: { clock?: Clock; logger?: Logger; onRoute?: (route: RouteOptions) => void } = {},
): Promise<ScaleOutApp> {
  const app = await composeScaleOut(config, { env: process.env, ...opts })
  return {
    config,
    roles: app.roles,
    server: app.server,
    workspace: app.workspace,
    metrics: app.metrics,
    log: app.log,
    listen: app.listen,
    close: app.close,
  }
}
