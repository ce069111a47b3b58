/** The TriggerStore seam suite (jobs committed by the processor, claimed by the dispatcher) over SQLite. */
import { sqliteStores } from '../profiles/store-set.ts'
import { triggerStoreSuite } from './trigger-store-suite.ts'

triggerStoreSuite('SqliteTriggerStore', sqliteStores)
