/**
 * What the call sites record, in one place: each function takes the metrics and the facts the call
 * site has, and applies the label rules (bounded ids, origin from a campaign id, machine opens), so a
 * call site is one line and the rules cannot drift between two of them.
 */
import { isMachineOpen } from './machine-open.ts'
import { idLabel, type Metrics, originOf } from './metrics.ts'

/** A send outcome of the one send path. */
export function countDelivery(
  metrics: Pick<Metrics, 'deliveryOutcomes' | 'labels'>,
  message: { origin: string; campaignId: string },
  kind: string,
): void {
  metrics.deliveryOutcomes.inc({ origin: message.origin, id: idLabel(metrics, message.campaignId), kind })
}

/** A fallback taken by a render; the (template, placeholder) pair is bounded as one. */
export function countFallback(
  metrics: Pick<Metrics, 'fallbacks' | 'labels'>,
  f: { template: string; placeholder: string; reason: string },
): void {
  const pair = metrics.labels.fallback.of(`${f.template}\u0000${f.placeholder}`)
  const [template, placeholder] = pair.includes('\u0000') ? [f.template, f.placeholder] : [pair, pair]
  metrics.fallbacks.inc({ template, placeholder, reason: f.reason })
}

/** A fallback a render took, as its report lists it. */
export interface FallbackTaken {
  placeholder: string
  reason: string
}

/** Each (placeholder, reason) once: a placeholder used in several parts (html and text) is one fallback. */
export function distinctFallbacks(fallbacks: readonly FallbackTaken[]): FallbackTaken[] {
  const seen = new Map<string, FallbackTaken>()
  for (const f of fallbacks) {
    const key = `${f.placeholder}\n${f.reason}`
    if (!seen.has(key)) seen.set(key, { placeholder: f.placeholder, reason: f.reason })
  }
  return [...seen.values()]
}

/** A render's fallbacks of `template`, each (placeholder, reason) once (pre-send and open-time alike). */
export function countFallbacks(
  metrics: Pick<Metrics, 'fallbacks' | 'labels'>,
  template: string,
  fallbacks: readonly FallbackTaken[],
): void {
  for (const f of distinctFallbacks(fallbacks)) countFallback(metrics, { template, ...f })
}

/** One connected-content call: the calls counter, its duration and the response cache's answer. */
export function countConnectedContentCall(
  metrics: Pick<Metrics, 'connectedContentCalls' | 'connectedContentDuration' | 'cacheRequests' | 'labels'>,
  c: { host: string; outcome: string; durationMs: number; cache?: 'hit' | 'miss' | 'stale' | undefined },
): void {
  const source = metrics.labels.source.of(c.host === '' ? 'invalid' : c.host)
  metrics.connectedContentCalls.inc({ source, outcome: c.outcome })
  metrics.connectedContentDuration.observe({ source }, c.durationMs / 1000)
  if (c.cache !== undefined) metrics.cacheRequests.inc({ layer: 'connected_content', result: c.cache })
}

/** A profile read for rendering: `cached` is a hit, `stale` a stale hit, the rest went to the store. */
export function countProfileRead(metrics: Pick<Metrics, 'cacheRequests'>, outcome: string): void {
  const result = outcome === 'cached' ? 'hit' : outcome === 'stale' ? 'stale' : 'miss'
  metrics.cacheRequests.inc({ layer: 'profile', result })
}

/**
 * An open-time block cache lookup (its own inkstream_open_time_cache_total keeps the detail per
 * surface): png, gif and fallback are rendered blocks, img the fetched remote images; `set` is a
 * write, not a lookup, and is left out here.
 */
export function countOpenTimeCache(
  metrics: Pick<Metrics, 'cacheRequests'>,
  layer: string,
  result: string,
): void {
  if (layer === 'set') return
  metrics.cacheRequests.inc({
    layer: layer === 'img' ? 'open_time_image' : 'open_time_block',
    result: result === 'timeout' ? 'error' : result,
  })
}

/** A recorded open (pixel or open-time), counted apart when a machine made it. */
export function countOpen(
  metrics: Pick<Metrics, 'emailOpens'>,
  campaignId: string,
  userAgent: string | undefined,
): void {
  metrics.emailOpens.inc({ origin: originOf(campaignId), machine: String(isMachineOpen(userAgent)) })
}

/** A recorded tracking event of a verified token: opens, clicks and unsubscribes. */
export function countTrackingEvent(
  metrics: Pick<Metrics, 'emailOpens' | 'emailClicks' | 'emailUnsubscribes'>,
  kind: string,
  campaignId: string,
  userAgent: string | undefined,
): void {
  if (kind === 'open') countOpen(metrics, campaignId, userAgent)
  else if (kind === 'click') metrics.emailClicks.inc({ origin: originOf(campaignId) })
  else if (kind === 'unsubscribe') metrics.emailUnsubscribes.inc({ origin: originOf(campaignId) })
}

/**
 * Sets the scrape-time gauges of the send queue and of campaign progress: `due` pending trigger jobs
 * (undefined: this process does not send triggers), and the campaigns this process runs. Progress is
 * reset first, so a finished campaign leaves the gauge; campaigns past the id bound share `other`
 * (their handled and total summed).
 */
export function setSendQueue(
  metrics: Pick<Metrics, 'sendQueueDepth' | 'campaignProgress' | 'labels'>,
  due: number | undefined,
  campaigns: readonly { id: string; total: number | undefined; done: number }[] | undefined,
): void {
  if (due !== undefined) metrics.sendQueueDepth.set({ queue: 'trigger_jobs' }, due)
  if (campaigns === undefined) return
  metrics.campaignProgress.reset()
  let remaining = 0
  const byLabel = new Map<string, { total: number; done: number }>()
  for (const c of campaigns) {
    if (c.total === undefined) continue
    remaining += Math.max(c.total - c.done, 0)
    const label = metrics.labels.id.of(c.id)
    const sum = byLabel.get(label) ?? { total: 0, done: 0 }
    sum.total += c.total
    sum.done += Math.min(c.done, c.total)
    byLabel.set(label, sum)
  }
  for (const [campaign, s] of byLabel)
    metrics.campaignProgress.set({ campaign }, s.total === 0 ? 1 : s.done / s.total)
  metrics.sendQueueDepth.set({ queue: 'campaign_recipients' }, remaining)
}
