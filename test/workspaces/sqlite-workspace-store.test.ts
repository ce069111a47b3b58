/** The WorkspaceStore seam suite over SQLite. */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteWorkspaceStore } from '../../src/workspaces/workspace-store.ts'
import { tempDir } from '../helpers/app.ts'
import { workspaceStoreSuite } from './workspace-store-suite.ts'

workspaceStoreSuite({
  name: 'SqliteWorkspaceStore',
  async open(dir) {
    const db = openSqlite(join(dir, 'store.db'), 'normal')
    const store = new SqliteWorkspaceStore(db)
    return Object.assign(store, {
      close: async () => {
        db.close()
      },
    })
  },
  location: async () => tempDir('inkstream-workspaces-'),
  cleanup: async (dir) => rmSync(dir, { recursive: true, force: true }),
})
