/** CampaignStore over PostgreSQL. It does not own the pool. */
import { type Clock, systemClock } from '../core/types.ts'
import { inTransaction, migratePg, type PgPool, toInt, toIntOrNull } from '../db/pg.ts'
import type {
  Audience,
  CampaignDefinition,
  CampaignDraft,
  CampaignState,
  CampaignStore,
} from './campaign-store.ts'

const MIGRATIONS = [
  // audience and vars are jsonb: read back whole, never compared as text.
  `CREATE TABLE campaigns (
     workspace_id text COLLATE "C" NOT NULL,
     campaign_id text COLLATE "C" NOT NULL,
     name text NOT NULL,
     template_id text NOT NULL,
     template_version integer,
     sender text,
     audience jsonb NOT NULL,
     vars jsonb NOT NULL,
     rate_per_second double precision,
     state text NOT NULL CHECK (state IN ('draft', 'running', 'done', 'failed')),
     error text,
     created_at bigint NOT NULL,
     updated_at bigint NOT NULL,
     started_at bigint,
     finished_at bigint,
     PRIMARY KEY (workspace_id, campaign_id)
   );
   CREATE INDEX campaigns_running ON campaigns (workspace_id, campaign_id) WHERE state = 'running';`,
]

interface Row {
  workspace_id: string
  campaign_id: string
  name: string
  template_id: string
  template_version: number | null
  sender: string | null
  audience: Audience
  vars: CampaignDefinition['vars']
  rate_per_second: number | null
  state: CampaignState
  error: string | null
  created_at: string
  updated_at: string
  started_at: string | null
  finished_at: string | null
}

const COLUMNS = `workspace_id, campaign_id, name, template_id, template_version, sender, audience, vars,
  rate_per_second, state, error, created_at, updated_at, started_at, finished_at`

const toDefinition = (r: Row): CampaignDefinition => ({
  id: r.campaign_id,
  name: r.name,
  templateId: r.template_id,
  templateVersion: r.template_version,
  from: r.sender,
  audience: r.audience,
  vars: r.vars,
  ratePerSecond: r.rate_per_second,
  state: r.state,
  error: r.error,
  createdAt: toInt(r.created_at),
  updatedAt: toInt(r.updated_at),
  startedAt: toIntOrNull(r.started_at),
  finishedAt: toIntOrNull(r.finished_at),
})

export class PgCampaignStore implements CampaignStore {
  readonly #pool: PgPool
  readonly #clock: Clock
  readonly #ready: Promise<void>

  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    this.#pool = pool
    this.#clock = opts.clock ?? systemClock
    this.#ready = migratePg(pool, 'pg-campaign-store', MIGRATIONS)
    this.#ready.catch(() => {})
  }

  /** Resolves once the table exists; every method waits for it too. */
  ready(): Promise<void> {
    return this.#ready
  }

  async #query<R extends object>(text: string, values: unknown[]): Promise<{ rows: R[]; count: number }> {
    await this.#ready
    const { rows, rowCount } = await this.#pool.query<R>(text, values)
    return { rows, count: rowCount ?? 0 }
  }

  async get(workspaceId: string, id: string): Promise<CampaignDefinition | undefined> {
    const { rows } = await this.#query<Row>(
      `SELECT ${COLUMNS} FROM campaigns WHERE workspace_id = $1 AND campaign_id = $2`,
      [workspaceId, id],
    )
    return rows[0] && toDefinition(rows[0])
  }

  async list(workspaceId: string): Promise<CampaignDefinition[]> {
    const { rows } = await this.#query<Row>(
      `SELECT ${COLUMNS} FROM campaigns WHERE workspace_id = $1 ORDER BY created_at, campaign_id`,
      [workspaceId],
    )
    return rows.map(toDefinition)
  }

  async putDraft(
    workspaceId: string,
    id: string,
    d: CampaignDraft,
  ): Promise<{ campaign: CampaignDefinition; created: boolean } | undefined> {
    const now = this.#clock.now()
    await this.#ready
    const values = [
      workspaceId,
      id,
      d.name,
      d.templateId,
      d.templateVersion,
      d.from,
      JSON.stringify(d.audience),
      JSON.stringify(d.vars),
      d.ratePerSecond,
      now,
    ]
    const created = await inTransaction(this.#pool, async (client) => {
      const inserted = await client.query(
        `INSERT INTO campaigns (workspace_id, campaign_id, name, template_id, template_version, sender,
           audience, vars, rate_per_second, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $10)
         ON CONFLICT (workspace_id, campaign_id) DO NOTHING`,
        values,
      )
      if (inserted.rowCount === 1) return true
      const updated = await client.query(
        `UPDATE campaigns SET name = $3, template_id = $4, template_version = $5, sender = $6, audience = $7,
           vars = $8, rate_per_second = $9, updated_at = $10
         WHERE workspace_id = $1 AND campaign_id = $2 AND state = 'draft'`,
        values,
      )
      return updated.rowCount === 1 ? false : undefined
    })
    if (created === undefined) return undefined
    const campaign = await this.get(workspaceId, id)
    return campaign && { campaign, created }
  }

  async markRunning(workspaceId: string, id: string, templateVersion: number): Promise<void> {
    const now = this.#clock.now()
    await this.#query(
      `UPDATE campaigns SET state = 'running', template_version = $3, error = NULL, finished_at = NULL,
         started_at = COALESCE(started_at, $4), updated_at = $4
       WHERE workspace_id = $1 AND campaign_id = $2`,
      [workspaceId, id, templateVersion, now],
    )
  }

  async markFinished(
    workspaceId: string,
    id: string,
    state: 'done' | 'failed',
    error?: string,
  ): Promise<void> {
    const now = this.#clock.now()
    await this.#query(
      `UPDATE campaigns SET state = $3, error = $4, finished_at = $5, updated_at = $5
       WHERE workspace_id = $1 AND campaign_id = $2`,
      [workspaceId, id, state, error ?? null, now],
    )
  }

  async running(): Promise<{ workspaceId: string; id: string }[]> {
    const { rows } = await this.#query<{ workspaceId: string; id: string }>(
      `SELECT workspace_id AS "workspaceId", campaign_id AS id FROM campaigns WHERE state = 'running'
       ORDER BY workspace_id, campaign_id`,
      [],
    )
    return rows
  }

  async close(): Promise<void> {}
}
