/** The topic suite over SQLite. */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { SqliteCampaignStore } from '../../src/campaigns/sqlite-campaign-store.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteTopicStore } from '../../src/topics/sqlite-topic-store.ts'
import { tempDir } from '../helpers/app.ts'
import { topicStoreSuite } from './topic-store-suite.ts'

topicStoreSuite('SQLite', async (now) => {
  const dir = tempDir('inkstream-topics-')
  const db = openSqlite(join(dir, 'store.db'), 'normal')
  return {
    topics: new SqliteTopicStore(db, { clock: { now } }),
    campaigns: new SqliteCampaignStore(db, { clock: { now } }),
    async close() {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

test('a database from before double opt-in keeps its states and takes pending', async () => {
  const dir = tempDir('inkstream-topics-')
  const db = openSqlite(join(dir, 'store.db'), 'normal')
  try {
    // The first migration step alone, with a state in it, as an older release left it.
    db.exec(`CREATE TABLE schema_migrations (name TEXT NOT NULL, step INTEGER NOT NULL, PRIMARY KEY (name, step));
      INSERT INTO schema_migrations VALUES ('sqlite-topic-store', 0);
      CREATE TABLE topics (workspace_id TEXT NOT NULL, topic_id TEXT NOT NULL, name TEXT NOT NULL,
        description TEXT NOT NULL, double_opt_in INTEGER NOT NULL, created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, PRIMARY KEY (workspace_id, topic_id)) WITHOUT ROWID;
      CREATE TABLE topic_subscriptions (workspace_id TEXT NOT NULL, user_id TEXT NOT NULL, topic_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('subscribed', 'unsubscribed')), source TEXT NOT NULL,
        at INTEGER NOT NULL, PRIMARY KEY (workspace_id, user_id, topic_id)) WITHOUT ROWID;
      INSERT INTO topics VALUES ('w', 'news', 'News', '', 1, 1, 1);
      INSERT INTO topic_subscriptions VALUES ('w', 'ann', 'news', 'unsubscribed', 'api', 5);`)
    const topics = new SqliteTopicStore(db)
    assert.deepEqual(await topics.subscriptions('w', 'ann'), [
      { topicId: 'news', state: 'unsubscribed', source: 'api', at: 5 },
    ])
    const pending = { topicId: 'news', state: 'pending' as const, source: 'api', at: 6 }
    assert.equal(await topics.setSubscription('w', 'bob', pending), true)
    assert.equal(await topics.isUnsubscribed('w', 'bob', 'news'), true)
  } finally {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
