/**
 * AnalyticsStore over PostgreSQL (scale-out). A commit is one transaction that first locks the
 * offset rows of its partitions (so two consumers of one partition, mid-rebalance, serialize and
 * the second one sees the offsets moved), then writes rows in key order.
 */
import { inTransaction, migratePg, type PgPool, pgText, toInt } from '../db/pg.ts'
import {
  migratePgPrivacy,
  TOMBSTONES_AFTER,
  type Tombstone,
  type TombstoneRow,
  tombstoneOf,
} from '../privacy/privacy-schema.ts'
import {
  countersFromRow,
  counterUpsert,
  counterValues,
  EARLY_OPENS_MIGRATION,
  FRESHNESS_COLUMNS,
  MESSAGE_BY_EMAIL_MIGRATION,
  MESSAGE_COUNTS_MIGRATION,
  messageFromRow,
  messageUpsert,
  messageValues,
  pgPlaceholder,
  SUMS,
} from './analytics-sql.ts'
import {
  type AnalyticsChanges,
  AnalyticsConflictError,
  type AnalyticsStore,
  type Retention,
  type SeriesFilter,
  type SeriesPoint,
  type VersionCounters,
} from './analytics-store.ts'
import { type BatchKeys, key, type Loaded, type MessageRow } from './engagement-rules.ts'

const T = 'text COLLATE "C" NOT NULL'
/** The analytics migration set, in order (exported for the migration test). */
export const MIGRATIONS = [
  `CREATE TABLE analytics_messages (
     workspace_id ${T}, email_id ${T}, campaign_id ${T}, user_id ${T}, template_id ${T},
     template_version integer NOT NULL, created_at bigint NOT NULL, sent_at bigint, bounced_at bigint,
     first_open_at bigint, first_click_at bigint, unsubscribed_at bigint, conversions integer NOT NULL,
     revenue double precision NOT NULL, PRIMARY KEY (workspace_id, email_id));
   CREATE INDEX analytics_messages_created ON analytics_messages (created_at);
   CREATE TABLE analytics_engaged (
     workspace_id ${T}, user_id ${T}, email_id ${T}, at bigint NOT NULL, PRIMARY KEY (workspace_id, user_id));
   CREATE INDEX analytics_engaged_at ON analytics_engaged (at);
   CREATE TABLE analytics_seen (
     workspace_id ${T}, message_id ${T}, seen_at bigint NOT NULL, PRIMARY KEY (workspace_id, message_id));
   CREATE INDEX analytics_seen_at ON analytics_seen (seen_at);
   CREATE TABLE analytics_counters (
     workspace_id ${T}, campaign_id ${T}, template_id ${T}, template_version integer NOT NULL,
     bucket bigint NOT NULL,
     sent bigint NOT NULL, bounced bigint NOT NULL, bounced_after_sent bigint NOT NULL,
     failed bigint NOT NULL, opens bigint NOT NULL, unique_opens bigint NOT NULL,
     machine_opens bigint NOT NULL, clicks bigint NOT NULL, unique_clicks bigint NOT NULL,
     unsubscribes bigint NOT NULL, conversions bigint NOT NULL, revenue double precision NOT NULL,
     fallback_sends bigint NOT NULL, live_renders bigint NOT NULL, live_fallbacks bigint NOT NULL,
     PRIMARY KEY (workspace_id, campaign_id, template_id, template_version, bucket));
   CREATE INDEX analytics_counters_template ON analytics_counters (workspace_id, template_id, bucket);
   CREATE TABLE analytics_offsets (log_partition integer PRIMARY KEY, log_offset bigint NOT NULL);`,
  // Open-time freshness (open-time-freshness.ts); rows counted before it hold zeros.
  `ALTER TABLE analytics_counters ${FRESHNESS_COLUMNS.map(
    (c) => `ADD COLUMN ${c} bigint NOT NULL DEFAULT 0`,
  ).join(', ')};`,
  MESSAGE_COUNTS_MIGRATION('bigint'),
  MESSAGE_BY_EMAIL_MIGRATION,
  EARLY_OPENS_MIGRATION,
]

type Row = Record<string, number | string | null>

export class PgAnalyticsStore implements AnalyticsStore {
  readonly #pool: PgPool

  private constructor(pool: PgPool) {
    this.#pool = pool
  }

  static async open(pool: PgPool): Promise<PgAnalyticsStore> {
    await migratePg(pool, 'analytics', MIGRATIONS)
    await migratePgPrivacy(pool)
    return new PgAnalyticsStore(pool)
  }

  async appliedOffsets(): Promise<Map<number, number>> {
    const { rows } = await this.#pool.query<{ log_partition: number; log_offset: string }>(
      'SELECT log_partition, log_offset FROM analytics_offsets',
    )
    return new Map(rows.map((r) => [r.log_partition, toInt(r.log_offset)]))
  }

  async load(keys: BatchKeys): Promise<Loaded> {
    const loaded: Loaded = { messages: new Map(), engaged: new Map(), seen: new Set() }
    const pool = this.#pool
    const loadMessages = async (ids: { workspaceId: string; emailId: string }[]) => {
      if (ids.length === 0) return
      const { rows } = await pool.query<Row>(
        `SELECT m.* FROM analytics_messages m
         JOIN unnest($1::text[], $2::text[]) AS k(w, e) ON m.workspace_id = k.w AND m.email_id = k.e`,
        [ids.map((i) => pgText(i.workspaceId)), ids.map((i) => pgText(i.emailId))],
      )
      for (const r of rows) {
        const m = messageFromRow(r)
        loaded.messages.set(key(m.workspaceId, m.emailId), m)
      }
    }
    await loadMessages(keys.messages)
    if (keys.users.length > 0) {
      const { rows } = await pool.query<{
        workspace_id: string
        user_id: string
        email_id: string
        at: string
      }>(
        `SELECT g.* FROM analytics_engaged g
         JOIN unnest($1::text[], $2::text[]) AS k(w, u) ON g.workspace_id = k.w AND g.user_id = k.u`,
        [keys.users.map((u) => pgText(u.workspaceId)), keys.users.map((u) => pgText(u.userId))],
      )
      for (const r of rows)
        loaded.engaged.set(key(r.workspace_id, r.user_id), {
          workspaceId: r.workspace_id,
          userId: r.user_id,
          emailId: r.email_id,
          at: toInt(r.at),
        })
      await loadMessages(
        rows
          .map((r) => ({ workspaceId: r.workspace_id, emailId: r.email_id }))
          .filter((m) => !loaded.messages.has(key(m.workspaceId, m.emailId))),
      )
    }
    if (keys.events.length > 0) {
      const { rows } = await pool.query<{ workspace_id: string; message_id: string }>(
        `SELECT s.workspace_id, s.message_id FROM analytics_seen s
         JOIN unnest($1::text[], $2::text[]) AS k(w, m) ON s.workspace_id = k.w AND s.message_id = k.m`,
        [keys.events.map((e) => pgText(e.workspaceId)), keys.events.map((e) => pgText(e.messageId))],
      )
      for (const r of rows) loaded.seen.add(key(r.workspace_id, r.message_id))
    }
    return loaded
  }

  async commit(c: AnalyticsChanges): Promise<void> {
    const now = Date.now()
    const byKey = <T>(rows: T[], k: (r: T) => string) => [...rows].sort((a, b) => (k(a) < k(b) ? -1 : 1))
    await inTransaction(this.#pool, async (client) => {
      const partitions = c.offsets.map((o) => o.partition).sort((a, b) => a - b)
      if (partitions.length > 0) {
        // Rows to lock must exist: a first batch of a partition creates its row at offset 0.
        await client.query(
          `INSERT INTO analytics_offsets (log_partition, log_offset) SELECT p, 0 FROM unnest($1::int[]) AS p
           ON CONFLICT DO NOTHING`,
          [partitions],
        )
        const { rows } = await client.query<{ log_partition: number; log_offset: string }>(
          `SELECT log_partition, log_offset FROM analytics_offsets WHERE log_partition = ANY($1::int[])
           ORDER BY log_partition FOR UPDATE`,
          [partitions],
        )
        for (const r of rows)
          if (toInt(r.log_offset) !== (c.expected.get(r.log_partition) ?? 0))
            throw new AnalyticsConflictError(r.log_partition)
      }
      const text = (v: unknown) => (typeof v === 'string' ? pgText(v) : v)
      for (const m of byKey(c.messages, (m) => key(m.workspaceId, m.emailId)))
        await client.query(messageUpsert(pgPlaceholder), messageValues(m).map(text))
      for (const e of byKey(c.engaged, (e) => key(e.workspaceId, e.userId)))
        await client.query(
          `INSERT INTO analytics_engaged (workspace_id, user_id, email_id, at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (workspace_id, user_id) DO UPDATE SET email_id = excluded.email_id, at = excluded.at`,
          [pgText(e.workspaceId), pgText(e.userId), pgText(e.emailId), e.at],
        )
      if (c.seen.length > 0)
        await client.query(
          `INSERT INTO analytics_seen (workspace_id, message_id, seen_at)
           SELECT w, m, $3::bigint FROM unnest($1::text[], $2::text[]) AS k(w, m) ON CONFLICT DO NOTHING`,
          [c.seen.map((s) => pgText(s.workspaceId)), c.seen.map((s) => pgText(s.messageId)), now],
        )
      const upsert = counterUpsert(pgPlaceholder, 'GREATEST')
      for (const d of byKey(c.counters, (d) =>
        [d.workspaceId, d.campaignId, d.templateId, d.templateVersion, d.bucket].join('\n'),
      ))
        await client.query(upsert, [
          pgText(d.workspaceId),
          pgText(d.campaignId),
          pgText(d.templateId),
          d.templateVersion,
          d.bucket,
          ...counterValues(d.counters),
        ])
      for (const o of c.offsets)
        await client.query('UPDATE analytics_offsets SET log_offset = $2 WHERE log_partition = $1', [
          o.partition,
          o.offset,
        ])
    })
  }

  async totals(workspaceId: string, campaignId: string): Promise<VersionCounters[]> {
    const { rows } = await this.#pool.query<Row>(
      `SELECT template_id, template_version, ${SUMS} FROM analytics_counters
       WHERE workspace_id = $1 AND campaign_id = $2 GROUP BY template_id, template_version
       ORDER BY template_id, template_version`,
      [pgText(workspaceId), pgText(campaignId)],
    )
    return rows.map((r) => ({
      templateId: String(r.template_id),
      templateVersion: Number(r.template_version),
      counters: countersFromRow(r),
    }))
  }

  async series(
    workspaceId: string,
    filter: SeriesFilter,
    from: number,
    to: number,
    bucketMs: number,
  ): Promise<SeriesPoint[]> {
    const [column, value] =
      'campaignId' in filter ? ['campaign_id', filter.campaignId] : ['template_id', filter.templateId]
    const { rows } = await this.#pool.query<Row>(
      `SELECT bucket - (bucket % $1::bigint) AS t, ${SUMS} FROM analytics_counters
       WHERE workspace_id = $2 AND ${column} = $3 AND bucket >= $4 AND bucket < $5 GROUP BY t ORDER BY t`,
      [bucketMs, pgText(workspaceId), pgText(value), from, to],
    )
    return rows.map((r) => ({ t: Number(r.t), counters: countersFromRow(r) }))
  }

  async messagesTo(workspaceId: string, userIds: readonly string[], limit: number): Promise<MessageRow[]> {
    const { rows } = await this.#pool.query<Row>(
      `SELECT * FROM analytics_messages WHERE workspace_id = $1 AND user_id = ANY($2::text[])
       ORDER BY created_at DESC, email_id LIMIT $3`,
      [pgText(workspaceId), userIds.map(pgText), limit],
    )
    return rows.map(messageFromRow)
  }

  async message(workspaceId: string, emailId: string): Promise<MessageRow | undefined> {
    const { rows } = await this.#pool.query<Row>(
      'SELECT * FROM analytics_messages WHERE workspace_id = $1 AND email_id = $2',
      [pgText(workspaceId), pgText(emailId)],
    )
    const row = rows[0]
    return row === undefined ? undefined : messageFromRow(row)
  }

  async messageById(emailId: string): Promise<MessageRow | undefined> {
    // Oldest first, as in SQLite: one row by construction, a stable answer were there two.
    const { rows } = await this.#pool.query<Row>(
      `SELECT * FROM analytics_messages WHERE email_id = $1
       ORDER BY created_at, workspace_id LIMIT 1`,
      [pgText(emailId)],
    )
    const row = rows[0]
    return row === undefined ? undefined : messageFromRow(row)
  }

  async prune(r: Retention): Promise<number> {
    return inTransaction(this.#pool, async (client) => {
      let n = 0
      n +=
        (await client.query('DELETE FROM analytics_messages WHERE created_at < $1', [r.messagesBefore]))
          .rowCount ?? 0
      n +=
        (await client.query('DELETE FROM analytics_engaged WHERE at < $1', [r.engagedBefore])).rowCount ?? 0
      n += (await client.query('DELETE FROM analytics_seen WHERE seen_at < $1', [r.seenBefore])).rowCount ?? 0
      return n
    })
  }

  async tombstonesAfter(seq: number): Promise<Tombstone[]> {
    const { rows } = await this.#pool.query<TombstoneRow>(TOMBSTONES_AFTER.replace('?', '$1'), [seq])
    return rows.map(tombstoneOf)
  }

  async close(): Promise<void> {}
}
