/**
 * CampaignStore over the embedded SQLite database (the store file): SQL and row mapping only, the
 * lifecycle rules are campaign-rules.ts. It does not own the database.
 */
import { type Clock, systemClock } from '../core/types.ts'
import { migrate, type SqliteDatabase } from '../db/sqlite.ts'
import {
  CAMPAIGN_COLUMNS,
  type CampaignMove,
  type CampaignRow,
  cancelMove,
  definitionOf,
  FROM,
  finishMove,
  pauseMove,
} from './campaign-rules.ts'
import {
  CAMPAIGN_STATES,
  type CampaignDefinition,
  type CampaignDraft,
  type CampaignState,
  type CampaignStore,
} from './campaign-store.ts'

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
     state TEXT NOT NULL CHECK (state IN (${CAMPAIGN_STATES.map((s) => `'${s}'`).join(', ')})),
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
      get: db.prepare(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE ${KEY}`),
      list: db.prepare(
        `SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = ? ORDER BY created_at, campaign_id`,
      ),
      insert: db.prepare(
        `INSERT INTO campaigns (workspace_id, campaign_id, name, template_id, template_version, sender,
           audience, vars, rate_per_second, pause_after_failures, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?)`,
      ),
      update: db.prepare(
        `UPDATE campaigns SET name = ?, template_id = ?, template_version = ?, sender = ?, audience = ?,
           vars = ?, rate_per_second = ?, pause_after_failures = ?, updated_at = ?
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
    const row = this.#stmts.get.get(workspaceId, id) as CampaignRow | undefined
    return row && definitionOf(row)
  }

  async list(workspaceId: string): Promise<CampaignDefinition[]> {
    return (this.#stmts.list.all(workspaceId) as CampaignRow[]).map(definitionOf)
  }

  async putDraft(
    workspaceId: string,
    id: string,
    d: CampaignDraft,
  ): Promise<{ campaign: CampaignDefinition; created: boolean } | undefined> {
    const now = this.#clock.now()
    const values = [
      d.name,
      d.templateId,
      d.templateVersion,
      d.from,
      JSON.stringify(d.audience),
      JSON.stringify(d.vars),
      d.ratePerSecond,
      d.pauseAfterFailures ?? null,
    ]
    const created = this.#db.transaction(() => {
      const existing = this.#stmts.get.get(workspaceId, id) as CampaignRow | undefined
      if (existing === undefined) {
        this.#stmts.insert.run(workspaceId, id, ...values, now, now)
        return true
      }
      return this.#stmts.update.run(...values, now, workspaceId, id).changes > 0 ? false : undefined
    })()
    if (created === undefined) return undefined
    const campaign = await this.get(workspaceId, id)
    return campaign && { campaign, created }
  }

  async markRunning(workspaceId: string, id: string, templateVersion: number): Promise<boolean> {
    const now = this.#clock.now()
    const from = JSON.stringify(FROM.running)
    return this.#stmts.running.run(templateVersion, now, now, workspaceId, id, from).changes === 1
  }

  #move(workspaceId: string, id: string, from: readonly CampaignState[], m: CampaignMove): boolean {
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
      JSON.stringify(from),
    )
    return changes === 1
  }

  async markFinished(
    workspaceId: string,
    id: string,
    state: 'done' | 'failed',
    error?: string,
  ): Promise<boolean> {
    return this.#move(workspaceId, id, FROM.finished, finishMove(state, error))
  }

  async markPaused(workspaceId: string, id: string, reason: string): Promise<boolean> {
    return this.#move(workspaceId, id, FROM.paused, pauseMove(reason))
  }

  async markCancelled(workspaceId: string, id: string, reason: string): Promise<boolean> {
    return this.#move(workspaceId, id, FROM.cancelled, cancelMove(reason))
  }

  async running(): Promise<{ workspaceId: string; id: string }[]> {
    return this.#stmts.allRunning.all() as { workspaceId: string; id: string }[]
  }

  async close(): Promise<void> {}
}
