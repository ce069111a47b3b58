/** The BatchStore seam suite (with the processor-driven tests) over SQLite. */

import { sqliteStores } from '../profiles/store-set.ts'
import { batchStoreSuite } from './batch-store-suite.ts'

batchStoreSuite('SqliteBatchStore', sqliteStores)
