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
import { type Counters, zeroCounters } from './engagement-rules.ts'

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
const stats = z.strictObject({
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

export function withRates(c: Counters): z.infer<typeof stats> {
  const delivered = c.sent - c.bouncedAfterSent
  const { bouncedAfterSent: _, ...rest } = c
  return {
    ...rest,
    delivered,
    clickThroughRate: ratio(c.uniqueClicks, delivered),
    clickToOpenRate: ratio(c.uniqueClicks, c.uniqueOpens),
    fallbackUsage: ratio(c.fallbackSends, c.sent),
    liveFallbackUsage: ratio(c.liveFallbacks, c.liveRenders),
  }
}

function sum(all: readonly Counters[]): Counters {
  const total = zeroCounters()
  for (const c of all) for (const k of Object.keys(total) as (keyof Counters)[]) total[k] += c[k]
  return total
}

/** An epoch-ms number or an ISO-8601 time. */
const time = z
  .string()
  .max(40)
  .transform((s, ctx) => {
    const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s)
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: 'epoch milliseconds or an ISO-8601 time' })
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
