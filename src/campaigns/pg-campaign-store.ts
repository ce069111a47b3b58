/**
 * CampaignStore over PostgreSQL: SQL and row mapping only, the lifecycle rules are
 * campaign-rules.ts. It does not own the pool.
 */
import { type Clock, systemClock } from '../core/types.ts'
import { inTransaction, migratePg, type PgPool } from '../db/pg.ts'
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
  // paused and cancelled, their reason, and the per-campaign pause threshold.
  `ALTER TABLE campaigns DROP CONSTRAINT campaigns_state_check;
   ALTER TABLE campaigns ADD CONSTRAINT campaigns_state_check
     CHECK (state IN (${CAMPAIGN_STATES.map((s) => `'${s}'`).join(', ')}));
   ALTER TABLE campaigns ADD COLUMN pause_after_failures integer, ADD COLUMN reason text;`,
]

const KEY = 'workspace_id = $1 AND campaign_id = $2'

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
    const { rows } = await this.#query<CampaignRow>(
      `SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE ${KEY}`,
      [workspaceId, id],
    )
    return rows[0] && definitionOf(rows[0])
  }

  async list(workspaceId: string): Promise<CampaignDefinition[]> {
    const { rows } = await this.#query<CampaignRow>(
      `SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = $1 ORDER BY created_at, campaign_id`,
      [workspaceId],
    )
    return rows.map(definitionOf)
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
      d.pauseAfterFailures ?? null,
    ]
    const created = await inTransaction(this.#pool, async (client) => {
      const inserted = await client.query(
        `INSERT INTO campaigns (workspace_id, campaign_id, name, template_id, template_version, sender,
           audience, vars, rate_per_second, pause_after_failures, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, 'draft', $10, $10)
         ON CONFLICT (workspace_id, campaign_id) DO NOTHING`,
        values,
      )
      if (inserted.rowCount === 1) return true
      const updated = await client.query(
        `UPDATE campaigns SET name = $3, template_id = $4, template_version = $5, sender = $6, audience = $7,
           vars = $8, rate_per_second = $9, pause_after_failures = $11, updated_at = $10
         WHERE ${KEY} AND state = 'draft'`,
        values,
      )
      return updated.rowCount === 1 ? false : undefined
    })
    if (created === undefined) return undefined
    const campaign = await this.get(workspaceId, id)
    return campaign && { campaign, created }
  }

  async markRunning(workspaceId: string, id: string, templateVersion: number): Promise<boolean> {
    const { count } = await this.#query(
      `UPDATE campaigns SET state = 'running', template_version = $3, error = NULL, reason = NULL,
         finished_at = NULL, started_at = COALESCE(started_at, $4), updated_at = $4
       WHERE ${KEY} AND state = ANY($5::text[])`,
      [workspaceId, id, templateVersion, this.#clock.now(), FROM.running],
    )
    return count === 1
  }

  async #move(workspaceId: string, id: string, from: readonly CampaignState[], m: CampaignMove) {
    const { count } = await this.#query(
      `UPDATE campaigns SET state = $3, error = $4, reason = $5,
         finished_at = CASE WHEN $6::boolean THEN $7::bigint ELSE NULL END, updated_at = $7
       WHERE ${KEY} AND state = ANY($8::text[])`,
      [workspaceId, id, m.state, m.error, m.reason, m.finished, this.#clock.now(), from],
    )
    return count === 1
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
    const { rows } = await this.#query<{ workspaceId: string; id: string }>(
      `SELECT workspace_id AS "workspaceId", campaign_id AS id FROM campaigns WHERE state = 'running'
       ORDER BY workspace_id, campaign_id`,
      [],
    )
    return rows
  }

  async close(): Promise<void> {}
}
