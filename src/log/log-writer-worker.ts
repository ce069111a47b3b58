/** The log writer thread: one transaction per message from the main thread, then the reply. */
import { parentPort, workerData } from 'node:worker_threads'
import { openSqlite } from '../db/sqlite.ts'
import type { LogRow, LogWriterData } from './log-writer.ts'
import { ensureLogSchema } from './sqlite-event-log.ts'

function main(port: NonNullable<typeof parentPort>, data: LogWriterData): void {
  const db = openSqlite(data.file, data.synchronous)
  ensureLogSchema(db)
  const insert = db.prepare(
    'INSERT INTO log_events (workspace_id, message_id, received_at, payload) VALUES (?, ?, ?, ?)',
  )
  const insertAll = db.transaction((rows: LogRow[]) => {
    for (const r of rows) insert.run(r[0], r[1], r[2], r[3])
  })
  port.on('message', (msg: { id: number; rows: LogRow[] } | 'stop') => {
    if (msg === 'stop') {
      db.close()
      port.close()
      return
    }
    try {
      insertAll(msg.rows)
      port.postMessage({ id: msg.id })
    } catch (err) {
      port.postMessage({ id: msg.id, error: (err as Error).message })
    }
  })
  port.postMessage('ready')
}

if (parentPort) main(parentPort, workerData as LogWriterData)
