/** The topic suite over PostgreSQL. */
import { PgCampaignStore } from '../../src/campaigns/pg-campaign-store.ts'
import { PgTopicStore } from '../../src/topics/pg-topic-store.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { topicStoreSuite } from './topic-store-suite.ts'

topicStoreSuite(
  'PostgreSQL',
  async (now) => {
    const schema = await freshSchema()
    const pool = schema.connect()
    const topics = new PgTopicStore(pool, { clock: { now } })
    const campaigns = new PgCampaignStore(pool, { clock: { now } })
    await Promise.all([topics.ready(), campaigns.ready()])
    return { topics, campaigns, close: () => schema.drop() }
  },
  { skip: await pgSkip() },
)
