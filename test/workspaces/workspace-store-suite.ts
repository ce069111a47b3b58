/** The WorkspaceStore seam suite: keys created, kept, replaced and found. SQLite and PostgreSQL run it. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { WorkspaceStore } from '../../src/workspaces/workspace-store.ts'

export interface WorkspaceStoreFactory {
  name: string
  /** Opens the store on a location, keys loaded; opening the same location again sees the same data. */
  open(location: string): Promise<WorkspaceStore>
  /** A new, empty location. */
  location(): Promise<string>
  cleanup(location: string): Promise<void>
}

export function workspaceStoreSuite(impl: WorkspaceStoreFactory, opts: { skip?: string | false } = {}) {
  describe(`WorkspaceStore seam: ${impl.name}`, { skip: opts.skip ?? false }, () => {
    const withStore = async (fn: (s: WorkspaceStore, location: string) => Promise<void>) => {
      const location = await impl.location()
      const store = await impl.open(location)
      try {
        await fn(store, location)
      } finally {
        await store.close()
        await impl.cleanup(location)
      }
    }

    test('ensure creates a workspace with the given keys, or fresh random ones, found by either key', () =>
      withStore(async (s) => {
        const given = await s.ensure('w1', { writeKey: 'wk_one', adminKey: 'ak_one' })
        assert.deepEqual(given, { id: 'w1', writeKey: 'wk_one', adminKey: 'ak_one' })
        const fresh = await s.ensure('w2', {})
        assert.match(fresh.writeKey, /^wk_[\w-]{24}$/)
        assert.match(fresh.adminKey, /^ak_[\w-]{24}$/)
        assert.deepEqual(s.byWriteKey('wk_one'), given)
        assert.deepEqual(s.byAdminKey('ak_one'), given)
        assert.deepEqual(s.byWriteKey(fresh.writeKey), fresh)
        assert.equal(s.byAdminKey('wk_one'), undefined, 'a write key is not an admin key')
        assert.equal(s.byWriteKey('wk_on'), undefined)
        assert.equal(s.byWriteKey(''), undefined)
      }))

    test('ensure again keeps the keys not given and replaces the given ones', () =>
      withStore(async (s) => {
        const first = await s.ensure('w', {})
        assert.deepEqual(await s.ensure('w', {}), first)
        const rotated = await s.ensure('w', { adminKey: 'ak_new' })
        assert.deepEqual(rotated, { id: 'w', writeKey: first.writeKey, adminKey: 'ak_new' })
        assert.equal(s.byAdminKey(first.adminKey), undefined, 'the old admin key no longer opens it')
        assert.deepEqual(s.byAdminKey('ak_new'), rotated)
      }))

    test('two workspaces cannot share a key', () =>
      withStore(async (s) => {
        await s.ensure('a', { writeKey: 'wk_same' })
        await assert.rejects(s.ensure('b', { writeKey: 'wk_same' }))
        assert.equal(s.byWriteKey('wk_same')?.id, 'a')
      }))

    test('keys survive closing and reopening the store', async () => {
      const location = await impl.location()
      try {
        const first = await impl.open(location)
        const ws = await first.ensure('w', {})
        await first.close()
        const second = await impl.open(location)
        assert.deepEqual(second.byWriteKey(ws.writeKey), ws)
        assert.deepEqual(second.byAdminKey(ws.adminKey), ws)
        await second.close()
      } finally {
        await impl.cleanup(location)
      }
    })
  })
}
