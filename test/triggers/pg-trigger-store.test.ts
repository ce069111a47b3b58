/** The TriggerStore seam suite over PostgreSQL. */
import { pgSkip } from '../helpers/pg.ts'
import { pgStores } from '../profiles/store-set.ts'
import { triggerStoreSuite } from './trigger-store-suite.ts'

triggerStoreSuite('PgTriggerStore', pgStores, { skip: await pgSkip() })
