/** The bounce policy suite over SQLite: the batch store and the suppression list on one file. */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteSuppressionStore } from '../../src/delivery/sqlite-suppression-store.ts'
import { SqliteBatchStore } from '../../src/pipeline/sqlite-batch-store.ts'
import { SqliteTopicStore } from '../../src/topics/sqlite-topic-store.ts'
import { tempDir } from '../helpers/app.ts'
import { bouncePolicySuite } from './bounce-policy-suite.ts'

bouncePolicySuite('SQLite', async (now) => {
  const dir = tempDir('inkstream-bounce-')
  const db = openSqlite(join(dir, 'store.db'), 'normal')
  // The processor's store first: it creates the suppression table it writes into.
  const batch = new SqliteBatchStore(db, { clock: { now } })
  const suppressions = new SqliteSuppressionStore(db, { clock: { now } })
  return {
    batch,
    suppressions,
    topics: new SqliteTopicStore(db, { clock: { now } }),
    async close() {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
