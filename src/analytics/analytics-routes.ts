/**
 * Admin API for engagement analytics (read from the counters the analytics consumer keeps):
 *   GET /v1/campaigns/:id/stats   totals, per template version breakdown and rates
 *   GET /v1/triggers/:id/stats    the same for a trigger's messages
 *   GET /v1/analytics/timeseries?campaign=|trigger=|template=&bucket=5m|1h|1d&from=&to=
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { CampaignStore } from '../campaigns/campaign-store.ts'
import type { TemplateStore } from '../content/template-store.ts'
import { InkError, notFound } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import { adminScope } from '../http/admin-scope.ts'
import { epochMs, idParams } from '../http/schemas.ts'
import type { TriggerStore } from '../triggers/trigger-store.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import type { AnalyticsStore, SeriesFilter } from './analytics-store.ts'
import { addCounter, COUNTER_FIELDS, type Counters, zeroCounters } from './engagement-rules.ts'
import { AGE_BUCKET_FIELDS, AGE_EDGES_MS, ageQuantile } from './open-time-freshness.ts'

export interface AnalyticsRoutesDeps {
  analytics: AnalyticsStore
  campaigns: Pick<CampaignStore, 'get'>
  triggers: Pick<TriggerStore, 'get'>
  templates: Pick<TemplateStore, 'getVersion'>
  workspaces: WorkspaceStore
  clock: Clock
}

export const BUCKETS = { '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 } as const
/** Most points one time series answer holds. */
export const MAX_POINTS = 2_000

const int = z.number().int()
const rate = z.number().nullable()
const counts = z.strictObject({
  sent: int.meta({ description: 'Email Sent: messages the mail server accepted.' }),
  delivered: int.meta({ description: 'sent minus the bounces of messages that had been sent.' }),
  bounced: int,
  failed: int,
  opens: int.meta({ description: 'Human opens, every one (machine opens apart).' }),
  uniqueOpens: int.meta({ description: 'Messages with at least one human open.' }),
  machineOpens: int.meta({ description: 'Opens by proxies, scanners or within 2 s of the send.' }),
  clicks: int,
  uniqueClicks: int,
  unsubscribes: int,
  conversions: int,
  revenue: z.number(),
  fallbackSends: int.meta({ description: 'Sent messages whose render took at least one fallback.' }),
  liveRenders: int.meta({
    description: 'Open-time renders (live blocks, AMP JSON, web view), as open events.',
  }),
  liveFallbacks: int.meta({ description: 'Open-time renders that took at least one fallback.' }),
  clickThroughRate: rate.meta({ description: 'uniqueClicks / delivered; null when nothing was delivered.' }),
  clickToOpenRate: rate.meta({ description: 'uniqueClicks / uniqueOpens; null without opens.' }),
  fallbackUsage: rate.meta({ description: 'fallbackSends / sent; null when nothing was sent.' }),
  liveFallbackUsage: rate.meta({
    description: 'liveFallbacks / liveRenders; null without open-time renders.',
  }),
})
const ms = z.number().nullable()
const openTime = z
  .strictObject({
    renders: int.meta({ description: 'Open-time renders recorded (one open event per message per 10 s).' }),
    fallbacks: int.meta({
      description: 'Renders that fell back (data late or missing, or the drawing late).',
    }),
    fallbackRate: z.number().meta({ description: 'fallbacks / renders.' }),
    withData: int.meta({
      description:
        'Renders that showed data (no fallback) and so have a data age; the ages below are of these.',
    }),
    dataAgeP50Ms: ms.meta({
      description:
        'Median data age, estimated from the buckets: the upper edge of the bucket holding it (capped by dataAgeMaxMs), never below the true value. null when withData is 0.',
    }),
    dataAgeP95Ms: ms.meta({ description: '95th percentile of the data age, estimated as dataAgeP50Ms.' }),
    dataAgeMeanMs: ms.meta({ description: 'Mean data age (exact).' }),
    dataAgeMaxMs: ms.meta({ description: 'Oldest data shown (exact).' }),
    dataAgeBuckets: z
      .array(
        z.strictObject({
          upToMs: ms.meta({ description: 'Upper edge (inclusive); null for the bucket past the last edge.' }),
          count: int,
        }),
      )
      .meta({ description: 'Renders with data per age bucket (not cumulative).' }),
  })
  .nullable()
  .meta({
    description:
      'Open-time freshness: how old the data shown by live blocks, AMP JSON and web views was when they were rendered (the oldest of the profile read and the connected-content responses used; 0 for data read by that render). null without open-time renders.',
  })

const stats = z.strictObject({
  ...counts.shape,
  openTime,
})
const versionStats = stats.extend({
  templateId: z
    .string()
    .meta({ description: "'' when the send did not say (an open before the send event)." }),
  templateVersion: int,
})
const statsResponse = z.strictObject({
  id: z.string(),
  totals: stats,
  versions: z.array(versionStats),
})

const ratio = (n: number, d: number) => (d > 0 ? n / d : null)

/** The freshness figures of open-time renders (open-time-freshness.ts); null without any. */
export function openTimeOf(c: Counters): z.infer<typeof openTime> {
  if (c.liveRenders <= 0) return null
  const buckets = AGE_BUCKET_FIELDS.map((f) => c[f])
  const aged = c.liveAged > 0
  return {
    renders: c.liveRenders,
    fallbacks: c.liveFallbacks,
    fallbackRate: c.liveFallbacks / c.liveRenders,
    withData: c.liveAged,
    dataAgeP50Ms: ageQuantile(buckets, 0.5, c.liveAgeMaxMs),
    dataAgeP95Ms: ageQuantile(buckets, 0.95, c.liveAgeMaxMs),
    dataAgeMeanMs: aged ? c.liveAgeSumMs / c.liveAged : null,
    dataAgeMaxMs: aged ? c.liveAgeMaxMs : null,
    dataAgeBuckets: buckets.map((count, i) => ({ upToMs: AGE_EDGES_MS[i] ?? null, count })),
  }
}

export function withRates(c: Counters): z.infer<typeof stats> {
  const delivered = c.sent - c.bouncedAfterSent
  // The freshness counters are answered as `openTime`, not one by one.
  const {
    bouncedAfterSent: _sent,
    liveAged: _aged,
    liveAgeSumMs: _sum,
    liveAgeMaxMs: _max,
    liveAgeLe100ms: _b1,
    liveAgeLe1s: _b2,
    liveAgeLe5s: _b3,
    liveAgeLe15s: _b4,
    liveAgeLe30s: _b5,
    liveAgeLe1m: _b6,
    liveAgeLe2m: _b7,
    liveAgeLe5m: _b8,
    liveAgeLe10m: _b9,
    liveAgeOver10m: _b10,
    ...rest
  } = c
  return {
    ...rest,
    openTime: openTimeOf(c),
    delivered,
    clickThroughRate: ratio(c.uniqueClicks, delivered),
    clickToOpenRate: ratio(c.uniqueClicks, c.uniqueOpens),
    fallbackUsage: ratio(c.fallbackSends, c.sent),
    liveFallbackUsage: ratio(c.liveFallbacks, c.liveRenders),
  }
}

function sum(all: readonly Counters[]): Counters {
  const total = zeroCounters()
  for (const c of all) for (const k of COUNTER_FIELDS) addCounter(total, k, c[k])
  return total
}

/** The latest time a Date holds (±8.64e15 ms). Past it, epoch numbers are too coarse to step through. */
const MAX_TIME_MS = 8.64e15

/**
 * ISO 8601 as a Date reads it without guessing: a date (UTC), or a date and time with its zone. A
 * time without a zone would be read in the server's zone, and Date.parse takes much else besides
 * (`-5` was 2001-05-01, `1/2/2026` a date; found by a review).
 */
const ISO_TIME = /^([+-]\d{6}|\d{4})-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/

/** An epoch-ms number or an ISO-8601 time, within a Date's range. */
const time = z
  .string()
  .max(40)
  .transform((s, ctx) => {
    const n = /^\d+$/.test(s) ? Number(s) : ISO_TIME.test(s) ? Date.parse(s) : Number.NaN
    // Above 2^53 adjacent doubles are further apart than a bucket: `t += bucket` would not move.
    if (!Number.isFinite(n) || n > MAX_TIME_MS) {
      ctx.addIssue({
        code: 'custom',
        message:
          'epoch milliseconds or an ISO-8601 time with its zone, e.g. 2026-01-01T00:00:00Z (up to the year 275760)',
      })
      return z.NEVER
    }
    return n
  })

const seriesQuery = z
  .object({
    campaign: z.string().min(1).max(200).optional(),
    trigger: z.string().min(1).max(200).optional(),
    template: z.string().min(1).max(200).optional(),
    bucket: z.enum(['5m', '1h', '1d']).default('1h'),
    from: time.optional().meta({ description: 'Default: `to` minus 24 hours.' }),
    to: time.optional().meta({ description: 'Default: now. Exclusive.' }),
  })
  .strict()

const point = stats.extend({ t: epochMs.meta({ description: 'Start of the bucket (UTC).' }) })
const seriesResponse = z.strictObject({
  bucket: z.enum(['5m', '1h', '1d']),
  from: epochMs,
  to: epochMs,
  points: z.array(point),
})

const badRequest = (message: string, field: string) =>
  new InkError('INK_ERR_BAD_REQUEST', `invalid request: ${field}: ${message}`, {
    details: { issues: [`${field}: ${message}`] },
  })

export async function analyticsRoutes(app: FastifyInstance, deps: AnalyticsRoutesDeps): Promise<void> {
  const { analytics } = deps
  const statsOf = async (ws: string, id: string, campaignId: string) => {
    const versions = await analytics.totals(ws, campaignId)
    return {
      id,
      totals: withRates(sum(versions.map((v) => v.counters))),
      versions: versions.map((v) => ({
        templateId: v.templateId,
        templateVersion: v.templateVersion,
        ...withRates(v.counters),
      })),
    }
  }

  await adminScope(app, deps.workspaces, (admin) => {
    admin.get(
      '/v1/campaigns/:id/stats',
      {
        schema: {
          summary: 'Engagement of a campaign: totals, per template version, and rates',
          params: idParams,
          response: { 200: statsResponse },
        },
      },
      async (req) => {
        const ws = req.workspace.id
        if ((await deps.campaigns.get(ws, req.params.id)) === undefined)
          throw notFound(`campaign "${req.params.id}"`)
        return statsOf(ws, req.params.id, req.params.id)
      },
    )

    admin.get(
      '/v1/triggers/:id/stats',
      {
        schema: {
          summary: "Engagement of a trigger's messages: totals, per template version, and rates",
          params: idParams,
          response: { 200: statsResponse },
        },
      },
      async (req) => {
        const ws = req.workspace.id
        if ((await deps.triggers.get(ws, req.params.id)) === undefined)
          throw notFound(`trigger "${req.params.id}"`)
        return statsOf(ws, req.params.id, `trigger:${req.params.id}`)
      },
    )

    admin.get(
      '/v1/analytics/timeseries',
      {
        schema: {
          summary: 'Engagement per time bucket of one campaign, trigger or template',
          querystring: seriesQuery,
          response: { 200: seriesResponse },
        },
      },
      async (req) => {
        const ws = req.workspace.id
        const q = req.query
        const given = (['campaign', 'trigger', 'template'] as const).filter((k) => q[k] !== undefined)
        if (given.length !== 1)
          throw badRequest('give exactly one of campaign, trigger or template', given.join(',') || 'campaign')
        const size = BUCKETS[q.bucket]
        const to = q.to ?? deps.clock.now()
        const from = q.from ?? to - 86_400_000
        if (from >= to) throw badRequest('must be before `to`', 'from')
        // Whole buckets: the first one holds `from`, the last one holds `to - 1`.
        const start = Math.floor(from / size) * size
        const end = Math.ceil(to / size) * size
        if ((end - start) / size > MAX_POINTS)
          throw badRequest(
            `more than ${MAX_POINTS} buckets; choose a larger bucket or a shorter range`,
            'from',
          )
        let filter: SeriesFilter
        if (q.campaign !== undefined) {
          if ((await deps.campaigns.get(ws, q.campaign)) === undefined)
            throw notFound(`campaign "${q.campaign}"`)
          filter = { campaignId: q.campaign }
        } else if (q.trigger !== undefined) {
          if ((await deps.triggers.get(ws, q.trigger)) === undefined) throw notFound(`trigger "${q.trigger}"`)
          filter = { campaignId: `trigger:${q.trigger}` }
        } else {
          const template = q.template as string
          if ((await deps.templates.getVersion(ws, template)) === undefined)
            throw notFound(`template "${template}"`)
          filter = { templateId: template }
        }
        const rows = new Map(
          (await analytics.series(ws, filter, start, end, size)).map((p) => [p.t, p.counters]),
        )
        const points = []
        for (let t = start; t < end; t += size)
          points.push({ t, ...withRates(rows.get(t) ?? zeroCounters()) })
        return { bucket: q.bucket, from: start, to: end, points }
      },
    )
  })
}
