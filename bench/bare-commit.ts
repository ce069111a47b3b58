/**
 * The storage ceiling (DESIGN.md §6): a bare better-sqlite3 loop writing the rows the processor
 * writes for the same events, on the same schema (the store's own migrations), with the same
 * pragmas (openSqlite: WAL, synchronous=FULL) and the same commit size, one transaction per batch:
 * per event a dedupe row and a profile_events row (its properties as JSON, as the dashboard's
 * timeline keeps them); per new user its profile and its userId and anonymousId identities; per
 * profile a batch touches one upsert with its JSON state; the applied offset. No log read, no
 * dedupe or profile reads, no fold, no framework. Run as a child: prints `{"eventsPerSecond": n}`.
 *
 * usage: node --import tsx bench/bare-commit.ts template <profiles> <events> <batch size>
 *          (a copy of lib/profile-template.ts's store; the events of lib/profile-template.ts)
 *        node --import tsx bench/bare-commit.ts pool <events> <batch size>
 *          (an empty store; the events POST /v1/batch gets in the benches: lib/events.ts)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqlite } from '../src/db/sqlite.ts'
import { selfCpuMeter } from './lib/child-json.ts'
import { BodyPool } from './lib/events.ts'
import { copyTemplate, sampleState, trackEvents, userIdOf } from './lib/profile-template.ts'

interface TrackEvent {
  messageId: string
  userId: string
  anonymousId: string
  event: string
  properties: Record<string, unknown>
}

function poolEvents(count: number): TrackEvent[] {
  const pool = new BodyPool(500)
  const all: TrackEvent[] = []
  while (all.length < count)
    all.push(...(JSON.parse(pool.next().toString()) as { batch: TrackEvent[] }).batch)
  all.length = count
  return all
}

const [mode, ...rest] = process.argv.slice(2)
const [profiles, events, batchSize] =
  mode === 'template' ? rest.map(Number) : [0, Number(rest[0] ?? 100_000), Number(rest[1] ?? 2000)]
if (!profiles && mode === 'template')
  throw new Error('usage: bare-commit.ts template <profiles> <events> <batch>')
const dir = mkdtempSync(join(tmpdir(), 'inkstream-bare-commit-'))
try {
  const file = join(dir, 'inkstream.db')
  copyTemplate(profiles!, file)
  const db = openSqlite(file, 'full')
  const upsert = db.prepare(
    `INSERT INTO profiles (workspace_id, profile_id, user_id, state, version, created_at, updated_at, last_event_received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (workspace_id, profile_id) DO UPDATE SET user_id = excluded.user_id, state = excluded.state,
       version = excluded.version, updated_at = excluded.updated_at, last_event_received_at = excluded.last_event_received_at`,
  )
  const identity = db.prepare(
    'INSERT INTO identities (workspace_id, kind, value, profile_id) VALUES (?, ?, ?, ?)',
  )
  const dedupe = db.prepare(
    'INSERT OR IGNORE INTO dedupe (workspace_id, message_id, seen_at) VALUES (?, ?, ?)',
  )
  const recent = db.prepare(
    `INSERT INTO profile_events (workspace_id, profile_id, message_id, type, name, at, received_at, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const offset = db.prepare(
    `INSERT INTO processor_offsets (group_id, partition, offset) VALUES (?, 0, ?)
     ON CONFLICT (group_id, partition) DO UPDATE SET offset = excluded.offset`,
  )
  const templateState = sampleState()
  // Parsed before the clock starts: the processor's log read and parse are not part of the ceiling.
  const all: TrackEvent[] =
    mode === 'template'
      ? (Array.from(trackEvents(events!, profiles!)) as unknown as TrackEvent[])
      : poolEvents(events!)
  // The template's users are profiles already (their profileId is their userId here: any unique key will do).
  const known = new Map<string, { profileId: string; version: number; state: Record<string, unknown> }>()
  const stateOf = () => JSON.parse(templateState)
  const ids = db.prepare('SELECT value, profile_id FROM identities WHERE kind = ?').raw().all('userId') as [
    string,
    string,
  ][]
  for (const [user, profileId] of ids) known.set(user, { profileId, version: 1, state: stateOf() })
  if (mode === 'template' && !known.has(userIdOf(0))) throw new Error('the template has no profiles')
  const commit = db.transaction((batch: TrackEvent[], last: number) => {
    const now = Date.now()
    const touched = new Set<string>()
    for (const e of batch) {
      let p = known.get(e.userId)
      if (!p) {
        p = { profileId: e.userId, version: 0, state: stateOf() }
        known.set(e.userId, p)
        identity.run('default', 'userId', e.userId, p.profileId)
        identity.run('default', 'anonymousId', e.anonymousId, p.profileId)
      }
      dedupe.run('default', e.messageId, now)
      const data = JSON.stringify({ properties: e.properties })
      recent.run('default', p.profileId, e.messageId, 'track', e.event, now, now, data)
      p.state.lastSeenAt = now
      touched.add(e.userId)
    }
    for (const user of touched) {
      const p = known.get(user)!
      p.version += 1
      upsert.run('default', p.profileId, user, JSON.stringify(p.state), p.version, now, now, now)
    }
    offset.run('profiles', last)
  })
  const stopCpu = selfCpuMeter()
  const started = performance.now()
  for (let at = 0; at < all.length; at += batchSize!) {
    const batch = all.slice(at, at + batchSize!)
    commit(batch, at + batch.length)
  }
  const seconds = (performance.now() - started) / 1000
  const cpu = stopCpu()
  db.close()
  process.stdout.write(`${JSON.stringify({ eventsPerSecond: all.length / seconds, seconds, cpu })}\n`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
