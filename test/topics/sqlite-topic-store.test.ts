/** The topic suite over SQLite. */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
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
