/** The collector's event log as tests read it: through a separate, read-only SQLite connection. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { LOG_FILE } from '../../src/app.ts'
import type { TestApp } from './app.ts'

/** Rows in the log's own table (for one messageId, or all). */
function queryLog(app: TestApp, where: string, ...args: string[]): number {
  const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
  try {
    return (db.prepare(`SELECT count(*) AS n FROM log_events ${where}`).get(...args) as { n: number }).n
  } finally {
    db.close()
  }
}
/** How many stored events have this messageId. */
export const readLog = async (app: TestApp, messageId: string) =>
  queryLog(app, 'WHERE message_id = ?', messageId)
/** How many events the log holds. */
export const countLog = async (app: TestApp) => queryLog(app, '')

/** The stored event with this messageId, as the log holds it. */
export function loggedPayload(app: TestApp, messageId: string) {
  const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
  try {
    const row = db.prepare('SELECT payload FROM log_events WHERE message_id = ?').pluck().get(messageId)
    assert.equal(typeof row, 'string', `no stored event ${messageId}`)
    return JSON.parse(row as string)
  } finally {
    db.close()
  }
}
