/** The BatchStore seam suite (with the processor-driven tests) over PostgreSQL. */
import { pgSkip } from '../helpers/pg.ts'
import { pgStores } from '../profiles/store-set.ts'
import { batchStoreSuite } from './batch-store-suite.ts'

batchStoreSuite('PgBatchStore', pgStores, { skip: await pgSkip() })
