/** CampaignStore over the embedded SQLite database (the store file). It does not own the database. */
import { type Clock, type JsonObject, systemClock } from '../core/types.ts'
import { migrate, type SqliteDatabase } from '../db/sqlite.ts'
import type {
  Audience,
  CampaignDefinition,
  CampaignDraft,
  CampaignState,
  CampaignStore,
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
]

interface Row {
  workspace_id: string
  campaign_id: string
  name: string
  template_id: string
  template_version: number | null
  sender: string | null
  audience: string
  vars: string
  rate_per_second: number | null
  state: CampaignState
  error: string | null
  created_at: number
  updated_at: number
  started_at: number | null
  finished_at: number | null
}

const toDefinition = (r: Row): CampaignDefinition => ({
  id: r.campaign_id,
  name: r.name,
  templateId: r.template_id,
  templateVersion: r.template_version,
  from: r.sender,
  audience: JSON.parse(r.audience) as Audience,
  vars: JSON.parse(r.vars) as JsonObject,
  ratePerSecond: r.rate_per_second,
  state: r.state,
  error: r.error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
})

export class SqliteCampaignStore implements CampaignStore {
  readonly #db: SqliteDatabase
  readonly #clock: Clock
  readonly #stmts

  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    this.#db = db
    this.#clock = opts.clock ?? systemClock
    migrate(db, 'sqlite-campaign-store', MIGRATIONS)
    this.#stmts = {
      get: db.prepare('SELECT * FROM campaigns WHERE workspace_id = ? AND campaign_id = ?'),
      list: db.prepare('SELECT * FROM campaigns WHERE workspace_id = ? ORDER BY created_at, campaign_id'),
      insert: db.prepare(
        `INSERT INTO campaigns (workspace_id, campaign_id, name, template_id, template_version, sender,
           audience, vars, rate_per_second, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?)`,
      ),
      update: db.prepare(
        `UPDATE campaigns SET name = ?, template_id = ?, template_version = ?, sender = ?, audience = ?,
           vars = ?, rate_per_second = ?, updated_at = ?
         WHERE workspace_id = ? AND campaign_id = ? AND state = 'draft'`,
      ),
      running: db.prepare(
        `UPDATE campaigns SET state = 'running', template_version = ?, error = NULL, finished_at = NULL,
           started_at = COALESCE(started_at, ?), updated_at = ?
         WHERE workspace_id = ? AND campaign_id = ?`,
      ),
      finished: db.prepare(
        `UPDATE campaigns SET state = ?, error = ?, finished_at = ?, updated_at = ?
         WHERE workspace_id = ? AND campaign_id = ?`,
      ),
      allRunning: db.prepare(
        `SELECT workspace_id AS workspaceId, campaign_id AS id FROM campaigns WHERE state = 'running'`,
      ),
    }
  }

  async get(workspaceId: string, id: string): Promise<CampaignDefinition | undefined> {
    const row = this.#stmts.get.get(workspaceId, id) as Row | undefined
    return row && toDefinition(row)
  }

  async list(workspaceId: string): Promise<CampaignDefinition[]> {
    return (this.#stmts.list.all(workspaceId) as Row[]).map(toDefinition)
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
    ]
    const created = this.#db.transaction(() => {
      const existing = this.#stmts.get.get(workspaceId, id) as Row | undefined
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

  async markRunning(workspaceId: string, id: string, templateVersion: number): Promise<void> {
    const now = this.#clock.now()
    this.#stmts.running.run(templateVersion, now, now, workspaceId, id)
  }

  async markFinished(
    workspaceId: string,
    id: string,
    state: 'done' | 'failed',
    error?: string,
  ): Promise<void> {
    const now = this.#clock.now()
    this.#stmts.finished.run(state, error ?? null, now, now, workspaceId, id)
  }

  async running(): Promise<{ workspaceId: string; id: string }[]> {
    return this.#stmts.allRunning.all() as { workspaceId: string; id: string }[]
  }

  async close(): Promise<void> {}
}
