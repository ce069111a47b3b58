/**
 * Per-message opens, clicks and failure time (the profile page's messages) were added to
 * analytics_messages after its first release: a database made before keeps its rows, which count
 * an open or click where they have a first time of one (a lower bound), on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MIGRATIONS as PG_MIGRATIONS, PgAnalyticsStore } from '../../src/analytics/pg-analytics-store.ts'
import { SqliteAnalyticsStore } from '../../src/analytics/sqlite-analytics-store.ts'
import { migratePg } from '../../src/db/pg.ts'
import { migrate, openSqlite } from '../../src/db/sqlite.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'

// The SQLite store's first migration step, as released (its statements need every table).
const SQLITE_V1 = `CREATE TABLE analytics_messages (
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
   CREATE TABLE analytics_offsets (partition INTEGER PRIMARY KEY, offset INTEGER NOT NULL);`

const ROWS = `INSERT INTO analytics_messages VALUES
  ('w', 'e1', 'spring', 'ann', 'promo', 1, 1000, 1000, NULL, 5000, 6000, NULL, 0, 0),
  ('w', 'e2', 'spring', 'ann', 'promo', 1, 2000, 2000, NULL, NULL, NULL, NULL, 0, 0)`

const expected = [
  { emailId: 'e2', opens: 0, clicks: 0, failedAt: null, sentAt: 2000 },
  { emailId: 'e1', opens: 1, clicks: 1, failedAt: null, sentAt: 1000 },
]
const pick = (
  rows: { emailId: string; opens: number; clicks: number; failedAt: number | null; sentAt: number | null }[],
) =>
  rows.map(({ emailId, opens, clicks, failedAt, sentAt }) => ({ emailId, opens, clicks, failedAt, sentAt }))

test('SQLite: rows from before the per-message counts are kept and count their first open and click', async () => {
  const db = openSqlite(':memory:')
  try {
    migrate(db, 'analytics', [SQLITE_V1])
    db.exec(ROWS)
    const store = new SqliteAnalyticsStore(db)
    assert.deepEqual(pick(await store.messagesTo('w', ['ann'], 10)), expected)
  } finally {
    db.close()
  }
})

test('PostgreSQL: rows from before the per-message counts are kept and count their first open and click', {
  skip: await pgSkip(),
}, async () => {
  const schema = await freshSchema()
  try {
    const pool = schema.connect()
    // The first step as released (the later steps alter its other tables too).
    await migratePg(pool, 'analytics', [PG_MIGRATIONS[0] ?? ''])
    await pool.query(ROWS)
    const store = await PgAnalyticsStore.open(pool)
    assert.deepEqual(pick(await store.messagesTo('w', ['ann'], 10)), expected)
  } finally {
    await schema.drop()
  }
})
