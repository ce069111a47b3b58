/** The CampaignStore seam suite over SQLite. */
import { SqliteCampaignStore } from '../../src/campaigns/sqlite-campaign-store.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { campaignStoreSuite } from './campaign-store-suite.ts'

campaignStoreSuite('SqliteCampaignStore', async (clock) => {
  const db = openSqlite(':memory:')
  return {
    store: new SqliteCampaignStore(db, { clock }),
    close: async () => {
      db.close()
    },
  }
})
