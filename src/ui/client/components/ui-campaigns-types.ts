/**
 * The admin API's answers the segments and campaigns pages read (the zod schemas in
 * src/segments/segment-routes.ts, src/triggers/trigger-def.ts, src/campaigns/campaign-routes.ts and
 * src/analytics/analytics-routes.ts are the source; these are the fields the pages use).
 */

export interface Segment {
  id: string
  name: string
  condition: Record<string, unknown>
  version: number
  backfilled: boolean
  updatedAt: string
}

export interface SegmentCount {
  id: string
  count: number
  capped: boolean
  backfilled: boolean
}

export interface Trigger {
  id: string
  event: string
  unless?: { event: string; withinMs: number }
  segment?: string
  templateId: string
  from: string
  delayMs: number
  frequencyCap?: { max: number; perMs: number }
  updatedAt: string
}

export const CAMPAIGN_STATES = ['draft', 'running', 'paused', 'done', 'failed', 'cancelled'] as const
export type CampaignState = (typeof CAMPAIGN_STATES)[number]

export interface Progress {
  sending: number
  sent: number
  failed: number
  unknown: number
  suppressed: number
  skipped: number
  deferred: number
  total?: number
  remaining?: number
  ratePerSecond?: number
  etaMs?: number
}

export interface Campaign {
  id: string
  name: string
  templateId: string
  templateVersion: number | null
  from: string | null
  audience: { userIds: string[] } | { segment: string }
  ratePerSecond: number | null
  state: CampaignState
  error: string | null
  reason: string | null
  createdAt: number
  updatedAt: number
  startedAt: number | null
  finishedAt: number | null
  progress?: Progress
}

export interface Stats {
  sent: number
  delivered: number
  bounced: number
  failed: number
  opens: number
  uniqueOpens: number
  machineOpens: number
  clicks: number
  uniqueClicks: number
  unsubscribes: number
  conversions: number
  revenue: number
  fallbackSends: number
  clickThroughRate: number | null
  clickToOpenRate: number | null
  fallbackUsage: number | null
}

export interface StatsAnswer {
  id: string
  totals: Stats
}

export interface TemplateSummary {
  templateId: string
  name: string
  latestVersion: number
}

/** Recipients handled (an outcome written): everything but rows in flight or waiting for a retry. */
export const handled = (p: Progress): number => p.sent + p.failed + p.unknown + p.suppressed + p.skipped

/** "segment gold" or "3 users". */
export const audienceText = (a: Campaign['audience']): string =>
  'segment' in a ? `segment ${a.segment}` : `${a.userIds.length} user${a.userIds.length === 1 ? '' : 's'}`
