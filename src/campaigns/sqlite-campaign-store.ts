/**
 * CampaignStore over the embedded SQLite database (the store file): SQL and row mapping only, the
 * lifecycle rules are campaign-rules.ts. It does not own the database.
 */
import { type Clock, systemClock } from '../core/types.ts'
import { migrate, type SqliteDatabase } from '../db/sqlite.ts'
import * as rules from './campaign-rules.ts'
import { type CampaignDefinition, type CampaignStore, STATE_CHECK } from './campaign-store.ts'

const MIGRATIONS = [
  `CREATE TABLE campaigns (
     workspace_id TEXT NOT NULL,
     campaign_id TEXT NOT NULL,
     name TEXT NOT NULL,
     template_id TEXT NOT NULL,
     template_version INTEGER,
     sender TEXT,
     audience TEXT NOT NULL,
     vars TEXT NOT NULL,
     rate_per_second REAL,
     state TEXT NOT NULL CHECK (state IN ('draft', 'running', 'done', 'failed')),
     error TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     started_at INTEGER,
     finished_at INTEGER,
     PRIMARY KEY (workspace_id, campaign_id)
   ) WITHOUT ROWID;
   CREATE INDEX campaigns_by_state ON campaigns (state);`,
  // paused and cancelled, their reason, and the per-campaign pause threshold. SQLite cannot change a
  // CHECK: the table is copied into one with the new constraint.
  `CREATE TABLE campaigns_v2 (
     workspace_id TEXT NOT NULL,
     campaign_id TEXT NOT NULL,
     name TEXT NOT NULL,
     template_id TEXT NOT NULL,
     template_version INTEGER,
     sender TEXT,
     audience TEXT NOT NULL,
     vars TEXT NOT NULL,
     rate_per_second REAL,
     pause_after_failures INTEGER,
     state TEXT NOT NULL ${STATE_CHECK},
     error TEXT,
     reason TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     started_at INTEGER,
     finished_at INTEGER,
     PRIMARY KEY (workspace_id, campaign_id)
   ) WITHOUT ROWID;
   INSERT INTO campaigns_v2 (workspace_id, campaign_id, name, template_id, template_version, sender, audience,
     vars, rate_per_second, state, error, created_at, updated_at, started_at, finished_at)
   SELECT workspace_id, campaign_id, name, template_id, template_version, sender, audience, vars,
     rate_per_second, state, error, created_at, updated_at, started_at, finished_at FROM campaigns;
   DROP TABLE campaigns;
   ALTER TABLE campaigns_v2 RENAME TO campaigns;
   CREATE INDEX campaigns_by_state ON campaigns (state);`,
  // Local-time sends (campaign-store.ts CampaignSendAt, as JSON).
  'ALTER TABLE campaigns ADD COLUMN send_at TEXT;',
  // The subscription topic (issue 15).
  'ALTER TABLE campaigns ADD COLUMN topic TEXT;',
]

const KEY = 'workspace_id = ? AND campaign_id = ?'
const IN_STATES = 'state IN (SELECT value FROM json_each(?))'

export class SqliteCampaignStore implements CampaignStore {
  readonly #db: SqliteDatabase
  readonly #clock: Clock
  readonly #stmts

  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    this.#db = db
    this.#clock = opts.clock ?? systemClock
    migrate(db, 'sqlite-campaign-store', MIGRATIONS)
    this.#stmts = {
      get: db.prepare(`SELECT ${rules.CAMPAIGN_COLUMNS} FROM campaigns WHERE ${KEY}`),
      list: db.prepare(
        `SELECT ${rules.CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = ? ORDER BY created_at, campaign_id`,
      ),
      insert: db.prepare(
        `INSERT INTO campaigns (workspace_id, campaign_id, name, template_id, template_version, sender,
           audience, vars, rate_per_second, pause_after_failures, send_at, topic, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?)`,
      ),
      update: db.prepare(
        `UPDATE campaigns SET name = ?, template_id = ?, template_version = ?, sender = ?, audience = ?,
           vars = ?, rate_per_second = ?, pause_after_failures = ?, send_at = ?, topic = ?, updated_at = ?
         WHERE ${KEY} AND state = 'draft'`,
      ),
      running: db.prepare(
        `UPDATE campaigns SET state = 'running', template_version = ?, error = NULL, reason = NULL,
           finished_at = NULL, started_at = COALESCE(started_at, ?), updated_at = ?
         WHERE ${KEY} AND ${IN_STATES}`,
      ),
      move: db.prepare(
        `UPDATE campaigns SET state = ?, error = ?, reason = ?,
           finished_at = CASE WHEN ? THEN ? ELSE NULL END, updated_at = ?
         WHERE ${KEY} AND ${IN_STATES}`,
      ),
      allRunning: db.prepare(
        `SELECT workspace_id AS workspaceId, campaign_id AS id FROM campaigns WHERE state = 'running'`,
      ),
    }
  }

  async get(workspaceId: string, id: string): Promise<CampaignDefinition | undefined> {
    const row = this.#stmts.get.get(workspaceId, id) as rules.CampaignRow | undefined
    return row && rules.definitionOf(row)
  }

  async list(workspaceId: string): Promise<CampaignDefinition[]> {
    return (this.#stmts.list.all(workspaceId) as rules.CampaignRow[]).map(rules.definitionOf)
  }

  async putDraft(...[workspaceId, id, d]: Parameters<CampaignStore['putDraft']>) {
    const now = this.#clock.now()
    const values = rules.draftValues(d)
    const created = this.#db
      .transaction(() => {
        const existing = this.#stmts.get.get(workspaceId, id) as rules.CampaignRow | undefined
        if (existing === undefined) {
          this.#stmts.insert.run(workspaceId, id, ...values, now, now)
          return true
        }
        return this.#stmts.update.run(...values, now, workspaceId, id).changes > 0 ? false : undefined
        // Immediate, as every read-then-write here (see test/db/sqlite-write-race.test.ts).
      })
      .immediate()
    if (created === undefined) return undefined
    const campaign = await this.get(workspaceId, id)
    return campaign && { campaign, created }
  }

  /** The lifecycle (campaign-rules.ts) over this backend's conditional UPDATEs. */
  readonly marks = rules.campaignMarks(
    async (workspaceId, id, m) => {
      const now = this.#clock.now()
      const { changes } = this.#stmts.move.run(
        m.state,
        m.error,
        m.reason,
        m.finished ? 1 : 0,
        now,
        now,
        workspaceId,
        id,
        JSON.stringify(m.from),
      )
      return changes === 1
    },
    async (workspaceId, id, templateVersion, from) => {
      const now = this.#clock.now()
      const { changes } = this.#stmts.running.run(
        templateVersion,
        now,
        now,
        workspaceId,
        id,
        JSON.stringify(from),
      )
      return changes === 1
    },
  )

  async running(): Promise<{ workspaceId: string; id: string }[]> {
    return this.#stmts.allRunning.all() as { workspaceId: string; id: string }[]
  }

  async close(): Promise<void> {}
}
