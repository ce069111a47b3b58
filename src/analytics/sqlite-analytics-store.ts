/** AnalyticsStore over the embedded SQLite database (the store's file); every commit is one transaction. */
import type { Transaction } from 'better-sqlite3'
import { migrate, type SqliteDatabase } from '../db/sqlite.ts'
import {
  migratePrivacy,
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
  SUMS,
  sqlitePlaceholder,
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
import { type BatchKeys, type Engagement, key, type Loaded, type MessageRow } from './engagement-rules.ts'

/** The analytics migration set, in order (exported for the migration test). */
export const MIGRATIONS = [
  `CREATE TABLE analytics_messages (
     workspace_id TEXT NOT NULL, email_id TEXT NOT NULL, campaign_id TEXT NOT NULL, user_id TEXT NOT NULL,
     template_id TEXT NOT NULL, template_version INTEGER NOT NULL, created_at INTEGER NOT NULL,
     sent_at INTEGER, bounced_at INTEGER, first_open_at INTEGER, first_click_at INTEGER,
     unsubscribed_at INTEGER, conversions INTEGER NOT NULL, revenue REAL NOT NULL,
     PRIMARY KEY (workspace_id, email_id));
   CREATE INDEX analytics_messages_created ON analytics_messages (created_at);
   CREATE TABLE analytics_engaged (
     workspace_id TEXT NOT NULL, user_id TEXT NOT NULL, email_id TEXT NOT NULL, at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, user_id));
   CREATE INDEX analytics_engaged_at ON analytics_engaged (at);
   CREATE TABLE analytics_seen (
     workspace_id TEXT NOT NULL, message_id TEXT NOT NULL, seen_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, message_id));
   CREATE INDEX analytics_seen_at ON analytics_seen (seen_at);
   CREATE TABLE analytics_counters (
     workspace_id TEXT NOT NULL, campaign_id TEXT NOT NULL, template_id TEXT NOT NULL,
     template_version INTEGER NOT NULL, bucket INTEGER NOT NULL,
     sent INTEGER NOT NULL, bounced INTEGER NOT NULL, bounced_after_sent INTEGER NOT NULL,
     failed INTEGER NOT NULL, opens INTEGER NOT NULL, unique_opens INTEGER NOT NULL,
     machine_opens INTEGER NOT NULL, clicks INTEGER NOT NULL, unique_clicks INTEGER NOT NULL,
     unsubscribes INTEGER NOT NULL, conversions INTEGER NOT NULL, revenue REAL NOT NULL,
     fallback_sends INTEGER NOT NULL, live_renders INTEGER NOT NULL,
     live_fallbacks INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, campaign_id, template_id, template_version, bucket));
   CREATE INDEX analytics_counters_template ON analytics_counters (workspace_id, template_id, bucket);
   CREATE TABLE analytics_offsets (partition INTEGER PRIMARY KEY, offset INTEGER NOT NULL);`,
  // Open-time freshness (open-time-freshness.ts); rows counted before it hold zeros.
  FRESHNESS_COLUMNS.map(
    (c) => `ALTER TABLE analytics_counters ADD COLUMN ${c} INTEGER NOT NULL DEFAULT 0;`,
  ).join('\n'),
  MESSAGE_COUNTS_MIGRATION('INTEGER'),
  MESSAGE_BY_EMAIL_MIGRATION,
  EARLY_OPENS_MIGRATION,
]

type Row = Record<string, number | string | null>

export class SqliteAnalyticsStore implements AnalyticsStore {
  readonly #db: SqliteDatabase
  readonly #s
  readonly #commit: Transaction<(c: AnalyticsChanges, now: number) => void>

  constructor(db: SqliteDatabase) {
    this.#db = db
    migrate(db, 'analytics', MIGRATIONS)
    migratePrivacy(db)
    const p = sqlitePlaceholder
    const s = {
      offsets: db.prepare('SELECT partition, offset FROM analytics_offsets'),
      offset: db.prepare('SELECT offset FROM analytics_offsets WHERE partition = ?').pluck(),
      setOffset: db.prepare(
        'INSERT INTO analytics_offsets (partition, offset) VALUES (?, ?) ON CONFLICT (partition) DO UPDATE SET offset = excluded.offset',
      ),
      message: db.prepare('SELECT * FROM analytics_messages WHERE workspace_id = ? AND email_id = ?'),
      // Oldest first: ids are unique by construction; were two workspaces' rows ever to share one,
      // the answer would at least not change from one call to the next.
      messageById: db.prepare(
        `SELECT * FROM analytics_messages INDEXED BY analytics_messages_by_email WHERE email_id = ?
         ORDER BY created_at, workspace_id LIMIT 1`,
      ),
      engaged: db.prepare('SELECT * FROM analytics_engaged WHERE workspace_id = ? AND user_id = ?'),
      seen: db.prepare('SELECT 1 FROM analytics_seen WHERE workspace_id = ? AND message_id = ?').pluck(),
      upsertMessage: db.prepare(messageUpsert(p)),
      upsertEngaged: db.prepare(
        `INSERT INTO analytics_engaged (workspace_id, user_id, email_id, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET email_id = excluded.email_id, at = excluded.at`,
      ),
      addSeen: db.prepare(
        'INSERT OR IGNORE INTO analytics_seen (workspace_id, message_id, seen_at) VALUES (?, ?, ?)',
      ),
      addCounters: db.prepare(counterUpsert(p, 'max')),
      totals: db.prepare(
        `SELECT template_id, template_version, ${SUMS} FROM analytics_counters
         WHERE workspace_id = ? AND campaign_id = ? GROUP BY template_id, template_version
         ORDER BY template_id, template_version`,
      ),
      seriesCampaign: db.prepare(
        `SELECT bucket - (bucket % ?) AS t, ${SUMS} FROM analytics_counters
         WHERE workspace_id = ? AND campaign_id = ? AND bucket >= ? AND bucket < ? GROUP BY t ORDER BY t`,
      ),
      seriesTemplate: db.prepare(
        `SELECT bucket - (bucket % ?) AS t, ${SUMS} FROM analytics_counters
         WHERE workspace_id = ? AND template_id = ? AND bucket >= ? AND bucket < ? GROUP BY t ORDER BY t`,
      ),
      messagesTo: db.prepare(
        `SELECT * FROM analytics_messages INDEXED BY analytics_messages_by_user
         WHERE workspace_id = ? AND user_id IN (SELECT value FROM json_each(?))
         ORDER BY created_at DESC, email_id LIMIT ?`,
      ),
      pruneMessages: db.prepare('DELETE FROM analytics_messages WHERE created_at < ?'),
      pruneEngaged: db.prepare('DELETE FROM analytics_engaged WHERE at < ?'),
      pruneSeen: db.prepare('DELETE FROM analytics_seen WHERE seen_at < ?'),
    }
    this.#s = s
    this.#commit = db.transaction((c: AnalyticsChanges, now: number) => {
      for (const { partition } of c.offsets) {
        const stored = (s.offset.get(partition) as number | undefined) ?? 0
        if (stored !== (c.expected.get(partition) ?? 0)) throw new AnalyticsConflictError(partition)
      }
      for (const m of c.messages) s.upsertMessage.run(...messageValues(m))
      for (const e of c.engaged) s.upsertEngaged.run(e.workspaceId, e.userId, e.emailId, e.at)
      for (const e of c.seen) s.addSeen.run(e.workspaceId, e.messageId, now)
      for (const d of c.counters)
        s.addCounters.run(
          d.workspaceId,
          d.campaignId,
          d.templateId,
          d.templateVersion,
          d.bucket,
          ...counterValues(d.counters),
        )
      for (const o of c.offsets) s.setOffset.run(o.partition, o.offset)
    })
  }

  async appliedOffsets(): Promise<Map<number, number>> {
    const rows = this.#s.offsets.all() as { partition: number; offset: number }[]
    return new Map(rows.map((r) => [r.partition, r.offset]))
  }

  async load(keys: BatchKeys): Promise<Loaded> {
    const s = this.#s
    const loaded: Loaded = { messages: new Map(), engaged: new Map(), seen: new Set() }
    const message = (workspaceId: string, emailId: string) => {
      const k = key(workspaceId, emailId)
      if (loaded.messages.has(k)) return
      const row = s.message.get(workspaceId, emailId) as Row | undefined
      if (row) loaded.messages.set(k, messageFromRow(row))
    }
    for (const m of keys.messages) message(m.workspaceId, m.emailId)
    for (const u of keys.users) {
      const e = s.engaged.get(u.workspaceId, u.userId) as Row | undefined
      if (e === undefined) continue
      const engagement: Engagement = {
        workspaceId: String(e.workspace_id),
        userId: String(e.user_id),
        emailId: String(e.email_id),
        at: Number(e.at),
      }
      loaded.engaged.set(key(u.workspaceId, u.userId), engagement)
      message(u.workspaceId, engagement.emailId)
    }
    for (const e of keys.events)
      if (s.seen.get(e.workspaceId, e.messageId) !== undefined)
        loaded.seen.add(key(e.workspaceId, e.messageId))
    return loaded
  }

  async commit(changes: AnalyticsChanges): Promise<void> {
    this.#commit.immediate(changes, Date.now())
  }

  async totals(workspaceId: string, campaignId: string): Promise<VersionCounters[]> {
    const rows = this.#s.totals.all(workspaceId, campaignId) as Row[]
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
    const rows = (
      'campaignId' in filter
        ? this.#s.seriesCampaign.all(bucketMs, workspaceId, filter.campaignId, from, to)
        : this.#s.seriesTemplate.all(bucketMs, workspaceId, filter.templateId, from, to)
    ) as Row[]
    return rows.map((r) => ({ t: Number(r.t), counters: countersFromRow(r) }))
  }

  async messagesTo(workspaceId: string, userIds: readonly string[], limit: number): Promise<MessageRow[]> {
    const rows = this.#s.messagesTo.all(workspaceId, JSON.stringify(userIds), limit) as Row[]
    return rows.map(messageFromRow)
  }

  async message(workspaceId: string, emailId: string): Promise<MessageRow | undefined> {
    const row = this.#s.message.get(workspaceId, emailId) as Row | undefined
    return row === undefined ? undefined : messageFromRow(row)
  }

  async messageById(emailId: string): Promise<MessageRow | undefined> {
    const row = this.#s.messageById.get(emailId) as Row | undefined
    return row === undefined ? undefined : messageFromRow(row)
  }

  async prune(r: Retention): Promise<number> {
    const s = this.#s
    return this.#db.transaction(
      () =>
        s.pruneMessages.run(r.messagesBefore).changes +
        s.pruneEngaged.run(r.engagedBefore).changes +
        s.pruneSeen.run(r.seenBefore).changes,
    )()
  }

  async tombstonesAfter(seq: number): Promise<Tombstone[]> {
    return (this.#db.prepare(TOMBSTONES_AFTER).all(seq) as TombstoneRow[]).map(tombstoneOf)
  }

  async close(): Promise<void> {}
}
