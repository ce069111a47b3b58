/**
 * The embedded stores share one SQLite file with the processor, which commits from its own thread.
 * A store's read-then-write transaction must take the write lock when it begins (BEGIN IMMEDIATE):
 * a deferred one reads a snapshot, and when the other connection commits before it writes, SQLite
 * answers SQLITE_BUSY at once (the snapshot cannot be upgraded; busy_timeout does not apply), which
 * the API turned into 500s on `PUT /v1/campaigns/:id` and `PUT /v1/templates/:id` right after events.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { SqliteCampaignStore } from '../../src/campaigns/sqlite-campaign-store.ts'
import { SqliteTemplateStore } from '../../src/content/sqlite-template-store.ts'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import { tempDir } from '../helpers/app.ts'

/** Another connection to the same file committing small transactions as fast as it can. */
const WRITER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require('better-sqlite3')
const db = new Database(workerData.file)
db.pragma('journal_mode = WAL')
db.pragma('busy_timeout = 5000')
db.exec('CREATE TABLE IF NOT EXISTS other_writes (n INTEGER)')
const insert = db.prepare('INSERT INTO other_writes (n) VALUES (?)')
const stop = new Int32Array(workerData.stop)
let n = 0
parentPort.postMessage('ready')
while (Atomics.load(stop, 0) === 0) insert.run(n++)
db.close()
parentPort.postMessage(n)
`

/**
 * Each SELECT the stores prepare takes a millisecond longer (a busy loop), so the other connection
 * commits between a transaction's read and its write often, not once in thousands of tries.
 */
function slowReads(db: SqliteDatabase): SqliteDatabase {
  const prepare = db.prepare.bind(db)
  db.prepare = ((sql: string) => {
    const statement = prepare(sql)
    if (/^\s*SELECT/i.test(sql)) {
      const get = statement.get.bind(statement)
      statement.get = ((...args: unknown[]) => {
        const start = performance.now()
        while (performance.now() - start < 1);
        return get(...args)
      }) as typeof statement.get
    }
    return statement
  }) as typeof db.prepare
  return db
}

describe('read-then-write store transactions while another connection commits', () => {
  let dir: string
  let db: SqliteDatabase
  let writer: Worker
  const stop = new SharedArrayBuffer(4)
  let written: Promise<number>

  before(async () => {
    dir = tempDir()
    const file = join(dir, 'store.db')
    db = slowReads(openSqlite(file))
    writer = new Worker(WRITER, { eval: true, workerData: { file, stop } })
    const messages: unknown[] = []
    let wake: () => void = () => {}
    writer.on('message', (m) => {
      messages.push(m)
      wake()
    })
    await new Promise<void>((resolve) => {
      wake = resolve
    })
    assert.equal(messages[0], 'ready')
    written = new Promise((resolve) => {
      wake = () => resolve(messages[1] as number)
    })
  })

  after(async () => {
    Atomics.store(new Int32Array(stop), 0, 1)
    await writer.terminate()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('300 campaign drafts and 300 template versions are all saved, none refused as busy', async () => {
    const campaigns = new SqliteCampaignStore(db)
    const templates = new SqliteTemplateStore(db)
    const failures: string[] = []
    for (let i = 0; i < 300; i++) {
      try {
        const draft = await campaigns.putDraft('ws', `c${i % 7}`, {
          name: `n${i}`,
          templateId: 't',
          templateVersion: null,
          from: null,
          audience: { segment: 's' },
          vars: {},
          ratePerSecond: null,
          pauseAfterFailures: null,
        })
        assert.ok(draft)
        await templates.saveVersion('ws', `t${i % 5}`, {
          name: 'T',
          format: 'html',
          subject: `s${i}`,
          body: '<p>hi</p>',
        })
      } catch (err) {
        failures.push((err as Error).message)
      }
      // Let the other thread commit between iterations too.
      if (i % 10 === 0) await new Promise((r) => setImmediate(r))
    }
    Atomics.store(new Int32Array(stop), 0, 1)
    const others = await written
    assert.ok(others > 0, 'the other connection wrote nothing: the race was not exercised')
    assert.deepEqual(failures, [])
    assert.equal((await templates.versions('ws', 't0')).length, 60)
  })
})
