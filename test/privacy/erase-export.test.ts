/**
 * Erase (GDPR Art. 17) and export (Art. 20) end to end, on the embedded backends (SQLite store and
 * log) and on the scale-out ones (Kafka + PostgreSQL): see erase-export-scenario.ts.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { createApp } from '../../src/app.ts'
import { createScaleOutApp } from '../../src/app-scale-out.ts'
import { DATABASE_FILE, LOG_FILE } from '../../src/compose/embedded-files.ts'
import { loadConfig } from '../../src/config.ts'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { numbered } from '../../src/privacy/privacy-store.ts'
import { tempDir } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { testKey } from '../helpers/server-process.ts'
import { eraseExportScenario } from './erase-export-scenario.ts'

eraseExportScenario(
  'SQLite',
  async () => false,
  async (smtpUrl) => {
    const dataDir = tempDir('inkstream-erase-')
    const config = loadConfig(
      {},
      { port: 0, logLevel: 'silent', dataDir, smtpUrl, from: 'Shop <news@shop.example>' },
    )
    const app = await createApp(config)
    const url = await app.listen()
    const db = new Database(join(dataDir, DATABASE_FILE), { readonly: true })
    const logDb = new Database(join(dataDir, LOG_FILE), { readonly: true })
    return {
      url,
      workspace: app.workspace,
      log: app.log,
      async dumpStore() {
        const tables = db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
          .pluck()
          .all() as string[]
        return new Map(
          tables.map((t) => [
            t,
            (db.prepare(`SELECT * FROM "${t}"`).all() as unknown[]).map((r) => JSON.stringify(r)),
          ]),
        )
      },
      async query(sql, params = []) {
        return db.prepare(sql).all(...params) as Record<string, unknown>[]
      },
      logRows: () => ({
        payloads: logDb.prepare('SELECT payload FROM log_events').pluck().all() as string[],
        positions: Object.fromEntries(
          (
            logDb.prepare('SELECT group_id, position FROM log_consumer_offsets').all() as {
              group_id: string
              position: number
            }[]
          ).map((r) => [r.group_id, r.position]),
        ),
      }),
      async close() {
        db.close()
        logDb.close()
        await app.close()
        rmSync(dataDir, { recursive: true, force: true })
      },
    }
  },
)

eraseExportScenario(
  'Kafka + PostgreSQL',
  async () => (await kafkaMissing()) || (await pgSkip()),
  async (smtpUrl) => {
    const database = await freshDatabase('ink_erase')
    const dataDir = tempDir('inkstream-erase-so-')
    const config = loadConfig(
      {},
      {
        port: 0,
        host: '127.0.0.1',
        logLevel: 'silent',
        dataDir,
        smtpUrl,
        from: 'Shop <news@shop.example>',
        writeKey: testKey('wk'),
        adminKey: testKey('ak'),
        roles: 'all',
        kafkaBrokers: kafkaBrokers().join(','),
        kafkaTopic: KafkaEventLog.uniqueTopic('inkstream-erase'),
        kafkaPartitions: 2,
        databaseUrl: database.url,
      },
    )
    const app = await createScaleOutApp(config)
    const url = await app.listen()
    const pool = new pg.Pool({ connectionString: database.url, max: 2 })
    return {
      url,
      workspace: app.workspace,
      log: app.log,
      async dumpStore() {
        const { rows } = await pool.query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        const out = new Map<string, string[]>()
        for (const { table_name: t } of rows)
          out.set(
            t,
            (await pool.query<{ r: string }>(`SELECT t::text AS r FROM "${t}" t`)).rows.map((r) => r.r),
          )
        return out
      },
      async query(sql, params = []) {
        return (await pool.query(numbered(sql), params)).rows
      },
      async close() {
        await pool.end()
        await app.close()
        await database.drop()
        rmSync(dataDir, { recursive: true, force: true })
      },
    }
  },
)
