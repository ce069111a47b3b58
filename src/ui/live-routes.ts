/**
 * GET /ui/api/live — the overview's chart data (issue 13), in the admin scope (the admin key, or the
 * dashboard's session cookie, which an EventSource sends on the same origin).
 * - `Accept: text/event-stream`: Server-Sent Events. First a `snapshot` frame (the last hour: the
 *   rollup minutes before the live points, then every live point held), then, where this process counts everything (all roles in one process: embedded mode), a `point`
 *   frame per live sample (every 2 s, live-sampler.ts). A process without every role (scale-out
 *   `api`) does not see the other roles' metrics in its registry: it sends the per-minute rollups
 *   merged over every instance instead, a fresh `snapshot` every 15 s.
 * - otherwise: the snapshot as JSON (scripts, polling).
 * Streams end when the client goes away and before the server closes (preClose), so close never waits.
 */
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { z } from 'zod'
import type { Clock } from '../core/types.ts'
import { adminScope } from '../http/admin-scope.ts'
import { MINUTE_MS, minuteOf, type RollupStore } from '../observe/rollups/rollup-store.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import { LiveSampler } from './live-sampler.ts'
import { type OverviewPoint, overviewPoint } from './overview-series.ts'

export const LIVE_PATH = '/ui/api/live'
/** The rollup window of a `rollups` snapshot, and how often a stream sends a fresh one. */
export const ROLLUP_WINDOW_MS = 60 * MINUTE_MS
export const ROLLUP_REFRESH_MS = 15_000

export interface LiveRoutesDeps {
  workspaces: WorkspaceStore
  clock: Clock
  rollups: RollupStore
  /** The live sampler of this process's registry where it counts every role; undefined: rollups only. */
  sampler: LiveSampler | undefined
  /** Default 15 s. */
  rollupRefreshMs?: number
}

/**
 * The live routes' dependencies in a process running `roles`: with every role, a started LiveSampler
 * of its registry (closed by `closers`); else none (the rollups are the only complete numbers).
 */
export function composeLive(deps: {
  roles: ReadonlySet<string>
  registry: Registry
  workspaces: WorkspaceStore
  rollups: RollupStore
  clock: Clock
  logger: { warn(obj: unknown, msg: string): void }
  closers: { push(close: () => Promise<void>): void }
}): LiveRoutesDeps {
  const { workspaces, rollups, clock } = deps
  const everyRole = ['collector', 'processor', 'api', 'sender'].every((r) => deps.roles.has(r))
  if (!everyRole) return { workspaces, rollups, clock, sampler: undefined }
  const sampler = new LiveSampler({ registry: deps.registry, clock, logger: deps.logger })
  sampler.start().catch((err: unknown) => deps.logger.warn({ err }, 'live overview sampler did not start'))
  deps.closers.push(() => sampler.close())
  return { workspaces, rollups, clock, sampler }
}

const nullable = z.number().nullable()
const point = z.strictObject({
  t: z.number().meta({ description: 'The end of the interval, epoch ms.' }),
  seconds: z.number().meta({ description: 'The length of the interval.' }),
  ingest: z.number(),
  lagP50: nullable,
  lagP99: nullable,
  renders: z.number(),
  renderP50: nullable,
  renderP95: nullable,
  fallbacks: z.number(),
  sends: z.number(),
  sendFailures: z.number(),
  opens: z.number(),
  clicks: z.number(),
  cc: z.record(z.string(), z.strictObject({ calls: z.number(), success: z.number() })),
})
const snapshot = z.strictObject({
  source: z.enum(['process', 'rollups']).meta({
    description:
      "process: this process's own live samples (it runs every role); rollups: per-minute rollups merged over every instance.",
  }),
  intervalMs: z.number(),
  windowMs: z.number(),
  points: z.array(point),
})
export type LiveSnapshot = z.infer<typeof snapshot>

/** The rollup minutes of the last hour as points (the current minute up to now). */
async function rollupPoints(rollups: RollupStore, now: number): Promise<OverviewPoint[]> {
  const to = minuteOf(now) + MINUTE_MS
  const merged = await rollups.merged(to - ROLLUP_WINDOW_MS, to)
  return [...merged].map(([minute, parts]) => {
    const end = Math.min(minute + MINUTE_MS, now)
    return overviewPoint(parts, end, Math.max(end - minute, 1000) / 1000)
  })
}

const frame = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

export async function liveRoutes(app: FastifyInstance, deps: LiveRoutesDeps): Promise<void> {
  const { sampler, clock } = deps
  const snapshotNow = async (): Promise<LiveSnapshot> => {
    const minutes = await rollupPoints(deps.rollups, clock.now())
    if (!sampler)
      return { source: 'rollups', intervalMs: MINUTE_MS, windowMs: ROLLUP_WINDOW_MS, points: minutes }
    // The hour before the live points, from the rollups: whole minutes that ended before them (no count twice).
    const since = sampler.since
    const history = minutes.filter((p) => p.seconds === 60 && p.t <= since)
    return {
      source: 'process',
      intervalMs: sampler.intervalMs,
      windowMs: ROLLUP_WINDOW_MS,
      points: [...history, ...sampler.points()],
    }
  }
  const streams = new Set<() => void>()

  await adminScope(app, deps.workspaces, (admin) => {
    // Before the server stops accepting and waits for open requests: an open stream would hold it.
    admin.addHook('preClose', async () => {
      for (const end of [...streams]) end()
    })
    admin.get(
      LIVE_PATH,
      {
        schema: {
          summary:
            "The dashboard overview's chart data: as Server-Sent Events with Accept: text/event-stream (a snapshot frame, then a point frame per sample), else this snapshot as JSON",
          response: { 200: snapshot },
        },
      },
      async (req, reply) => {
        const first = await snapshotNow()
        if (!(req.headers.accept ?? '').includes('text/event-stream')) return first
        reply.hijack()
        const res = reply.raw
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
          'x-content-type-options': 'nosniff',
          // Not kept alive once the stream ends: an ended stream's connection is then closed, not left for close() to wait on.
          connection: 'close',
        })
        res.write(`retry: 3000\n${frame('snapshot', first)}`)
        let unsubscribe = () => {}
        let timer: NodeJS.Timeout | undefined
        const end = () => {
          if (!streams.delete(end)) return
          unsubscribe()
          clearInterval(timer)
          res.end()
        }
        streams.add(end)
        req.raw.on('close', end)
        res.on('close', end)
        if (sampler) unsubscribe = sampler.subscribe((p) => res.write(frame('point', p)))
        else
          timer = setInterval(() => {
            snapshotNow().then(
              (s) => streams.has(end) && res.write(frame('snapshot', s)),
              (err: unknown) => req.log.warn({ err }, 'live overview: reading the rollups failed'),
            )
          }, deps.rollupRefreshMs ?? ROLLUP_REFRESH_MS)
        return reply
      },
    )
  })
}
