/** The embedded AlertStore: two tables in the shared SQLite file. It does not own the database. */
import type { SqliteDatabase } from '../../db/sqlite.ts'
import { migrate } from '../../db/sqlite.ts'
import {
  type Alert,
  type AlertListOptions,
  type AlertRow,
  type AlertStore,
  alertFromRow,
  alertValues,
  ALERT_COLUMNS as COLUMNS,
  listLimit,
} from './alert-store.ts'

const MIGRATIONS = [
  `CREATE TABLE anomaly_alerts (
     id TEXT NOT NULL PRIMARY KEY,
     series TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     expected_lower REAL NOT NULL,
     expected_upper REAL NOT NULL,
     observed REAL NOT NULL,
     peak_score REAL NOT NULL
   );
   CREATE INDEX anomaly_alerts_started ON anomaly_alerts (started_at, id);
   CREATE TABLE anomaly_watermark (id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), minute INTEGER NOT NULL);`,
]

export class SqliteAlertStore implements AlertStore {
  readonly #s

  constructor(db: SqliteDatabase) {
    migrate(db, 'sqlite-alert-store', MIGRATIONS)
    this.#s = {
      insert: db.prepare(
        `INSERT INTO anomaly_alerts (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      ),
      end: db.prepare(
        `UPDATE anomaly_alerts SET ended_at = ?, peak_score = MAX(peak_score, ?)
         WHERE id = ? AND ended_at IS NULL RETURNING ${COLUMNS}`,
      ),
      get: db.prepare(`SELECT ${COLUMNS} FROM anomaly_alerts WHERE id = ?`),
      list: db.prepare(
        `SELECT ${COLUMNS} FROM anomaly_alerts
         WHERE (@series IS NULL OR series = @series)
           AND (@state IS NULL OR (@state = 'active' AND ended_at IS NULL) OR (@state = 'ended' AND ended_at IS NOT NULL))
         ORDER BY started_at DESC, id DESC LIMIT @limit`,
      ),
      deleteEnded: db.prepare('DELETE FROM anomaly_alerts WHERE ended_at IS NOT NULL AND ended_at < ?'),
      watermark: db.prepare('SELECT minute FROM anomaly_watermark WHERE id = 1').pluck(),
      setWatermark: db.prepare(
        'INSERT INTO anomaly_watermark (id, minute) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET minute = excluded.minute',
      ),
    }
  }

  async insert(alert: Alert): Promise<boolean> {
    return this.#s.insert.run(...alertValues(alert)).changes === 1
  }

  async end(id: string, endedAt: number, peakScore: number) {
    const ended = this.#s.end.get(endedAt, peakScore, id) as AlertRow | undefined
    if (ended) return { alert: alertFromRow(ended), changed: true }
    const row = this.#s.get.get(id) as AlertRow | undefined
    return row && { alert: alertFromRow(row), changed: false }
  }

  async list(opts: AlertListOptions = {}): Promise<Alert[]> {
    const rows = this.#s.list.all({
      series: opts.series ?? null,
      state: opts.state ?? null,
      limit: listLimit(opts),
    }) as AlertRow[]
    return rows.map(alertFromRow)
  }

  async deleteEndedBefore(before: number): Promise<number> {
    return this.#s.deleteEnded.run(before).changes
  }

  async watermark(): Promise<number | undefined> {
    return (this.#s.watermark.get() as number | undefined) ?? undefined
  }

  async setWatermark(minute: number): Promise<void> {
    this.#s.setWatermark.run(minute)
  }

  async close(): Promise<void> {}
}
