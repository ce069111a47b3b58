/**
 * The SQL both analytics stores share: column names, the counter upsert and the sums. Only the
 * placeholders differ (`?` for SQLite, `$n` for PostgreSQL) and the column types of the tables
 * (each store's migration).
 */
import {
  COUNTER_FIELDS,
  type CounterField,
  type Counters,
  MAX_FIELDS,
  type MessageRow,
  zeroCounters,
} from './engagement-rules.ts'

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

export const COUNTER_COLUMNS: readonly string[] = COUNTER_FIELDS.map(snake)

export const MESSAGE_COLUMNS = [
  'workspace_id',
  'email_id',
  'campaign_id',
  'user_id',
  'template_id',
  'template_version',
  'created_at',
  'sent_at',
  'bounced_at',
  'first_open_at',
  'first_click_at',
  'unsubscribed_at',
  'conversions',
  'revenue',
  'failed_at',
  'opens',
  'clicks',
  'early_opens',
] as const

/** The counter columns the stores' second migration adds (open-time freshness); frozen, as migrations are. */
export const FRESHNESS_COLUMNS = [
  'live_aged',
  'live_age_sum_ms',
  'live_age_max_ms',
  'live_age_le100ms',
  'live_age_le1s',
  'live_age_le5s',
  'live_age_le15s',
  'live_age_le30s',
  'live_age_le1m',
  'live_age_le2m',
  'live_age_le5m',
  'live_age_le10m',
  'live_age_over10m',
] as const

/**
 * The per-message columns added after the first release (opens, clicks, failed_at), for both
 * stores' migrations: rows from before count an open or click they have a first time of (a lower
 * bound: the totals were not kept per message then). With an index by user (the profile page).
 */
export const MESSAGE_COUNTS_MIGRATION = (int: string) => `
  ALTER TABLE analytics_messages ADD COLUMN failed_at ${int};
  ALTER TABLE analytics_messages ADD COLUMN opens integer NOT NULL DEFAULT 0;
  ALTER TABLE analytics_messages ADD COLUMN clicks integer NOT NULL DEFAULT 0;
  UPDATE analytics_messages SET opens = CASE WHEN first_open_at IS NULL THEN 0 ELSE 1 END,
    clicks = CASE WHEN first_click_at IS NULL THEN 0 ELSE 1 END;
  CREATE INDEX analytics_messages_by_user ON analytics_messages (workspace_id, user_id, created_at);`

/**
 * A message by our email id alone (`messageById`): the bounce mailbox carries no workspace, and our
 * ids hash the workspace in (messageIdFor), so one id names one message of one workspace.
 */
export const MESSAGE_BY_EMAIL_MIGRATION =
  'CREATE INDEX analytics_messages_by_email ON analytics_messages (email_id);'

/**
 * The human opens a message had before its first outcome (engagement-rules.ts, `earlyOpens`): JSON
 * of their times, judged again at Email Sent. Rows from before keep NULL (nothing to judge).
 */
export const EARLY_OPENS_MIGRATION = 'ALTER TABLE analytics_messages ADD COLUMN early_opens text;'

export type Placeholder = (i: number) => string
export const sqlitePlaceholder: Placeholder = () => '?'
export const pgPlaceholder: Placeholder = (i) => `$${i + 1}`

/** The two-argument maximum of each dialect: SQLite's scalar `max`, PostgreSQL's `GREATEST`. */
export type Greatest = 'max' | 'GREATEST'

/** Adds a delta to a counter row, creating it at zero first (a MAX_FIELDS column keeps the larger). */
export function counterUpsert(p: Placeholder, greatest: Greatest): string {
  const cols = [
    'workspace_id',
    'campaign_id',
    'template_id',
    'template_version',
    'bucket',
    ...COUNTER_COLUMNS,
  ]
  return `INSERT INTO analytics_counters (${cols.join(', ')}) VALUES (${cols.map((_, i) => p(i)).join(', ')})
    ON CONFLICT (workspace_id, campaign_id, template_id, template_version, bucket) DO UPDATE SET
    ${COUNTER_FIELDS.map((f) => {
      const c = snake(f)
      return MAX_FIELDS.has(f)
        ? `${c} = ${greatest}(analytics_counters.${c}, excluded.${c})`
        : `${c} = analytics_counters.${c} + excluded.${c}`
    }).join(', ')}`
}

export function messageUpsert(p: Placeholder): string {
  const rest = MESSAGE_COLUMNS.slice(2)
  return `INSERT INTO analytics_messages (${MESSAGE_COLUMNS.join(', ')})
    VALUES (${MESSAGE_COLUMNS.map((_, i) => p(i)).join(', ')})
    ON CONFLICT (workspace_id, email_id) DO UPDATE SET ${rest.map((c) => `${c} = excluded.${c}`).join(', ')}`
}

export const messageValues = (m: MessageRow): unknown[] => [
  m.workspaceId,
  m.emailId,
  m.campaignId,
  m.userId,
  m.templateId,
  m.templateVersion,
  m.createdAt,
  m.sentAt,
  m.bouncedAt,
  m.firstOpenAt,
  m.firstClickAt,
  m.unsubscribedAt,
  m.conversions,
  m.revenue,
  m.failedAt,
  m.opens,
  m.clicks,
  m.earlyOpens === null ? null : JSON.stringify(m.earlyOpens),
]

/** A row as either driver returns it (PostgreSQL: BIGINT as strings). */
type Num = number | string | null
const num = (v: Num | undefined): number => (v === null || v === undefined ? 0 : Number(v))
const maybe = (v: Num | undefined): number | null => (v === null || v === undefined ? null : Number(v))

export function messageFromRow(r: Record<string, Num>): MessageRow {
  return {
    workspaceId: String(r.workspace_id),
    emailId: String(r.email_id),
    campaignId: String(r.campaign_id),
    userId: String(r.user_id),
    templateId: String(r.template_id),
    templateVersion: num(r.template_version),
    createdAt: num(r.created_at),
    sentAt: maybe(r.sent_at),
    bouncedAt: maybe(r.bounced_at),
    firstOpenAt: maybe(r.first_open_at),
    firstClickAt: maybe(r.first_click_at),
    unsubscribedAt: maybe(r.unsubscribed_at),
    conversions: num(r.conversions),
    revenue: num(r.revenue),
    failedAt: maybe(r.failed_at),
    opens: num(r.opens),
    clicks: num(r.clicks),
    earlyOpens: timesOf(r.early_opens),
  }
}

/** early_opens as stored: JSON of the times, or NULL; anything else (not written by us) reads as NULL. */
function timesOf(v: Num | undefined): number[] | null {
  if (typeof v !== 'string') return null
  try {
    const times: unknown = JSON.parse(v)
    return Array.isArray(times)
      ? times.filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
      : null
  } catch {
    return null
  }
}

/** `SUM(sent) AS sent, …` (`MAX(…)` for a MAX_FIELDS column) */
export const SUMS = COUNTER_FIELDS.map((f) => {
  const c = snake(f)
  return `${MAX_FIELDS.has(f) ? 'MAX' : 'SUM'}(${c}) AS ${c}`
}).join(', ')

export function countersFromRow(r: Record<string, Num>): Counters {
  const c = zeroCounters()
  COUNTER_FIELDS.forEach((f: CounterField, i) => {
    c[f] = num(r[COUNTER_COLUMNS[i] as string])
  })
  return c
}

export const counterValues = (c: Counters): number[] => COUNTER_FIELDS.map((f) => c[f])
