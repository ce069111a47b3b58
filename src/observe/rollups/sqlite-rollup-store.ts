/** The embedded RollupStore: one table in the shared SQLite file. It does not own the database. */
import type { SqliteDatabase } from '../../db/sqlite.ts'
import { migrate } from '../../db/sqlite.ts'
import { type MergedMinute, type RollupRow, type RollupStore, toMinutes } from './rollup-store.ts'

const MIGRATIONS = [
  `CREATE TABLE metric_rollups (
     minute INTEGER NOT NULL,
     name TEXT NOT NULL,
     le TEXT NOT NULL,
     instance TEXT NOT NULL,
     value REAL NOT NULL,
     PRIMARY KEY (minute, name, le, instance)
   ) WITHOUT ROWID;`,
]

export class SqliteRollupStore implements RollupStore {
  readonly #db: SqliteDatabase
  readonly #s

  constructor(db: SqliteDatabase) {
    migrate(db, 'sqlite-rollup-store', MIGRATIONS)
    this.#db = db
    this.#s = {
      add: db.prepare(
        `INSERT INTO metric_rollups (minute, name, le, instance, value) VALUES (@minute, @name, @le, @instance, @value)
         ON CONFLICT (minute, name, le, instance) DO UPDATE SET value = value + excluded.value`,
      ),
      merged: db.prepare(
        `SELECT minute, name, le, SUM(value) AS value FROM metric_rollups
         WHERE minute >= ? AND minute < ? GROUP BY minute, name, le`,
      ),
      first: db.prepare('SELECT MIN(minute) FROM metric_rollups').pluck(),
      delete: db.prepare('DELETE FROM metric_rollups WHERE minute < ?'),
    }
  }

  async add(rows: readonly RollupRow[]): Promise<void> {
    this.#db.transaction(() => {
      for (const r of rows) this.#s.add.run(r)
    })()
  }

  async merged(from: number, to: number): Promise<Map<number, MergedMinute>> {
    return toMinutes(this.#s.merged.all(from, to) as RollupRow[])
  }

  async firstMinute(): Promise<number | undefined> {
    const v = this.#s.first.get() as number | null
    return v === null ? undefined : v
  }

  async deleteBefore(minute: number): Promise<number> {
    return this.#s.delete.run(minute).changes
  }

  async close(): Promise<void> {}
}
