/** The SendLedger seam suite over SQLite (a peer is a second connection to the same file). */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
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
