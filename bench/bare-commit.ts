/**
 * The processor's physical limit (DESIGN.md §6): a bare better-sqlite3 loop writing the rows the
 * processor writes for the same events — a dedupe id per event, the userId and anonymousId
 * identities, one upsert per profile a batch touches with its JSON state, the applied offset —
 * with the same pragmas (WAL, synchronous=FULL) and the same commit size, one transaction per
 * batch. No log read, no fold, no framework. Run as a child: prints `{"eventsPerSecond": n}`.
 *
 * usage: node --import tsx bench/bare-commit.ts <events> <batch size>
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { BodyPool } from './lib/events.ts'

interface TrackEvent {
  messageId: string
  userId: string
  anonymousId: string
  event: string
  properties: Record<string, unknown>
}

const [events = 100_000, batchSize = 2000] = process.argv.slice(2).map(Number)
const dir = mkdtempSync(join(tmpdir(), 'inkstream-bare-commit-'))
try {
  const db = new Database(join(dir, 'bare.db'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec(`
    CREATE TABLE profiles (workspace_id TEXT NOT NULL, profile_id TEXT NOT NULL, user_id TEXT,
      state TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
      last_event_received_at INTEGER NOT NULL, PRIMARY KEY (workspace_id, profile_id)) WITHOUT ROWID;
    CREATE TABLE identities (workspace_id TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
      profile_id TEXT NOT NULL, PRIMARY KEY (workspace_id, kind, value)) WITHOUT ROWID;
    CREATE INDEX identities_by_profile ON identities (workspace_id, profile_id);
    CREATE TABLE dedupe (workspace_id TEXT NOT NULL, message_id TEXT NOT NULL, seen_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, message_id)) WITHOUT ROWID;
    CREATE INDEX dedupe_by_time ON dedupe (seen_at);
    CREATE TABLE processor_offsets (group_id TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
      PRIMARY KEY (group_id, partition)) WITHOUT ROWID;`)
  const upsert = db.prepare(
    `INSERT INTO profiles (workspace_id, profile_id, user_id, state, version, created_at, updated_at, last_event_received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (workspace_id, profile_id) DO UPDATE SET user_id = excluded.user_id, state = excluded.state,
       version = excluded.version, updated_at = excluded.updated_at, last_event_received_at = excluded.last_event_received_at`,
  )
  const identity = db.prepare(
    `INSERT INTO identities (workspace_id, kind, value, profile_id) VALUES (?, ?, ?, ?)
     ON CONFLICT (workspace_id, kind, value) DO UPDATE SET profile_id = excluded.profile_id`,
  )
  const dedupe = db.prepare(
    'INSERT OR IGNORE INTO dedupe (workspace_id, message_id, seen_at) VALUES (?, ?, ?)',
  )
  const offset = db.prepare(
    `INSERT INTO processor_offsets (group_id, partition, offset) VALUES (?, 0, ?)
     ON CONFLICT (group_id, partition) DO UPDATE SET offset = excluded.offset`,
  )
  // The same events the server gets (same generator, same seed), parsed before the clock starts.
  const pool = new BodyPool(500)
  const all: TrackEvent[] = []
  while (all.length < events)
    all.push(...(JSON.parse(pool.next().toString()) as { batch: TrackEvent[] }).batch)
  all.length = events
  const versions = new Map<string, number>()
  const commit = db.transaction((batch: TrackEvent[], last: number) => {
    const now = Date.now()
    const touched = new Map<string, TrackEvent>()
    for (const e of batch) {
      dedupe.run('default', e.messageId, now)
      identity.run('default', 'userId', e.userId, e.userId)
      identity.run('default', 'anonymousId', e.anonymousId, e.userId)
      touched.set(e.userId, e)
    }
    for (const [user, e] of touched) {
      const version = (versions.get(user) ?? 0) + 1
      versions.set(user, version)
      const state = JSON.stringify({ traits: {}, last: { event: e.event, properties: e.properties } })
      upsert.run('default', user, user, state, version, now, now, now)
    }
    offset.run('profiles', last)
  })
  const started = performance.now()
  for (let at = 0; at < all.length; at += batchSize) {
    const batch = all.slice(at, at + batchSize)
    commit(batch, at + batch.length)
  }
  const seconds = (performance.now() - started) / 1000
  db.close()
  process.stdout.write(`${JSON.stringify({ eventsPerSecond: events / seconds, seconds })}\n`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
