import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteAnalyticsStore } from '../../src/analytics/sqlite-analytics-store.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { tempDir } from '../helpers/app.ts'
import { analyticsStoreSuite } from './analytics-store-suite.ts'

analyticsStoreSuite(
  'SQLite',
  async () => {
    const dir = tempDir('inkstream-analytics-sqlite-')
    const db = openSqlite(join(dir, 'inkstream.db'))
    const store = new SqliteAnalyticsStore(db)
    return {
      store,
      close: async () => {
        await store.close()
        db.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  },
  async () => false,
)
