/** The WorkspaceStore seam suite over SQLite. */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteWorkspaceStore } from '../../src/workspaces/sqlite-workspace-store.ts'
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

test('a store opened before another created the workspace keeps that workspace keys', async () => {
  const dir = tempDir('inkstream-workspaces-')
  const dbA = openSqlite(join(dir, 'store.db'), 'normal')
  const dbB = openSqlite(join(dir, 'store.db'), 'normal')
  try {
    const a = new SqliteWorkspaceStore(dbA) // loads an empty list
    const b = new SqliteWorkspaceStore(dbB)
    const fromB = await b.ensure('w', {})
    const fromA = await a.ensure('w', {})
    assert.deepEqual(fromA, fromB, 'A must not replace the keys B created')
    assert.deepEqual(a.byWriteKey(fromB.writeKey), fromB)
    // Keys given are still applied.
    const rotated = await a.ensure('w', { adminKey: 'ak_rotated' })
    assert.deepEqual(rotated, { ...fromB, adminKey: 'ak_rotated' })
  } finally {
    dbA.close()
    dbB.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
