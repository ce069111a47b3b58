/** The TemplateStore seam suite over SQLite (a peer is a second connection to the same file). */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteTemplateStore } from '../../src/content/sqlite-template-store.ts'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import { tempDir } from '../helpers/app.ts'
import { templateStoreSuite } from './template-store-suite.ts'

templateStoreSuite('SqliteTemplateStore', async (clock) => {
  const dir = tempDir('inkstream-templates-')
  const dbs: SqliteDatabase[] = []
  const open = () => {
    const db = openSqlite(join(dir, 'store.db'), 'normal')
    dbs.push(db)
    return new SqliteTemplateStore(db, { clock })
  }
  return {
    store: open(),
    peer: async () => open(),
    close: async () => {
      for (const db of dbs) db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
