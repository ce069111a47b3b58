/**
 * The `Email Opened` event an open-time request records (Segment's email-event spec, like the
 * pixel's), with what tells a person from a machine: the user-agent class and whether an image
 * proxy fetched it. Its messageId is hash(token, window): every block, the JSON and the web view
 * of one message opened inside one window are one open (the processor's messageId dedupe), as the
 * pixel's opens are (tracking-events.ts).
 */
import { createHash } from 'node:crypto'
import type { InkEvent, JsonObject } from '../core/types.ts'
import { EMAIL_OPENED, recipientEvent } from '../delivery/tracking-events.ts'

/** Who fetched: a mail provider's image proxy, a browser, or something else. */
export type UaClass = 'gmail-proxy' | 'apple-mpp' | 'yahoo-proxy' | 'outlook-proxy' | 'browser' | 'other'

/** What was fetched. */
export type OpenSurface = 'png' | 'gif' | 'json' | 'view'

/**
 * Classifies a User-Agent. Gmail's proxy says "GoogleImageProxy" (via ggpht.com); Yahoo's
 * "YahooMailProxy"; Outlook.com's fetcher "ms-office" / "Microsoft Outlook" via its proxy;
 * Apple Mail Privacy Protection prefetches through Apple's relays with the bare UA "Mozilla/5.0"
 * (no platform, no engine): a heuristic, the only signal there is without IP lists.
 */
export function classifyUserAgent(ua: string | undefined): { uaClass: UaClass; proxy: boolean } {
  const s = (ua ?? '').trim()
  if (s.includes('GoogleImageProxy')) return { uaClass: 'gmail-proxy', proxy: true }
  if (s.includes('YahooMailProxy')) return { uaClass: 'yahoo-proxy', proxy: true }
  if (s === 'Mozilla/5.0') return { uaClass: 'apple-mpp', proxy: true }
  if (/\bms-office\b|Microsoft Outlook|OutlookImageProxy/i.test(s))
    return { uaClass: 'outlook-proxy', proxy: true }
  if (/^Mozilla\/5\.0 \(/.test(s) && /(AppleWebKit|Gecko|Trident)\//.test(s))
    return { uaClass: 'browser', proxy: false }
  return { uaClass: 'other', proxy: false }
}

/** What an open-time event is built from: the verified token and what this request rendered. */
export interface OpenTimeEventInput {
  workspaceId: string
  campaignId: string
  recipient: string
  messageId: string
  /** The verified token itself: the event id derives from it. */
  token: string
  now: number
  windowMs: number
  userAgent: string | undefined
  surface: OpenSurface
  /** The block's name; null for the web view (the whole message). */
  block: string | null
  /** Fallbacks taken in this render (a block that fell back counts at least one). */
  fallbacks: number
  /**
   * How old the data shown was (render/data-age.ts: the oldest input, each aged when the render read
   * it); null when the answer fell back or read no data.
   */
  dataAgeMs: number | null
}

/** One id per token per window (see the header). */
export function openTimeEventId(token: string, now: number, windowMs: number): string {
  const hash = createHash('sha256')
    .update(`open-time\n${token}\n${Math.floor(now / windowMs)}`)
    .digest('hex')
    .slice(0, 32)
  return `ink-open-time-${hash}`
}

export function openTimeEvent(o: OpenTimeEventInput): InkEvent {
  const { uaClass, proxy } = classifyUserAgent(o.userAgent)
  const properties: JsonObject = {
    campaign_id: o.campaignId,
    email_id: o.messageId,
    block: o.block,
    open_kind: 'open-time',
    surface: o.surface,
    ua_class: uaClass,
    proxy,
    fallbacks: o.fallbacks,
    data_age_ms: o.dataAgeMs,
  }
  return recipientEvent({
    event: EMAIL_OPENED,
    messageId: openTimeEventId(o.token, o.now, o.windowMs),
    workspaceId: o.workspaceId,
    userId: o.recipient,
    properties,
    now: o.now,
    userAgent: o.userAgent,
  })
}

/**
 * Ids recorded by this process in their window, so one message's blocks, re-fetches and 304s
 * append (and call the open hooks) once per window here; other processes are deduplicated by the
 * processor (same messageId). Bounded: the oldest ids go first.
 */
export class RecentOpens {
  readonly #until = new Map<string, number>()
  constructor(private readonly max = 20_000) {}

  /** True the first time `id` is seen before `until`; false for a repeat inside its window. */
  first(id: string, now: number, until: number): boolean {
    const seen = this.#until.get(id)
    if (seen !== undefined && seen > now) return false
    this.#until.delete(id)
    this.#until.set(id, until)
    while (this.#until.size > this.max) {
      const oldest = this.#until.keys().next().value
      if (oldest === undefined) break
      this.#until.delete(oldest)
    }
    return true
  }

  forget(id: string): void {
    this.#until.delete(id)
  }
}
