/** The SegmentStore seam suite (with membership maintained by the processor) over SQLite. */
import { sqliteStores } from '../profiles/store-set.ts'
import { segmentStoreSuite } from '../segments/segment-store-suite.ts'

segmentStoreSuite('SqliteSegmentStore', sqliteStores)
