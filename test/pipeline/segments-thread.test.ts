import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteEventLog } from '../../src/log/sqlite-event-log.ts'
import { ProcessorThread } from '../../src/pipeline/processor-thread.ts'
import { SqliteSegmentStore } from '../../src/segments/sqlite-segment-store.ts'
import { tempDir } from '../helpers/app.ts'

const until = async (what: string, ok: () => Promise<boolean>) => {
  const deadline = Date.now() + 10_000
  while (!(await ok())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('the worker sees segments saved by the main thread, backfills them and keeps them current', async () => {
  const dir = tempDir('inkstream-segments-')
  let applied = 0
  const thread = new ProcessorThread(
    {
      databaseFile: join(dir, 'inkstream.db'),
      logFile: join(dir, 'log.db'),
      synchronous: 'normal',
      traitsFile: undefined,
      batchSize: 100,
      dedupeWindowMs: 7 * 86_400_000,
      lingerMs: 10,
      logLevel: 'silent',
    },
    (report) => {
      applied += report.applied
    },
    () => {},
  )
  const logDb = openSqlite(join(dir, 'log.db'), 'normal')
  const log = new SqliteEventLog(logDb)
  const storeDb = openSqlite(join(dir, 'inkstream.db'), 'normal')
  let n = 0
  const identify = (userId: string, plan: string) => {
    const at = new Date().toISOString()
    return {
      type: 'identify' as const,
      messageId: `m${++n}`,
      workspaceId: 'w',
      userId,
      traits: { plan },
      timestamp: at,
      receivedAt: at,
    }
  }
  try {
    await thread.start()
    await log.append([identify('u1', 'pro'), identify('u2', 'free')])
    thread.wake()
    await until('the first batch', async () => applied === 2)
    const segments = new SqliteSegmentStore(storeDb)
    await segments.put('w', 'pro', { condition: { plan: 'pro' } })
    // Backfill runs on the worker's poll (1 s by default).
    await until('the backfill', async () => (await segments.get('w', 'pro'))?.membersVersion === 1)
    assert.deepEqual(
      (await segments.members('w', 'pro', { limit: 10 })).map((m) => m.userId),
      ['u1'],
    )
    await log.append([identify('u2', 'pro'), identify('u1', 'free')])
    thread.wake()
    await until('the second batch', async () => applied === 4)
    assert.deepEqual(
      (await segments.members('w', 'pro', { limit: 10 })).map((m) => m.userId),
      ['u2'],
    )
  } finally {
    await thread.close()
    await log.close()
    logDb.close()
    storeDb.close()
  }
})
