/**
 * The analytics stores' second migration (open-time freshness) on a store that already counted:
 * the old counters are kept, the new ones start at zero and count from there. SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { AnalyticsStore } from '../../src/analytics/analytics-store.ts'
import { zeroCounters } from '../../src/analytics/engagement-rules.ts'
import { ageBucketOf } from '../../src/analytics/open-time-freshness.ts'
import { MIGRATIONS as PG_MIGRATIONS, PgAnalyticsStore } from '../../src/analytics/pg-analytics-store.ts'
import {
  MIGRATIONS as SQLITE_MIGRATIONS,
  SqliteAnalyticsStore,
} from '../../src/analytics/sqlite-analytics-store.ts'
import { migratePg } from '../../src/db/pg.ts'
import { migrate, openSqlite } from '../../src/db/sqlite.ts'
import { tempDir } from '../helpers/app.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'

const B = 1_800_000_000_000
/** A counter row as the first migration's table holds it: 9 sent, 4 live renders, 1 fell back. */
const OLD_ROW = `INSERT INTO analytics_counters (workspace_id, campaign_id, template_id, template_version, bucket,
  sent, bounced, bounced_after_sent, failed, opens, unique_opens, machine_opens, clicks, unique_clicks,
  unsubscribes, conversions, revenue, fallback_sends, live_renders, live_fallbacks)
  VALUES ('w', 'c', 'promo', 1, ${B}, 9, 0, 0, 0, 4, 4, 0, 0, 0, 0, 0, 0, 0, 4, 1)`

/** After the migration: the old row intact with zero freshness, then a render 20 s old counted into it. */
async function check(store: AnalyticsStore): Promise<void> {
  const [before] = await store.totals('w', 'c')
  assert.deepEqual(before?.counters, {
    ...zeroCounters(),
    sent: 9,
    opens: 4,
    uniqueOpens: 4,
    liveRenders: 4,
    liveFallbacks: 1,
  })
  const counters = {
    ...zeroCounters(),
    liveRenders: 1,
    liveAged: 1,
    liveAgeSumMs: 20_000,
    liveAgeMaxMs: 20_000,
  }
  counters[ageBucketOf(20_000)] = 1
  await store.commit({
    messages: [],
    engaged: [],
    seen: [],
    conversions: [],
    counters: [
      { workspaceId: 'w', campaignId: 'c', templateId: 'promo', templateVersion: 1, bucket: B, counters },
    ],
    offsets: [{ partition: 0, offset: 1 }],
    expected: new Map(),
  })
  const [after] = await store.totals('w', 'c')
  assert.deepEqual(
    [
      after?.counters.sent,
      after?.counters.liveRenders,
      after?.counters.liveAged,
      after?.counters.liveAgeLe30s,
    ],
    [9, 5, 1, 1],
  )
  assert.equal(after?.counters.liveAgeMaxMs, 20_000)
}

test('SQLite: the freshness migration keeps what was counted and counts from zero', async () => {
  const dir = tempDir('inkstream-analytics-migration-')
  const db = openSqlite(join(dir, 'a.db'))
  try {
    migrate(db, 'analytics', SQLITE_MIGRATIONS.slice(0, 1))
    db.exec(OLD_ROW)
    await check(new SqliteAnalyticsStore(db))
  } finally {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('PostgreSQL: the freshness migration keeps what was counted and counts from zero', async (t) => {
  const skipped = await pgSkip()
  if (skipped) return t.skip(skipped)
  const schema = await freshSchema()
  try {
    const pool = schema.connect()
    await migratePg(pool, 'analytics', PG_MIGRATIONS.slice(0, 1))
    await pool.query(OLD_ROW)
    await check(await PgAnalyticsStore.open(pool))
  } finally {
    await schema.drop()
  }
})
