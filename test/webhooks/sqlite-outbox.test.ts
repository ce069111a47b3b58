/** The WebhookOutbox seam suite over SQLite: a location is a directory, reopening opens the file again. */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteWebhookOutbox } from '../../src/webhooks/sqlite-outbox.ts'
import { tempDir } from '../helpers/app.ts'
import { outboxSuite } from './outbox-suite.ts'

outboxSuite({
  name: 'SqliteWebhookOutbox',
  async open(dir, opts) {
    const db = openSqlite(join(dir, 'inkstream.db'))
    const outbox = new SqliteWebhookOutbox(db, opts)
    const close = outbox.close.bind(outbox)
    return Object.assign(outbox, {
      close: async () => {
        await close()
        if (db.open) db.close()
      },
    })
  },
  location: async () => tempDir('inkstream-webhooks-'),
  cleanup: async (dir) => rmSync(dir, { recursive: true, force: true }),
})
