/**
 * The embedded app folds analytics in a thread of its own: the HTTP thread never loads or commits
 * analytics rows (its fsync and the read of every log row used to block the event loop), yet the
 * counters are committed, and stats read on the main thread see them.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { SqliteAnalyticsStore } from '../../src/analytics/sqlite-analytics-store.ts'
import { DATABASE_FILE } from '../../src/app.ts'
import { basicAuth, startTestApp } from '../helpers/app.ts'
import { waitForAnalytics } from './analytics-helpers.ts'

test('the analytics consumer commits in its own thread, never on the HTTP thread', async () => {
  // This module's copy of the class is the main thread's: a worker loads its own.
  const proto = SqliteAnalyticsStore.prototype
  const { load, commit } = proto
  let mainThreadCalls = 0
  proto.load = function (this: SqliteAnalyticsStore, ...args: Parameters<typeof load>) {
    mainThreadCalls++
    return load.apply(this, args)
  }
  proto.commit = function (this: SqliteAnalyticsStore, ...args: Parameters<typeof commit>) {
    mainThreadCalls++
    return commit.apply(this, args)
  }
  const app = await startTestApp()
  try {
    // A conversion event has analytics keys: its batch is loaded and committed (with its offset).
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${app.url}/v1/track`, {
        method: 'POST',
        headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
        body: JSON.stringify({ userId: `u${i}`, event: 'Order Completed', properties: { revenue: 10 } }),
      })
      assert.equal(res.status, 200)
    }
    await waitForAnalytics(app)
    const db = new Database(join(app.dataDir, DATABASE_FILE), { readonly: true })
    try {
      const offsets = db.prepare('SELECT offset FROM analytics_offsets').all() as { offset: number }[]
      assert.deepEqual(
        offsets.map((o) => o.offset),
        [5],
        'the five events were folded and their offset committed with the counters',
      )
    } finally {
      db.close()
    }
    assert.equal(mainThreadCalls, 0, 'the analytics store was loaded or committed on the HTTP thread')
  } finally {
    await app.close()
    proto.load = load
    proto.commit = commit
  }
})
