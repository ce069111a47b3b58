/** The ProfileStore seam suite (with the processor-driven tests) over SQLite. */
import { profileStoreSuite } from '../profiles/profile-store-suite.ts'
import { sqliteStores } from '../profiles/store-set.ts'

profileStoreSuite('SqliteProfileStore', sqliteStores)
