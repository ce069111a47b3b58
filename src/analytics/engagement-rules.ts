/**
 * Engagement analytics, the pure part: folds a batch of log events (send outcomes, opens, clicks,
 * unsubscribes, conversion events) into per-message rows and counter deltas by (workspace, campaign,
 * template version, 5-minute bucket). No I/O: the consumer loads what a batch needs, folds, and
 * commits the result with its applied offsets in one transaction (analytics-consumer.ts).
 *
 * Rules (docs/architecture.md, "Observability (issue 12)"):
 * - sent: Email Sent (the server accepted it); bounced: Email Bounced; delivered = sent − bounces
 *   of messages that had been sent (a later bounce), so today's synchronous SMTP path gives
 *   delivered = sent.
 * - An open is a machine open when isMachineOpen(userAgent) or it comes within
 *   MACHINE_OPEN_WINDOW_MS of the send (either side of its time); machine opens are counted apart
 *   and never engage. An open folded before the message's first outcome cannot be judged by the
 *   send's time yet (a scanner that fetches the pixel on receipt is appended before the outcome,
 *   which is timed after the server's 250): it counts as a human open and its time is kept on the
 *   row (`earlyOpens`); when Email Sent comes, those within the window become machine opens (in
 *   their own buckets, under the template they were counted under). An early open engages only
 *   once judged a person's (a scanner's must not take a conversion from the message the person
 *   did engage with); with no outcome ever, it never does.
 * - Unique opens / clicks / unsubscribes: the first of the message; totals count every event.
 * - A conversion (the configured event of the same user) within the window after that user's last
 *   human open or click is attributed to that message; each conversion event counts once.
 * - Every counted event is remembered by (workspace, messageId): the same event appended twice or
 *   redelivered counts once.
 * - An open-time open counts a live render (and a live fallback when it fell back); its
 *   `data_age_ms`, when there is one, counts into the freshness counters (open-time-freshness.ts).
 */
import { isServerEventId } from '../core/server-events.ts'
import type { InkEvent, LogRecord } from '../core/types.ts'
import { EMAIL_BOUNCED, EMAIL_DELIVERY_FAILED, EMAIL_SENT } from '../delivery/outcome-events.ts'
import { EMAIL_LINK_CLICKED, EMAIL_OPENED, UNSUBSCRIBED } from '../delivery/tracking-events.ts'
import { isMachineOpen, MACHINE_OPEN_WINDOW_MS } from '../observe/machine-open.ts'
import { AGE_BUCKET_FIELDS, ageBucketOf } from './open-time-freshness.ts'

/** Counters are kept per 5 minutes: the finest bucket the time series offers. */
export const COUNTER_BUCKET_MS = 300_000

export const COUNTER_FIELDS = [
  'sent',
  'bounced',
  'bouncedAfterSent',
  'failed',
  'opens',
  'uniqueOpens',
  'machineOpens',
  'clicks',
  'uniqueClicks',
  'unsubscribes',
  'conversions',
  'revenue',
  'fallbackSends',
  'liveRenders',
  'liveFallbacks',
  // Open-time freshness (open-time-freshness.ts): renders that showed data with its age, the ages'
  // sum, their maximum (the one counter merged by max, not sum) and the count per age bucket.
  'liveAged',
  'liveAgeSumMs',
  'liveAgeMaxMs',
  ...AGE_BUCKET_FIELDS,
] as const
export type CounterField = (typeof COUNTER_FIELDS)[number]
export type Counters = Record<CounterField, number>

export const zeroCounters = (): Counters => Object.fromEntries(COUNTER_FIELDS.map((f) => [f, 0])) as Counters

/** Counters merged by maximum rather than by sum (in the fold, the stores' upserts and their reads). */
export const MAX_FIELDS: ReadonlySet<CounterField> = new Set<CounterField>(['liveAgeMaxMs'])

/** Adds `n` to a counter (or keeps the larger, for a MAX_FIELDS counter). */
export function addCounter(c: Counters, field: CounterField, n: number): void {
  c[field] = MAX_FIELDS.has(field) ? Math.max(c[field], n) : c[field] + n
}

/** One sent (or opened) message, by our email id (the Message-ID's local part). */
export interface MessageRow {
  workspaceId: string
  emailId: string
  /** As in tokens: a campaign's id, `trigger:<id>` for a trigger. */
  campaignId: string
  userId: string
  /** '' and 0 until the Email Sent event says (an open may come before it). */
  templateId: string
  templateVersion: number
  createdAt: number
  sentAt: number | null
  bouncedAt: number | null
  firstOpenAt: number | null
  firstClickAt: number | null
  unsubscribedAt: number | null
  /** When the send failed for good (Email Delivery Failed); null otherwise. */
  failedAt: number | null
  /** Human opens (machine opens are not counted here) and clicks of this message. */
  opens: number
  clicks: number
  conversions: number
  revenue: number
  /**
   * The times of the human opens folded before the message's first outcome (at most
   * MAX_EARLY_OPENS), judged again when Email Sent comes; null once an outcome was folded (and for
   * rows from before this was kept).
   */
  earlyOpens: number[] | null
}

/**
 * At most this many early opens kept per message; with more, none is judged again (dozens of
 * fetches before the send's outcome: they stay as they were counted).
 */
export const MAX_EARLY_OPENS = 50

/** A user's last human open or click: the message a conversion is attributed to. */
export interface Engagement {
  workspaceId: string
  userId: string
  emailId: string
  at: number
}

export interface CounterKey {
  workspaceId: string
  campaignId: string
  templateId: string
  templateVersion: number
  bucket: number
}

export interface CounterDelta extends CounterKey {
  counters: Counters
}

export interface ConversionRules {
  /** The track event that is a conversion, e.g. `Order Completed`. */
  event: string
  windowMs: number
}

/** What a batch needs read before it is folded. */
export interface BatchKeys {
  messages: { workspaceId: string; emailId: string }[]
  users: { workspaceId: string; userId: string }[]
  events: { workspaceId: string; messageId: string }[]
}

export interface Loaded {
  messages: Map<string, MessageRow>
  engaged: Map<string, Engagement>
  /** Keys (key(workspace, messageId)) of the events already counted. */
  seen: Set<string>
}

export interface Folded {
  messages: MessageRow[]
  engaged: Engagement[]
  counters: CounterDelta[]
  seen: { workspaceId: string; messageId: string }[]
  conversions: { origin: 'campaign' | 'trigger'; revenue: number }[]
}

export const key = (workspaceId: string, id: string) => `${workspaceId}\n${id}`

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

const ENGAGEMENT_EVENTS = new Set([
  EMAIL_SENT,
  EMAIL_BOUNCED,
  EMAIL_DELIVERY_FAILED,
  EMAIL_OPENED,
  EMAIL_LINK_CLICKED,
  UNSUBSCRIBED,
])

/** The user a conversion or engagement belongs to (the recipient's userId, or anonymousId). */
const userOf = (e: InkEvent) => e.userId ?? e.anonymousId

/**
 * The message an engagement event is about; only on the server's own events (its outcomes,
 * feedback and tracking links: core/server-events.ts, refused from clients), so that a client with
 * the public write key cannot count sends, opens, clicks, bounces or unsubscribes of any campaign.
 */
const emailIdOf = (e: InkEvent): string | undefined =>
  e.type === 'track' &&
  e.event !== undefined &&
  ENGAGEMENT_EVENTS.has(e.event) &&
  isServerEventId(e.messageId)
    ? str(e.properties?.email_id)
    : undefined

const isConversion = (e: InkEvent, rules: ConversionRules) =>
  e.type === 'track' && e.event === rules.event && userOf(e) !== undefined

/**
 * The most one conversion adds to revenue, either sign. Anyone holding the public write key can post
 * a conversion: two of 1e308 in one counter overflowed PostgreSQL's double precision (the
 * analytics batch then failed for ever, nothing after it counted) and made SQLite's sum Infinity
 * (the stats answered 500). A sum of clamped values stays finite for any count of events.
 */
export const MAX_REVENUE = 1e12

/**
 * The revenue of a conversion event: `properties.revenue`, else `total`, else `value` (Segment's
 * ecommerce spec names `revenue` and `total`; `value` is what ad platforms use). A numeric string
 * counts; anything else is 0. Kept within ±MAX_REVENUE.
 */
export function revenueOf(e: InkEvent): number {
  for (const name of ['revenue', 'total', 'value']) {
    const v = e.properties?.[name]
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN
    if (Number.isFinite(n)) return Math.max(-MAX_REVENUE, Math.min(MAX_REVENUE, n))
  }
  return 0
}

export const eventTime = (e: InkEvent): number => {
  const t = Date.parse(e.timestamp)
  return Number.isNaN(t) ? Date.parse(e.receivedAt) : t
}

/** What must be read before folding `records`. */
export function batchKeys(records: readonly LogRecord[], rules: ConversionRules): BatchKeys {
  const keys: BatchKeys = { messages: [], users: [], events: [] }
  for (const { event: e } of records) {
    const emailId = emailIdOf(e)
    const user = userOf(e)
    if (emailId !== undefined) {
      keys.messages.push({ workspaceId: e.workspaceId, emailId })
      if (user !== undefined) keys.users.push({ workspaceId: e.workspaceId, userId: user })
    } else if (isConversion(e, rules) && user !== undefined) {
      keys.users.push({ workspaceId: e.workspaceId, userId: user })
    } else continue
    keys.events.push({ workspaceId: e.workspaceId, messageId: e.messageId })
  }
  return keys
}

export const originOf = (campaignId: string): 'campaign' | 'trigger' =>
  campaignId.startsWith('trigger:') ? 'trigger' : 'campaign'

/**
 * Folds `records` (in log order) into changed rows and counter deltas. `loaded` is changed in
 * place (the batch sees its own earlier events); the engagement rows of conversions are read from
 * it, so they must hold the messages of the users' last engagements too (the store loads them).
 */
export function foldBatch(records: readonly LogRecord[], loaded: Loaded, rules: ConversionRules): Folded {
  const changed = new Map<string, MessageRow>()
  const engaged = new Map<string, Engagement>()
  const deltas = new Map<string, CounterDelta>()
  const out: Folded = { messages: [], engaged: [], counters: [], seen: [], conversions: [] }

  const add = (row: MessageRow, t: number, field: CounterField, n = 1) => {
    const bucket = Math.floor(t / COUNTER_BUCKET_MS) * COUNTER_BUCKET_MS
    const k = [row.workspaceId, row.campaignId, row.templateId, row.templateVersion, bucket].join('\n')
    let d = deltas.get(k)
    if (d === undefined) {
      d = {
        workspaceId: row.workspaceId,
        campaignId: row.campaignId,
        templateId: row.templateId,
        templateVersion: row.templateVersion,
        bucket,
        counters: zeroCounters(),
      }
      deltas.set(k, d)
    }
    addCounter(d.counters, field, n)
  }
  const touch = (row: MessageRow) => changed.set(key(row.workspaceId, row.emailId), row)
  const engage = (row: MessageRow, t: number) => {
    const k = key(row.workspaceId, row.userId)
    const last = loaded.engaged.get(k)
    if (last !== undefined && last.at > t) return
    const e: Engagement = { workspaceId: row.workspaceId, userId: row.userId, emailId: row.emailId, at: t }
    loaded.engaged.set(k, e)
    engaged.set(k, e)
  }

  for (const { event: e } of records) {
    const eventKey = key(e.workspaceId, e.messageId)
    if (loaded.seen.has(eventKey)) continue
    const t = eventTime(e)
    const emailId = emailIdOf(e)
    let counted = false
    if (emailId !== undefined) {
      const user = userOf(e)
      const campaignId = str(e.properties?.campaign_id)
      if (user === undefined || campaignId === undefined) continue
      const mk = key(e.workspaceId, emailId)
      let row = loaded.messages.get(mk)
      if (row === undefined) {
        row = {
          workspaceId: e.workspaceId,
          emailId,
          campaignId,
          userId: user,
          templateId: '',
          templateVersion: 0,
          createdAt: t,
          sentAt: null,
          bouncedAt: null,
          firstOpenAt: null,
          firstClickAt: null,
          unsubscribedAt: null,
          failedAt: null,
          opens: 0,
          clicks: 0,
          conversions: 0,
          revenue: 0,
          earlyOpens: [],
        }
        loaded.messages.set(mk, row)
      }
      counted = foldMessageEvent(e, row, t, add, engage)
      if (counted) touch(row)
    } else if (isConversion(e, rules)) {
      const user = userOf(e) as string
      const last = loaded.engaged.get(key(e.workspaceId, user))
      const row = last && loaded.messages.get(key(e.workspaceId, last.emailId))
      if (last !== undefined && row !== undefined && t >= last.at && t - last.at <= rules.windowMs) {
        const revenue = revenueOf(e)
        add(row, t, 'conversions')
        add(row, t, 'revenue', revenue)
        row.conversions += 1
        row.revenue += revenue
        touch(row)
        out.conversions.push({ origin: originOf(row.campaignId), revenue })
        counted = true
      }
    }
    if (counted) {
      loaded.seen.add(eventKey)
      out.seen.push({ workspaceId: e.workspaceId, messageId: e.messageId })
    }
  }
  out.messages = [...changed.values()]
  out.engaged = [...engaged.values()]
  out.counters = [...deltas.values()]
  return out
}

/**
 * Bounds on what an event's properties may put in a column: PostgreSQL refuses a template version
 * outside `integer` and a fractional or too large age for `bigint`, and a refused commit is retried
 * for ever with the same batch (no later event of the partition would be counted). Anyone holding
 * the write key can post such an event, so the fold keeps values inside the columns' types.
 */
const MAX_TEMPLATE_VERSION = 2_147_483_647
/** Ages are whole ms, at most ~31 years (a sum over many renders stays an exact bigint). */
const MAX_AGE_MS = 1e12

/**
 * At the message's first outcome: its early opens are judged. With Email Sent (`sentAt`), those
 * within MACHINE_OPEN_WINDOW_MS of its time were a scanner's, not a person's: each moves from opens
 * to machine opens in its own bucket, and when the unique open was one of them the message's first
 * open becomes the click a person made before any remaining human open (a click is the open the
 * pixel did not see; it added none while an open was counted), else the earliest remaining early
 * open, else none. The others, and every one after an outcome without a send time (`sentAt` null)
 * or when MAX_EARLY_OPENS were kept, are a person's: they engage now, at their own times (an early
 * open does not engage when folded, so that a scanner's never takes a conversion).
 */
function judgeEarlyOpens(
  row: MessageRow,
  sentAt: number | null,
  add: (row: MessageRow, t: number, field: CounterField, n?: number) => void,
  engage: (row: MessageRow, t: number) => void,
): void {
  const early = row.earlyOpens
  row.earlyOpens = null
  if (early === null || early.length === 0) return
  const judged = sentAt !== null && early.length < MAX_EARLY_OPENS
  const isMachine = (at: number) => judged && Math.abs(at - sentAt) < MACHINE_OPEN_WINDOW_MS
  for (const at of early) if (!isMachine(at)) engage(row, at)
  const machine = early.filter(isMachine)
  if (machine.length === 0) return
  for (const at of machine) {
    add(row, at, 'opens', -1)
    add(row, at, 'machineOpens')
  }
  row.opens -= machine.length
  const first = row.firstOpenAt
  if (first === null || !machine.includes(first)) return
  add(row, first, 'uniqueOpens', -1)
  const human = early.filter((at) => !isMachine(at))
  const next = human.length > 0 ? Math.min(...human) : null
  const click = row.firstClickAt
  if (click !== null && (next === null || click < next)) {
    add(row, click, 'opens')
    add(row, click, 'uniqueOpens')
    row.opens += 1
    row.firstOpenAt = click
  } else if (next !== null) {
    add(row, next, 'uniqueOpens')
    row.firstOpenAt = next
  } else row.firstOpenAt = null
}

/** Applies one event of a message to its row; true when it counted. */
function foldMessageEvent(
  e: InkEvent,
  row: MessageRow,
  t: number,
  add: (row: MessageRow, t: number, field: CounterField, n?: number) => void,
  engage: (row: MessageRow, t: number) => void,
): boolean {
  const p = e.properties ?? {}
  /** An open by a person (a pixel's, or the one a click implies): the first one is also unique. */
  const humanOpen = () => {
    add(row, t, 'opens')
    row.opens += 1
    if (row.firstOpenAt === null) {
      row.firstOpenAt = t
      add(row, t, 'uniqueOpens')
    }
  }
  // Before the outcome's template is taken: the early opens were counted under the row's template
  // as it was then.
  if (e.event === EMAIL_SENT && row.sentAt === null) judgeEarlyOpens(row, t, add, engage)
  const templateId = str(p.template_id)
  const version = p.template_version
  if (
    row.templateId === '' &&
    templateId !== undefined &&
    typeof version === 'number' &&
    Number.isInteger(version) &&
    version >= 0 &&
    version <= MAX_TEMPLATE_VERSION
  ) {
    // From the outcome event on; what was counted before it (a scanner's open) stays where it was.
    row.templateId = templateId
    row.templateVersion = version
  }
  switch (e.event) {
    case EMAIL_SENT: {
      if (row.sentAt !== null) return false
      row.sentAt = t
      add(row, t, 'sent')
      if (typeof p.fallbacks === 'number' && p.fallbacks > 0) add(row, t, 'fallbackSends')
      return true
    }
    case EMAIL_BOUNCED:
      if (row.bouncedAt !== null) return false
      // An outcome without a send time: the early opens stay as they were counted.
      judgeEarlyOpens(row, null, add, engage)
      row.bouncedAt = t
      add(row, t, 'bounced')
      if (row.sentAt !== null) add(row, t, 'bouncedAfterSent')
      return true
    case EMAIL_DELIVERY_FAILED:
      judgeEarlyOpens(row, null, add, engage) // as for a bounce
      row.failedAt ??= t
      add(row, t, 'failed')
      return true
    case EMAIL_OPENED: {
      // An ESP's own open tracking (feedback.ts, `open_kind: "esp"`) sees the opens our pixel counts.
      if (p.open_kind === 'esp') return false
      // An open-time render (live block, AMP JSON, web view): how often it had to fall back.
      if (p.open_kind === 'open-time') {
        add(row, t, 'liveRenders')
        if (typeof p.fallbacks === 'number' && p.fallbacks > 0) add(row, t, 'liveFallbacks')
        // Freshness: the age of the data shown (null when the answer fell back or read no data).
        const raw = p.data_age_ms
        if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) {
          const age = Math.min(Math.round(raw), MAX_AGE_MS)
          add(row, t, 'liveAged')
          add(row, t, 'liveAgeSumMs', age)
          add(row, t, 'liveAgeMaxMs', age)
          add(row, t, ageBucketOf(age))
        }
      }
      const ua = typeof e.context?.userAgent === 'string' ? e.context.userAgent : undefined
      const machine =
        isMachineOpen(ua) ||
        // Either side of the send's time: the outcome is timed after the server's 250, and a
        // scanner that fetches the pixel on receipt can come before it. No person opens that soon.
        (row.sentAt !== null && Math.abs(t - row.sentAt) < MACHINE_OPEN_WINDOW_MS)
      if (machine) {
        add(row, t, 'machineOpens')
        return true
      }
      humanOpen()
      // Before any outcome: judged again by the send's time when it comes, and engages then
      // (judgeEarlyOpens); past MAX_EARLY_OPENS kept, it engages now and is not judged.
      if (row.earlyOpens !== null && row.earlyOpens.length < MAX_EARLY_OPENS) row.earlyOpens.push(t)
      else engage(row, t)
      return true
    }
    case EMAIL_LINK_CLICKED:
      // Likewise an ESP's click tracking: our tracked links already count the clicks.
      if (p.click_kind === 'esp') return false
      add(row, t, 'clicks')
      row.clicks += 1
      if (row.firstClickAt === null) {
        row.firstClickAt = t
        add(row, t, 'uniqueClicks')
      }
      // A click is a reading the pixel did not see (images off, a client that blocks them): a
      // message clicked before any human open counts it as opened then, so click-to-open stays ≤ 1.
      // A pixel open after it adds to opens, not to unique opens.
      if (row.firstOpenAt === null) humanOpen()
      engage(row, t)
      return true
    case UNSUBSCRIBED:
      if (row.unsubscribedAt !== null) return false
      row.unsubscribedAt = t
      add(row, t, 'unsubscribes')
      return true
    default:
      return false
  }
}
