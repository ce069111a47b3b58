/** The AlertStore over PostgreSQL: two tables. It does not own the pool. */
import { migratePg, type PgPool } from '../../db/pg.ts'
import { PgStore } from '../../db/pg-store.ts'
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
     id text COLLATE "C" NOT NULL PRIMARY KEY,
     series text COLLATE "C" NOT NULL,
     started_at bigint NOT NULL,
     ended_at bigint,
     expected_lower double precision NOT NULL,
     expected_upper double precision NOT NULL,
     observed double precision NOT NULL,
     peak_score double precision NOT NULL
   );
   CREATE INDEX anomaly_alerts_started ON anomaly_alerts (started_at, id);
   CREATE TABLE anomaly_watermark (id integer NOT NULL PRIMARY KEY CHECK (id = 1), minute bigint NOT NULL);`,
]

export class PgAlertStore extends PgStore implements AlertStore {
  constructor(pool: PgPool) {
    super(pool, (p) => migratePg(p, 'pg-alert-store', MIGRATIONS))
  }

  async insert(alert: Alert): Promise<boolean> {
    const { count } = await this.query(
      `INSERT INTO anomaly_alerts (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
      alertValues(alert),
    )
    return count === 1
  }

  async end(id: string, endedAt: number, peakScore: number) {
    const { rows } = await this.query<AlertRow>(
      `UPDATE anomaly_alerts SET ended_at = $1, peak_score = GREATEST(peak_score, $2)
       WHERE id = $3 AND ended_at IS NULL RETURNING ${COLUMNS}`,
      [endedAt, peakScore, id],
    )
    if (rows[0]) return { alert: alertFromRow(rows[0]), changed: true }
    const got = await this.query<AlertRow>(`SELECT ${COLUMNS} FROM anomaly_alerts WHERE id = $1`, [id])
    return got.rows[0] && { alert: alertFromRow(got.rows[0]), changed: false }
  }

  async list(opts: AlertListOptions = {}): Promise<Alert[]> {
    const { rows } = await this.query<AlertRow>(
      `SELECT ${COLUMNS} FROM anomaly_alerts
       WHERE ($1::text IS NULL OR series = $1::text)
         AND ($2::text IS NULL OR ($2::text = 'active' AND ended_at IS NULL) OR ($2::text = 'ended' AND ended_at IS NOT NULL))
       ORDER BY started_at DESC, id DESC LIMIT $3`,
      [opts.series ?? null, opts.state ?? null, listLimit(opts)],
    )
    return rows.map(alertFromRow)
  }

  async deleteEndedBefore(before: number): Promise<number> {
    const { count } = await this.query(
      'DELETE FROM anomaly_alerts WHERE ended_at IS NOT NULL AND ended_at < $1',
      [before],
    )
    return count
  }

  async watermark(): Promise<number | undefined> {
    const { rows } = await this.query<{ minute: string }>('SELECT minute FROM anomaly_watermark WHERE id = 1')
    return rows[0] === undefined ? undefined : Number(rows[0].minute)
  }

  async setWatermark(minute: number): Promise<void> {
    await this.query(
      `INSERT INTO anomaly_watermark (id, minute) VALUES (1, $1)
       ON CONFLICT (id) DO UPDATE SET minute = excluded.minute`,
      [minute],
    )
  }
}
