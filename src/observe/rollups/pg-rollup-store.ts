/** The RollupStore over PostgreSQL: one table every process adds its rows to. It does not own the pool. */
import { columns, migratePg, type PgPool } from '../../db/pg.ts'
import { PgStore } from '../../db/pg-store.ts'
import { type MergedMinute, type RollupRow, type RollupStore, toMinutes } from './rollup-store.ts'

const MIGRATIONS = [
  `CREATE TABLE metric_rollups (
     minute bigint NOT NULL,
     name text COLLATE "C" NOT NULL,
     le text COLLATE "C" NOT NULL,
     instance text COLLATE "C" NOT NULL,
     value double precision NOT NULL,
     PRIMARY KEY (minute, name, le, instance)
   );`,
]

export class PgRollupStore extends PgStore implements RollupStore {
  constructor(pool: PgPool) {
    super(pool, (p) => migratePg(p, 'pg-rollup-store', MIGRATIONS))
  }

  async add(rows: readonly RollupRow[]): Promise<void> {
    if (rows.length === 0) return
    // One statement; a key twice in `rows` would make ON CONFLICT fail, so they are summed first.
    const byKey = new Map<string, RollupRow>()
    for (const r of rows) {
      const k = `${r.minute}\t${r.name}\t${r.le}\t${r.instance}`
      const seen = byKey.get(k)
      byKey.set(k, seen ? { ...seen, value: seen.value + r.value } : r)
    }
    await this.query(
      `INSERT INTO metric_rollups (minute, name, le, instance, value)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::float8[])
       ON CONFLICT (minute, name, le, instance) DO UPDATE SET value = metric_rollups.value + excluded.value`,
      columns([...byKey.values()], 'minute', 'name', 'le', 'instance', 'value'),
    )
  }

  async merged(from: number, to: number): Promise<Map<number, MergedMinute>> {
    const { rows } = await this.query<{ minute: string; name: string; le: string; value: number }>(
      `SELECT minute, name, le, SUM(value) AS value FROM metric_rollups
       WHERE minute >= $1 AND minute < $2 GROUP BY minute, name, le`,
      [from, to],
    )
    return toMinutes(rows.map((r) => ({ ...r, minute: Number(r.minute), value: Number(r.value) })))
  }

  async firstMinute(): Promise<number | undefined> {
    const { rows } = await this.query<{ m: string | null }>('SELECT MIN(minute) AS m FROM metric_rollups')
    const m = rows[0]?.m ?? null
    return m === null ? undefined : Number(m)
  }

  async deleteBefore(minute: number): Promise<number> {
    return (await this.query('DELETE FROM metric_rollups WHERE minute < $1', [minute])).count
  }
}
