import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteEventLog } from '../../src/log/sqlite-event-log.ts'
import { ProcessorThread } from '../../src/pipeline/processor-thread.ts'
import { tempDir } from '../helpers/app.ts'

test('a processor thread that dies is started again, and reports batches again', async () => {
  const dir = tempDir('inkstream-thread-')
  const errors: unknown[] = []
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
    (err) => errors.push(err),
  )
  try {
    await thread.start()
    assert.equal(thread.running, true)
    await thread.kill()
    assert.equal(thread.running, false)
    const deadline = Date.now() + 10_000
    while (!thread.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    assert.equal(thread.running, true, 'the thread was not restarted')
    assert.match(String((errors[0] as Error).message), /exited with code 1; restarting/)

    const db = openSqlite(join(dir, 'log.db'), 'normal')
    const log = new SqliteEventLog(db)
    const at = new Date().toISOString()
    await log.append([
      {
        type: 'track',
        event: 'x',
        messageId: 'm1',
        workspaceId: 'w',
        userId: 'u',
        timestamp: at,
        receivedAt: at,
      },
    ])
    thread.wake()
    while (applied === 0 && Date.now() < deadline + 5_000) await new Promise((r) => setTimeout(r, 20))
    assert.equal(applied, 1)
    await log.close()
    db.close()
  } finally {
    await thread.close()
  }
})
