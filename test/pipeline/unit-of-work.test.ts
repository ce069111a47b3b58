/**
 * The processor's unit of work on its own, over a real SQLite profile store: where lookups go
 * (batch, warm cache, store), what `finish` hands to the commit (version bumps, merges, and the
 * rows as first read, which a multi-writer store checks), and what `keepWarm` leaves in the cache.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, mock, test } from 'node:test'
import type { InkEvent } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import type { BatchChanges } from '../../src/pipeline/batch-store.ts'
import { SqliteBatchStore } from '../../src/pipeline/sqlite-batch-store.ts'
import { UnitOfWork } from '../../src/pipeline/unit-of-work.ts'
import { WarmCache } from '../../src/pipeline/warm-cache.ts'
import type { StoredProfile } from '../../src/profiles/profile-store.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'

const T0 = Date.parse('2026-11-01T00:00:00Z')
const NOW = Date.parse('2026-11-28T12:00:00Z')

const idKey = (kind: string, value: string, ws = 'w') => `${ws}\n${kind}\n${value}`
const profileKey = (profileId: string, ws = 'w') => `${ws}\n${profileId}`

const stored = (profileId: string, userId: string | null, version: number, ws = 'w'): StoredProfile => ({
  workspaceId: ws,
  profileId,
  userId,
  state: emptyState(),
  version,
  createdAt: T0,
  updatedAt: T0,
  lastEventReceivedAt: 0,
})

const noChanges = (): BatchChanges => ({
  upserts: [],
  deletes: [],
  identities: [],
  messageIds: [],
  offsets: [],
  memberships: [],
  events: [],
})

describe('UnitOfWork', () => {
  let db: ReturnType<typeof openSqlite>
  let store: SqliteBatchStore
  let warm: WarmCache
  let uow: UnitOfWork

  /** Writes profiles and bindings as an earlier batch (or another processor) would have. */
  const seed = (profiles: StoredProfile[], identities: BatchChanges['identities']) =>
    store.commit({ ...noChanges(), upserts: profiles, identities })

  beforeEach(() => {
    db = openSqlite(':memory:')
    store = new SqliteBatchStore(db, { clock: { now: () => NOW } })
    warm = new WarmCache(100)
    uow = new UnitOfWork(store, NOW, warm)
  })
  afterEach(() => db.close())

  test('an empty batch hands over empty changes and expects nothing', () => {
    assert.deepEqual(uow.finish(), { ...noChanges(), expectedProfiles: [], expectedIdentities: [] })
  })

  test('lookups ask the warm cache before the store', async () => {
    await seed(
      [stored('p-store', null, 1), stored('p-warm', null, 4)],
      [
        { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'p-store' },
        { workspaceId: 'w', kind: 'anonymousId', value: 'a2', profileId: 'p-store' },
      ],
    )
    warm.ids.set(idKey('anonymousId', 'a1'), 'p-warm')
    // null in the cache: known to be unbound, so the store is not asked.
    warm.ids.set(idKey('anonymousId', 'a2'), null)
    const cached = stored('p-warm', null, 4)
    warm.profiles.set(profileKey('p-warm'), cached)

    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a1'), 'p-warm')
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a2'), undefined)
    assert.equal(await uow.getProfile('w', 'p-warm'), cached)
  })

  test("prefetch reads what the warm cache lacks in one call; the batch's own bindings come before it", async () => {
    await seed(
      [stored('p1', 'u1', 3), stored('p-store', null, 1)],
      [
        { workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'p1' },
        { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'p-store' },
      ],
    )
    warm.ids.set(idKey('anonymousId', 'a1'), 'p-warm')
    warm.profiles.set(profileKey('p-warm'), stored('p-warm', null, 4))
    const lookup = mock.method(store, 'lookupIdentities')
    const event = (ids: Partial<InkEvent>): InkEvent => ({
      type: 'track',
      messageId: 'm',
      workspaceId: 'w',
      timestamp: '',
      receivedAt: '',
      ...ids,
    })
    await uow.prefetch([
      event({ anonymousId: 'a1' }),
      event({ userId: 'u1', anonymousId: 'a2' }),
      event({ type: 'alias', userId: 'u1', previousId: 'a3' }),
    ])
    assert.equal(lookup.mock.callCount(), 1)
    assert.deepEqual(
      lookup.mock.calls[0]?.arguments[0]?.map((i) => `${i.kind}:${i.value}`),
      ['userId:u1', 'anonymousId:a2', 'userId:a3', 'anonymousId:a3'],
    )

    const find = mock.method(store, 'findProfileId')
    const get = mock.method(store, 'getProfile')
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a1'), 'p-warm')
    assert.equal(await uow.findProfileId('w', 'userId', 'u1'), 'p1')
    assert.equal((await uow.getProfile('w', 'p1')).version, 3)
    // Read as unbound, then bound by an earlier event of the batch: the binding wins.
    const created = uow.create('w', null)
    uow.bind('w', 'anonymousId', 'a2', created.profileId)
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a2'), created.profileId)
    assert.equal(find.mock.callCount() + get.mock.callCount(), 0)
    // Not prefetched: read from the store as before.
    assert.equal(await uow.getProfile('w', 'p-store').then((p) => p.version), 1)
    assert.equal(get.mock.callCount(), 1)
    // Read as first seen: the prefetched versions are what the commit expects.
    uow.touch(await uow.getProfile('w', 'p1'))
    assert.deepEqual(uow.finish().expectedProfiles, [{ workspaceId: 'w', profileId: 'p1', version: 3 }])
  })

  test('a profile an identity points at but the store lacks is an error, also when asked again', async () => {
    await seed([], [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'ghost' }])
    assert.equal(await uow.findProfileId('w', 'userId', 'u1'), 'ghost')
    const missing = { name: 'Error', message: 'profile ghost is referenced by an identity but missing' }
    await assert.rejects(uow.getProfile('w', 'ghost'), missing)
    await assert.rejects(uow.getProfile('w', 'ghost'), missing)
  })

  test('finish bumps every touched profile and expects the stored versions of the ones it read', async () => {
    await seed([stored('p1', 'u1', 3), stored('p2', 'u2', 7)], [])
    const warmP3 = stored('p3', 'u3', 5)
    warm.profiles.set(profileKey('p3'), warmP3)

    const p1 = await uow.getProfile('w', 'p1')
    await uow.getProfile('w', 'p2') // read, not changed
    const p3 = await uow.getProfile('w', 'p3')
    const created = uow.create('w', 'u4')
    uow.touch(p1)
    uow.touch(p3)
    uow.touch(p1) // once per batch, however often touched

    const changes = uow.finish()
    assert.deepEqual(
      changes.upserts.map((p) => [p.profileId, p.version, p.updatedAt, p.createdAt]),
      [
        [created.profileId, 1, NOW, NOW],
        ['p1', 4, NOW, T0],
        ['p3', 6, NOW, T0],
      ],
    )
    assert.equal(changes.upserts[0], created)
    assert.equal(changes.upserts[2], warmP3)
    // A created profile has no stored row to expect.
    assert.deepEqual(changes.expectedProfiles, [
      { workspaceId: 'w', profileId: 'p1', version: 3 },
      { workspaceId: 'w', profileId: 'p3', version: 5 },
    ])
    assert.deepEqual(changes.deletes, [])
    assert.deepEqual(changes.expectedIdentities, [])
  })

  test('finish expects the first-read binding of each identity the batch binds, and only those', async () => {
    await seed([stored('p1', 'u1', 2)], [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'p1' }])
    assert.equal(await uow.findProfileId('w', 'userId', 'u1'), 'p1') // read, not rebound
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a1'), undefined)
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a2'), undefined) // read, never bound
    const p1 = await uow.getProfile('w', 'p1')
    uow.bind('w', 'anonymousId', 'a1', 'p1')
    uow.touch(p1)
    // Later lookups in the batch see the binding; the expectation keeps the first read.
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a1'), 'p1')

    const changes = uow.finish()
    assert.deepEqual(changes.identities, [
      { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'p1' },
    ])
    assert.deepEqual(changes.expectedIdentities, [
      { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: null },
    ])
  })

  test('a merge deletes the stored profile, rebinds its identities and keeps the others bound', async () => {
    await seed(
      [stored('from', null, 2), stored('into', 'u1', 5), stored('other', null, 1)],
      [
        { workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'into' },
        { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'from' },
        { workspaceId: 'w', kind: 'anonymousId', value: 'a2', profileId: 'from' },
      ],
    )
    // A previous batch left `from` in the cache.
    warm.profiles.set(profileKey('from'), stored('from', null, 2))
    const into = await uow.getProfile('w', (await uow.findProfileId('w', 'userId', 'u1')) as string)
    const from = await uow.getProfile('w', (await uow.findProfileId('w', 'anonymousId', 'a1')) as string)
    const other = await uow.getProfile('w', 'other')
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a9'), undefined) // stays unbound
    // Earlier events of the batch bound a3 to `from` and a4 to another profile.
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a3'), undefined)
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a4'), undefined)
    uow.bind('w', 'anonymousId', 'a3', 'from')
    uow.bind('w', 'anonymousId', 'a4', 'other')
    uow.touch(from)
    uow.touch(other)
    uow.touch(into)

    await uow.remove(from, into)

    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a1'), 'into')
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a2'), 'into')
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a3'), 'into')
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a4'), 'other')
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a9'), undefined)
    assert.equal(await uow.findProfileId('w', 'userId', 'u1'), 'into')

    const changes = uow.finish()
    assert.deepEqual(changes.deletes, [{ workspaceId: 'w', profileId: 'from', into: 'into' }])
    assert.deepEqual(
      changes.upserts.map((p) => [p.profileId, p.version]),
      [
        ['other', 2],
        ['into', 6],
      ],
    )
    assert.deepEqual(changes.identities, [
      { workspaceId: 'w', kind: 'anonymousId', value: 'a3', profileId: 'into' },
      { workspaceId: 'w', kind: 'anonymousId', value: 'a4', profileId: 'other' },
      { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'into' },
      { workspaceId: 'w', kind: 'anonymousId', value: 'a2', profileId: 'into' },
    ])
    assert.deepEqual(changes.expectedProfiles, [
      { workspaceId: 'w', profileId: 'other', version: 1 },
      { workspaceId: 'w', profileId: 'into', version: 5 },
      { workspaceId: 'w', profileId: 'from', version: 2 },
    ])
    // a2 was never looked up: the merge records it as read from the store, bound to `from`.
    assert.deepEqual(changes.expectedIdentities, [
      { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'from' },
      { workspaceId: 'w', kind: 'anonymousId', value: 'a3', profileId: null },
      { workspaceId: 'w', kind: 'anonymousId', value: 'a4', profileId: null },
      { workspaceId: 'w', kind: 'anonymousId', value: 'a2', profileId: 'from' },
    ])

    // Committed, the store holds what the batch decided.
    await store.commit(changes)
    assert.equal(await store.getProfile('w', 'from'), undefined)
    assert.deepEqual(await store.identities('w', 'into'), [
      { kind: 'anonymousId', value: 'a1' },
      { kind: 'anonymousId', value: 'a2' },
      { kind: 'anonymousId', value: 'a3' },
      { kind: 'userId', value: 'u1' },
    ])
    assert.deepEqual(await store.identities('w', 'other'), [{ kind: 'anonymousId', value: 'a4' }])

    // After the commit the cache holds the batch's profiles and bindings, and not the merged-away one.
    uow.keepWarm()
    assert.equal(warm.profiles.get(profileKey('into')), into)
    assert.equal(warm.profiles.get(profileKey('other')), other)
    assert.equal(warm.profiles.get(profileKey('from')), undefined)
    assert.equal(warm.profiles.size, 2)
    assert.equal(warm.ids.get(idKey('anonymousId', 'a1')), 'into')
    assert.equal(warm.ids.get(idKey('anonymousId', 'a4')), 'other')
    assert.equal(warm.ids.get(idKey('anonymousId', 'a9')), null)
  })

  test('merging away a profile created in the batch deletes nothing and expects nothing of it', async () => {
    await seed(
      [stored('into', 'u1', 5)],
      [{ workspaceId: 'w', kind: 'userId', value: 'u1', profileId: 'into' }],
    )
    const into = await uow.getProfile('w', 'into')
    const from = uow.create('w', null)
    uow.bind('w', 'anonymousId', 'a1', from.profileId)
    uow.touch(into)

    await uow.remove(from, into)

    const changes = uow.finish()
    assert.deepEqual(changes.deletes, [])
    assert.deepEqual(
      changes.upserts.map((p) => [p.profileId, p.version]),
      [['into', 6]],
    )
    assert.deepEqual(changes.identities, [
      { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'into' },
    ])
    assert.deepEqual(changes.expectedProfiles, [{ workspaceId: 'w', profileId: 'into', version: 5 }])
  })

  test('a merged-away profile is not written back when touched after the merge', async () => {
    await seed([stored('from', null, 2), stored('into', 'u1', 5)], [])
    const from = await uow.getProfile('w', 'from')
    const into = await uow.getProfile('w', 'into')
    await uow.remove(from, into)
    uow.touch(from)
    uow.touch(into)

    const changes = uow.finish()
    assert.deepEqual(
      changes.upserts.map((p) => [p.profileId, p.version]),
      [['into', 6]],
    )
    assert.deepEqual(changes.deletes, [{ workspaceId: 'w', profileId: 'from', into: 'into' }])
  })

  test('a merge keeps the binding as first read when another writer moved it since', async () => {
    await seed(
      [stored('from', null, 2), stored('into', 'u1', 5), stored('elsewhere', null, 1)],
      [{ workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'elsewhere' }],
    )
    assert.equal(await uow.findProfileId('w', 'anonymousId', 'a1'), 'elsewhere')
    const from = await uow.getProfile('w', 'from')
    const into = await uow.getProfile('w', 'into')
    // Another processor binds a1 to `from` before this batch merges `from` away.
    await seed([], [{ workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'from' }])
    uow.touch(into)

    await uow.remove(from, into)

    // The batch based its decisions on a1 → elsewhere: that is what a multi-writer commit must check.
    assert.deepEqual(uow.finish().expectedIdentities, [
      { workspaceId: 'w', kind: 'anonymousId', value: 'a1', profileId: 'elsewhere' },
    ])
  })
})
