import { PgAnalyticsStore } from '../../src/analytics/pg-analytics-store.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { analyticsStoreSuite } from './analytics-store-suite.ts'

analyticsStoreSuite(
  'PostgreSQL',
  async () => {
    const schema = await freshSchema()
    const store = await PgAnalyticsStore.open(schema.connect())
    return {
      store,
      close: async () => {
        await store.close()
        await schema.drop()
      },
    }
  },
  pgSkip,
)
