/** The ProfileStore seam suite (with the processor-driven tests) over PostgreSQL. */
import { pgSkip } from '../helpers/pg.ts'
import { profileStoreSuite } from './profile-store-suite.ts'
import { pgStores } from './store-set.ts'

profileStoreSuite('PgProfileStore', pgStores, { skip: await pgSkip() })
