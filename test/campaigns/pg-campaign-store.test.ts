/** The CampaignStore seam suite over PostgreSQL. */
import { PgCampaignStore } from '../../src/campaigns/pg-campaign-store.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { campaignStoreSuite } from './campaign-store-suite.ts'

campaignStoreSuite(
  'PgCampaignStore',
  async (clock) => {
    const schema = await freshSchema()
    const store = new PgCampaignStore(schema.connect(), { clock })
    await store.ready()
    return { store, close: () => schema.drop() }
  },
  { skip: await pgSkip() },
)
