/**
 * The WorkspaceStore seam suite over PostgreSQL, and what several processes need: the keys of a
 * workspace another process created are kept, not replaced by fresh ones.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PgWorkspaceStore } from '../../src/workspaces/pg-workspace-store.ts'
import { freshSchema, type PgSchema, pgSkip } from '../helpers/pg.ts'
import { workspaceStoreSuite } from './workspace-store-suite.ts'

const skip = await pgSkip()
const schemas = new Map<string, PgSchema>()

workspaceStoreSuite(
  {
    name: 'PgWorkspaceStore',
    async open(location) {
      const schema = schemas.get(location)
      if (!schema) throw new Error(`no schema ${location}`)
      return PgWorkspaceStore.open(schema.connect(2))
    },
    async location() {
      const schema = await freshSchema()
      schemas.set(schema.name, schema)
      return schema.name
    },
    async cleanup(location) {
      await schemas.get(location)?.drop()
      schemas.delete(location)
    },
  },
  { skip },
)

test('processes opened together agree on the keys of a workspace either one creates', { skip }, async () => {
  const schema = await freshSchema()
  try {
    const [a, b] = await Promise.all([
      PgWorkspaceStore.open(schema.connect(2)),
      PgWorkspaceStore.open(schema.connect(2)),
    ])
    const [fromA, fromB] = await Promise.all([a.ensure('w', {}), b.ensure('w', {})])
    assert.deepEqual(fromA, fromB)
    assert.deepEqual(a.byWriteKey(fromB.writeKey), fromA)
    assert.deepEqual(b.byAdminKey(fromA.adminKey), fromA)
  } finally {
    await schema.drop()
  }
})
