/**
 * A store file holding N profiles, built once per schema and copied for each run: the processor at
 * 1M profiles is measured on a store that already has them, and building them through the
 * processor would take longer than the measurement. The rows are written with plain INSERTs into
 * tables the store's own migrations created, so the file is what the server would open. Each
 * profile `user-<i>` has its userId and anonymousId identities and the state one "Product Viewed"
 * event folds into it with the default traits.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { InkEvent } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteBatchStore } from '../../src/pipeline/sqlite-batch-store.ts'
import { emptyState, foldEvent } from '../../src/traits/computed-traits.ts'
import { loadTraitsConfig } from '../../src/traits/traits-config.ts'

export const userIdOf = (i: number) => `user-${String(i).padStart(7, '0')}`
export const anonymousIdOf = (i: number) =>
  `anon-${(Math.imul(i, 2654435761) >>> 0).toString(16).padStart(8, '0')}-${i}`
export const profileIdOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`

/** The state (JSON) one "Product Viewed" event folds into an empty profile with the default traits. */
export function sampleState(): string {
  const now = Date.now()
  const event = {
    type: 'track',
    event: 'Product Viewed',
    messageId: 'template',
    workspaceId: 'default',
    timestamp: new Date(now).toISOString(),
    receivedAt: new Date(now).toISOString(),
    properties: { product_id: 'sku-1000', name: 'Day Pack 24L', price: 59, category: 'Bags' },
  } as unknown as InkEvent
  const state = emptyState()
  foldEvent(state, event, loadTraitsConfig().traits, now)
  return JSON.stringify(state)
}

/** The template's path, built if missing. Bump VERSION when the rows written here change. */
export function profileTemplate(profiles: number): string {
  const VERSION = 2
  const dir = join(tmpdir(), 'inkstream-bench-templates')
  const file = join(dir, `profiles-${profiles}-v${VERSION}.db`)
  if (existsSync(file)) return file
  mkdirSync(dir, { recursive: true })
  const building = `${file}.${process.pid}.tmp`
  rmSync(building, { force: true })
  const db = openSqlite(building, 'normal')
  new SqliteBatchStore(db) // its migrations create the tables
  const stateJson = sampleState()
  const now = Date.now()
  const profile = db.prepare(
    `INSERT INTO profiles (workspace_id, profile_id, user_id, state, version, created_at, updated_at, last_event_received_at)
     VALUES ('default', ?, ?, ?, 1, ?, ?, ?)`,
  )
  const identity = db.prepare(
    `INSERT INTO identities (workspace_id, kind, value, profile_id) VALUES ('default', ?, ?, ?)`,
  )
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const id = profileIdOf(i)
      profile.run(id, userIdOf(i), stateJson, now, now, now)
      identity.run('userId', userIdOf(i), id)
      identity.run('anonymousId', anonymousIdOf(i), id)
    }
  })
  for (let at = 0; at < profiles; at += 50_000) chunk(at, Math.min(profiles, at + 50_000))
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  renameSync(building, file)
  return file
}

/** A fresh copy of the template at `to`. */
export function copyTemplate(profiles: number, to: string): void {
  copyFileSync(profileTemplate(profiles), to)
}

/** The same mix as lib/events.ts: 70% views, 20% cart adds, 10% orders; every user equally likely. */
export function* trackEvents(count: number, users: number, seed = 42): Generator<InkEvent> {
  let a = seed >>> 0
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const tag = Date.now().toString(36)
  const now = new Date().toISOString()
  for (let i = 0; i < count; i++) {
    const user = Math.floor(rand() * users)
    const roll = rand()
    const price = Math.round((10 + rand() * 190) * 100) / 100
    const sku = `sku-${1000 + Math.floor(rand() * 9000)}`
    const [event, properties] =
      roll < 0.7
        ? ['Product Viewed', { product_id: sku, name: 'Day Pack 24L', price, category: 'Bags' }]
        : roll < 0.9
          ? ['Product Added', { product_id: sku, name: 'Day Pack 24L', price, quantity: 2 }]
          : ['Order Completed', { order_id: `ord-${i}`, revenue: price, currency: 'USD' }]
    yield {
      type: 'track',
      messageId: `${tag}-${i}`,
      workspaceId: 'default',
      userId: userIdOf(user),
      anonymousId: anonymousIdOf(user),
      event,
      properties,
      context: { library: { name: 'analytics-node', version: '3.1.0' } },
      timestamp: now,
      originalTimestamp: now,
      sentAt: now,
      receivedAt: now,
    } as InkEvent
  }
}
