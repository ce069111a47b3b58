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

/** An event as the log stores it (the fields tests read). */
export interface StoredEvent {
  type: string
  messageId: string
  timestamp: string
  receivedAt: string
  userId?: string
  event?: string
  sentAt?: string
  originalTimestamp?: string
  traits?: Record<string, unknown>
  context?: Record<string, unknown>
}

/** The stored events of one userId, in log order. */
export function storedEventsOf(app: TestApp, userId: string): StoredEvent[] {
  const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
  try {
    return db
      .prepare("SELECT payload FROM log_events WHERE json_extract(payload, '$.userId') = ? ORDER BY offset")
      .pluck()
      .all(userId)
      .map((p) => JSON.parse(p as string) as StoredEvent)
  } finally {
    db.close()
  }
}

/** The stored events with this messageId (none, one, or more if it was stored more than once). */
export function storedEventsById(app: TestApp, messageId: string): StoredEvent[] {
  const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
  try {
    const rows = db.prepare('SELECT payload FROM log_events WHERE message_id = ?').pluck().all(messageId)
    return rows.map((r) => JSON.parse(r as string) as StoredEvent)
  } finally {
    db.close()
  }
}
