/**
 * What the embedded store does beyond the seam suite. It counts each profile's recent events (profiles.recent_events) so that a commit
 * trims only the profiles past RECENT_EVENTS_KEPT; a store made before the count existed gets it
 * from its rows when it is opened.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { openSqlite } from '../../src/db/sqlite.ts'
import { dedupeKey } from '../../src/pipeline/batch-store.ts'
import { SqliteBatchStore } from '../../src/pipeline/sqlite-batch-store.ts'
import { type NewRecentEvent, RECENT_EVENTS_KEPT } from '../../src/profiles/recent-events.ts'
import { changes, profile } from './batch-store-suite.ts'

const event = (profileId: string, n: number): NewRecentEvent => ({
  workspaceId: 'w',
  profileId,
  messageId: `${profileId}-${n}`,
  type: 'track',
  name: `E${n}`,
  at: 1000 + n,
  receivedAt: 1000 + n,
  data: {},
  dataJson: '{}',
})

test('a store made before the recent-events count trims its full profiles once it has the count', async () => {
  const db = openSqlite(':memory:')
  new SqliteBatchStore(db)
  // Back to the schema before the count: the column gone, its migration step not applied.
  db.exec(`ALTER TABLE profiles DROP COLUMN recent_events;
    DELETE FROM schema_migrations WHERE name = 'sqlite-profile-store' AND step = 3;`)
  db.prepare(
    `INSERT INTO profiles (workspace_id, profile_id, user_id, state, version, created_at, updated_at, last_event_received_at)
     VALUES ('w', 'old', NULL, '{"traits":{},"computed":{},"firstSeenAt":0,"lastSeenAt":0}', 1, 0, 0, 0)`,
  ).run()
  const add = db.prepare(
    `INSERT INTO profile_events (workspace_id, profile_id, message_id, type, name, at, received_at, data)
     VALUES ('w', 'old', ?, 'track', ?, ?, ?, '{}')`,
  )
  for (let n = 0; n < RECENT_EVENTS_KEPT; n++) add.run(`old-${n}`, `E${n}`, 1000 + n, 1000 + n)

  const store = new SqliteBatchStore(db)
  await store.commit(
    changes({ upserts: [profile('old', { version: 2 })], events: [event('old', RECENT_EVENTS_KEPT)] }),
  )
  const kept = await store.recentEvents('w', 'old', 1000)
  assert.equal(kept.length, RECENT_EVENTS_KEPT)
  assert.equal(kept[0]?.name, `E${RECENT_EVENTS_KEPT}`)
  assert.equal(kept.at(-1)?.name, 'E1')
  db.close()
})

test('dedupe finds ids as SQLite stored them, a lone surrogate included, across several lookup statements', async () => {
  const db = openSqlite(':memory:')
  const store = new SqliteBatchStore(db)
  const odd = 'm-\ud800'
  const applied = [
    { workspaceId: 'w', messageId: odd },
    ...Array.from({ length: 99 }, (_, i) => ({ workspaceId: 'w', messageId: `m${i}` })),
  ]
  await store.commit(changes({ messageIds: applied }))
  const asked = [...applied, { workspaceId: 'w', messageId: 'new' }, { workspaceId: 'v', messageId: 'm1' }]
  const seen = await store.seenMessageIds(asked)
  assert.equal(seen.size, applied.length)
  assert.ok(seen.has(dedupeKey('w', odd)))
  assert.ok(seen.has(dedupeKey('w', 'm98')))
  assert.ok(!seen.has(dedupeKey('v', 'm1')))
  db.close()
})
