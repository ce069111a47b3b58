/** The SendLedger seam suite over SQLite (a peer is a second connection to the same file). */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { SqliteSendLedger } from '../../src/campaigns/sqlite-send-ledger.ts'
import type { Clock } from '../../src/core/types.ts'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import { tempDir } from '../helpers/app.ts'
import { sendLedgerSuite } from './send-ledger-suite.ts'

sendLedgerSuite('SqliteSendLedger', async (clock: Clock) => {
  const dir = tempDir('inkstream-ledger-')
  const dbs: SqliteDatabase[] = []
  const open = () => {
    const db = openSqlite(join(dir, 'ledger.db'), 'normal')
    dbs.push(db)
    return new SqliteSendLedger(db, { clock })
  }
  return {
    ledger: open(),
    peer: async () => open(),
    close: async () => {
      for (const db of dbs) db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

test('a ledger made by the first schema is migrated: its rows stay (old temporary failures deferred), and addressTaken is a covered index search', async () => {
  const dir = tempDir('inkstream-ledger-')
  const db = openSqlite(join(dir, 'ledger.db'), 'normal')
  try {
    // The schema as steps 0 and 1 left it, with a row in it.
    db.exec(`CREATE TABLE schema_migrations (name TEXT NOT NULL, step INTEGER NOT NULL, PRIMARY KEY (name, step));
      INSERT INTO schema_migrations VALUES ('sqlite-send-ledger', 0), ('sqlite-send-ledger', 1);
      CREATE TABLE send_ledger (workspace_id TEXT NOT NULL, campaign_id TEXT NOT NULL, recipient TEXT NOT NULL,
        email TEXT NOT NULL, state TEXT NOT NULL, message_id TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        detail TEXT, updated_at INTEGER NOT NULL, PRIMARY KEY (workspace_id, campaign_id, recipient)) WITHOUT ROWID;
      CREATE INDEX send_ledger_by_email ON send_ledger (workspace_id, campaign_id, email);
      INSERT INTO send_ledger VALUES ('w', 'c', 'u1', 'a@example.com', 'sent', 'm1', 1, '250 OK', 1),
        ('w', 'c', 'u3', 'c@example.com', 'failed', 'm3', 3, 'no reply connect ECONNREFUSED (after 3 attempts)', 1),
        ('w', 'c', 'u4', 'd@example.com', 'failed', 'm4', 1, '550 5.1.1 no such user', 1);`)
    const ledger = new SqliteSendLedger(db)
    const indexes = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'send_ledger' ORDER BY name",
      )
      .pluck()
      .all()
    assert.deepEqual(indexes, ['send_ledger_by_email_state', 'send_ledger_by_state'])
    assert.equal((await ledger.get({ workspaceId: 'w', campaignId: 'c', recipient: 'u1' }))?.state, 'sent')
    // A temporary failure of the old schema is deferred, due at once; a permanent one stays failed.
    assert.deepEqual(
      (await ledger.list('w', 'c')).map((e) => [e.recipient, e.state, e.reason, e.retryAt, e.deferrals]),
      [
        ['u1', 'sent', null, null, 0],
        ['u3', 'deferred', 'temporary', 0, 1],
        ['u4', 'failed', null, null, 0],
      ],
    )
    assert.equal(
      await ledger.addressTaken({ workspaceId: 'w', campaignId: 'c', recipient: 'u2' }, 'a@example.com'),
      true,
    )
    assert.equal(
      await ledger.addressTaken({ workspaceId: 'w', campaignId: 'c', recipient: 'u1' }, 'a@example.com'),
      false,
    )
    // The plan for the statement addressTaken runs: a search of the covering index, never the campaign's rows.
    const plan = db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT 1 FROM send_ledger INDEXED BY send_ledger_by_email_state
         WHERE workspace_id = ? AND campaign_id = ? AND email = ? AND recipient <> ?
         AND state IN ('sending', 'sent', 'unknown') LIMIT 1`,
      )
      .all('w', 'c', 'a@example.com', 'u2') as { detail: string }[]
    assert.match(
      plan.map((r) => r.detail).join('\n'),
      /USING COVERING INDEX send_ledger_by_email_state \(workspace_id=\? AND campaign_id=\? AND email=\?/,
    )
    await ledger.close()
  } finally {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
