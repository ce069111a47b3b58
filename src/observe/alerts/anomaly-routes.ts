/**
 * Anomaly API (admin key):
 * - GET /v1/anomalies?state=active|ended&series=&limit= — alert episodes, newest first;
 * - GET /v1/anomalies/rollups?series=&from=&to= — the merged per-minute values (for charts): every
 *   minute in [from, to), null where there was no data.
 * Alerts and rollups belong to the deployment (every workspace's admin sees the same ones).
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { InkError } from '../../core/errors.ts'
import type { Clock } from '../../core/types.ts'
import { adminScope } from '../../http/admin-scope.ts'
import { isoTime } from '../../http/schemas.ts'
import type { WorkspaceStore } from '../../workspaces/workspace-store.ts'
import { BASE_SERIES, CC_SERIES_PREFIX, seriesOf } from '../rollups/rollup-series.ts'
import { MINUTE_MS, minuteOf, type RollupStore } from '../rollups/rollup-store.ts'
import { alertView } from './alert-effects.ts'
import { ALERT_STATES, type AlertStore } from './alert-store.ts'

export interface AnomalyRoutesDeps {
  alerts: AlertStore
  rollups: RollupStore
  workspaces: WorkspaceStore
  clock: Clock
}

/** The longest range /v1/anomalies/rollups answers: 7 days of minutes. */
export const MAX_RANGE_MS = 7 * 86_400_000

const SERIES = `series is one of ${BASE_SERIES.join(', ')} or ${CC_SERIES_PREFIX}<source>`
const seriesName = z
  .string()
  .refine(
    (s) =>
      (BASE_SERIES as readonly string[]).includes(s) ||
      (s.startsWith(CC_SERIES_PREFIX) && s.length > CC_SERIES_PREFIX.length && s.length <= 300),
    SERIES,
  )
const LIMIT = 'limit must be an integer from 1 to 1000'
const TIME = 'an ISO 8601 time, e.g. 2026-01-01T00:00:00Z'

const alert = z.strictObject({
  id: z.string().meta({ description: '`<series>@<start, epoch ms>`.' }),
  series: z.string(),
  state: z.enum(ALERT_STATES),
  startedAt: isoTime.meta({ description: 'The first anomalous minute.' }),
  endedAt: isoTime.nullable().meta({ description: 'Set once the series has been normal again for a while.' }),
  expected: z.strictObject({ lower: z.number(), upper: z.number() }),
  observed: z.number().meta({ description: 'The value of the first anomalous minute.' }),
  peakScore: z
    .number()
    .meta({ description: 'The highest score of the episode (robust standard deviations).' }),
})

const rollupsQuery = z
  .object({
    series: seriesName.optional(),
    from: z.iso.datetime({ offset: true, error: `from: ${TIME}` }).optional(),
    to: z.iso.datetime({ offset: true, error: `to: ${TIME}` }).optional(),
  })
  .superRefine((q, ctx) => {
    const to = q.to === undefined ? undefined : Date.parse(q.to)
    const from = q.from === undefined ? undefined : Date.parse(q.from)
    if (from !== undefined && to !== undefined && from >= to)
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'from must be before to' })
    if (from !== undefined && to !== undefined && to - from > MAX_RANGE_MS)
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'the range is at most 7 days' })
    // `to` rounds up to the next minute, whose time must still be written as an ISO year of 4 digits.
    if (to !== undefined && Math.ceil(to / 60_000) * 60_000 > LAST_MINUTE)
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'to: at most 9999-12-31T23:59:00Z' })
  })

/** The last minute the answer's ISO times can name (year 9999); a later `to` answered 500. */
const LAST_MINUTE = Date.UTC(9999, 11, 31, 23, 59)

export async function anomalyRoutes(app: FastifyInstance, deps: AnomalyRoutesDeps): Promise<void> {
  await adminScope(app, deps.workspaces, (admin) => {
    admin.get(
      '/v1/anomalies',
      {
        schema: {
          summary: 'Anomaly alert episodes of the rollup series, newest first',
          querystring: z.object({
            state: z.enum(ALERT_STATES, `state is one of ${ALERT_STATES.join(', ')}`).optional(),
            series: seriesName.optional(),
            limit: z.coerce.number(LIMIT).int(LIMIT).min(1, LIMIT).max(1000, LIMIT).default(100),
          }),
          response: { 200: z.strictObject({ anomalies: z.array(alert) }) },
        },
      },
      async (req) => {
        const { state, series, limit } = req.query
        const rows = await deps.alerts.list({
          limit,
          ...(state === undefined ? {} : { state }),
          ...(series === undefined ? {} : { series }),
        })
        return { anomalies: rows.map(alertView) }
      },
    )
    admin.get(
      '/v1/anomalies/rollups',
      {
        schema: {
          summary:
            'Per-minute values of the rollup series, merged over every process (default: the last hour)',
          querystring: rollupsQuery,
          response: {
            200: z.strictObject({
              from: isoTime,
              to: isoTime,
              minutes: z.array(
                z.strictObject({
                  t: isoTime.meta({ description: "The minute's start." }),
                  values: z.record(z.string(), z.number().nullable()),
                }),
              ),
            }),
          },
        },
      },
      async (req) => {
        const { series } = req.query
        // Whole minutes: `to` rounds up (the current minute is included while it fills), `from` down.
        const to =
          req.query.to === undefined
            ? minuteOf(deps.clock.now()) + MINUTE_MS
            : ceilMinute(Date.parse(req.query.to))
        const from = req.query.from === undefined ? to - 3_600_000 : minuteOf(Date.parse(req.query.from))
        if (from >= to)
          throw new InkError('INK_ERR_BAD_REQUEST', 'invalid request: from: from must be before to')
        if (to - from > MAX_RANGE_MS)
          throw new InkError('INK_ERR_BAD_REQUEST', 'invalid request: to: the range is at most 7 days')
        const merged = await deps.rollups.merged(from, to)
        const minutes = []
        for (let m = from; m < to; m += MINUTE_MS) {
          const got = merged.get(m)
          const all = got ? seriesOf(got) : new Map<string, number | null>()
          const values: Record<string, number | null> = {}
          if (series !== undefined) values[series] = all.get(series) ?? null
          else {
            for (const s of BASE_SERIES) values[s] = null
            for (const [s, v] of all) values[s] = v
          }
          minutes.push({ t: new Date(m).toISOString(), values })
        }
        return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), minutes }
      },
    )
  })
}

const ceilMinute = (t: number): number => Math.ceil(t / MINUTE_MS) * MINUTE_MS
