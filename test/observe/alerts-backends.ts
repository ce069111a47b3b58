/**
 * The stores anomaly detection uses (rollups, alerts, the webhook outbox), on each backend: SQLite (a
 * location is a directory; reopening opens the file again) and PostgreSQL (a location is a schema;
 * reopening is a new pool, as another process would). Shared by the rollups and alerts tests.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import type { AlertStore } from '../../src/observe/alerts/alert-store.ts'
import { PgAlertStore } from '../../src/observe/alerts/pg-alert-store.ts'
import { SqliteAlertStore } from '../../src/observe/alerts/sqlite-alert-store.ts'
import { PgRollupStore } from '../../src/observe/rollups/pg-rollup-store.ts'
import type { RollupStore } from '../../src/observe/rollups/rollup-store.ts'
import { SqliteRollupStore } from '../../src/observe/rollups/sqlite-rollup-store.ts'
import type { WebhookOutbox } from '../../src/webhooks/outbox.ts'
import { PgWebhookOutbox } from '../../src/webhooks/pg-outbox.ts'
import { SqliteWebhookOutbox } from '../../src/webhooks/sqlite-outbox.ts'
import { tempDir } from '../helpers/app.ts'
import { freshSchema, type PgSchema, pgSkip } from '../helpers/pg.ts'

export interface ObserveStores {
  rollups: RollupStore
  alerts: AlertStore
  outbox: WebhookOutbox
  close(): Promise<void>
}

export interface ObserveBackend {
  name: string
  skip: string | false
  location(): Promise<string>
  open(location: string, clock: Clock): Promise<ObserveStores>
  cleanup(location: string): Promise<void>
}

const sqlite: ObserveBackend = {
  name: 'SQLite',
  skip: false,
  location: async () => tempDir('inkstream-observe-'),
  async open(dir, clock) {
    const db = openSqlite(join(dir, 'inkstream.db'))
    const outbox = new SqliteWebhookOutbox(db, { clock, random: () => 0.5 })
    return {
      rollups: new SqliteRollupStore(db),
      alerts: new SqliteAlertStore(db),
      outbox,
      close: async () => {
        await outbox.close()
        if (db.open) db.close()
      },
    }
  },
  cleanup: async (dir) => rmSync(dir, { recursive: true, force: true }),
}

const schemas = new Map<string, PgSchema>()

const postgres = (skip: string | false): ObserveBackend => ({
  name: 'PostgreSQL',
  skip,
  async location() {
    const schema = await freshSchema()
    schemas.set(schema.name, schema)
    return schema.name
  },
  async open(name, clock) {
    const schema = schemas.get(name)
    if (!schema) throw new Error(`no schema ${name}`)
    const pool = schema.connect(4)
    const rollups = new PgRollupStore(pool)
    const alerts = new PgAlertStore(pool)
    const outbox = new PgWebhookOutbox(pool, { clock, random: () => 0.5 })
    await Promise.all([rollups.ready(), alerts.ready(), outbox.ready()])
    // The pool is ended with the schema (cleanup): ending it twice throws.
    return { rollups, alerts, outbox, close: () => outbox.close() }
  },
  async cleanup(name) {
    await schemas.get(name)?.drop()
    schemas.delete(name)
  },
})

export async function observeBackends(): Promise<ObserveBackend[]> {
  return [sqlite, postgres(await pgSkip())]
}

/** 2026-01-01T00:00:00Z: minutes in the tests count from here. */
export const T0 = Date.UTC(2026, 0, 1)
export const MIN = 60_000

export type TestClock = Clock & { t: number }
export const testClock = (t = T0): TestClock => {
  const c = { t, now: () => c.t }
  return c
}
