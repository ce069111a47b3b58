/**
 * CampaignStore over PostgreSQL: SQL and row mapping only, the lifecycle rules are
 * campaign-rules.ts. It does not own the pool.
 */
import type { Clock } from '../core/types.ts'
import { migratePg, type PgPool } from '../db/pg.ts'
import { PgStore } from '../db/pg-store.ts'
import * as rules from './campaign-rules.ts'
import { type CampaignDefinition, type CampaignStore, STATE_CHECK } from './campaign-store.ts'

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
   ALTER TABLE campaigns ADD CONSTRAINT campaigns_state_check ${STATE_CHECK};
   ALTER TABLE campaigns ADD COLUMN pause_after_failures integer, ADD COLUMN reason text;`,
  // Local-time sends (campaign-store.ts CampaignSendAt).
  'ALTER TABLE campaigns ADD COLUMN send_at jsonb;',
  // The subscription topic (issue 15).
  'ALTER TABLE campaigns ADD COLUMN topic text;',
]

const KEY = 'workspace_id = $1 AND campaign_id = $2'

export class PgCampaignStore extends PgStore implements CampaignStore {
  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    super(pool, (p) => migratePg(p, 'pg-campaign-store', MIGRATIONS), opts.clock)
  }

  async get(workspaceId: string, id: string): Promise<CampaignDefinition | undefined> {
    const { rows } = await this.query<rules.CampaignRow>(
      `SELECT ${rules.CAMPAIGN_COLUMNS} FROM campaigns WHERE ${KEY}`,
      [workspaceId, id],
    )
    return rows[0] && rules.definitionOf(rows[0])
  }

  async list(workspaceId: string): Promise<CampaignDefinition[]> {
    const { rows } = await this.query<rules.CampaignRow>(
      `SELECT ${rules.CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = $1 ORDER BY created_at, campaign_id`,
      [workspaceId],
    )
    return rows.map(rules.definitionOf)
  }

  async putDraft(...[workspaceId, id, d]: Parameters<CampaignStore['putDraft']>) {
    const now = this.clock.now()
    const values = [workspaceId, id, ...rules.draftValues(d), now]
    const created = await this.transaction(async (client) => {
      const inserted = await client.query(
        `INSERT INTO campaigns (workspace_id, campaign_id, name, template_id, template_version, sender,
           audience, vars, rate_per_second, pause_after_failures, send_at, topic, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'draft', $13, $13)
         ON CONFLICT (workspace_id, campaign_id) DO NOTHING`,
        values,
      )
      if (inserted.rowCount === 1) return true
      const updated = await client.query(
        `UPDATE campaigns SET name = $3, template_id = $4, template_version = $5, sender = $6, audience = $7,
           vars = $8, rate_per_second = $9, pause_after_failures = $10, send_at = $11, topic = $12, updated_at = $13
         WHERE ${KEY} AND state = 'draft'`,
        values,
      )
      return updated.rowCount === 1 ? false : undefined
    })
    if (created === undefined) return undefined
    const campaign = await this.get(workspaceId, id)
    return campaign && { campaign, created }
  }

  /** The lifecycle (campaign-rules.ts) over this backend's conditional UPDATEs. */
  readonly marks = rules.campaignMarks(
    async (workspaceId, id, m) => {
      const { count } = await this.query(
        `UPDATE campaigns SET state = $3, error = $4, reason = $5,
           finished_at = CASE WHEN $6::boolean THEN $7::bigint ELSE NULL END, updated_at = $7
         WHERE ${KEY} AND state = ANY($8::text[])`,
        [workspaceId, id, m.state, m.error, m.reason, m.finished, this.clock.now(), m.from],
      )
      return count === 1
    },
    async (workspaceId, id, templateVersion, from) => {
      const { count } = await this.query(
        `UPDATE campaigns SET state = 'running', template_version = $3, error = NULL, reason = NULL,
           finished_at = NULL, started_at = COALESCE(started_at, $4), updated_at = $4
         WHERE ${KEY} AND state = ANY($5::text[])`,
        [workspaceId, id, templateVersion, this.clock.now(), from],
      )
      return count === 1
    },
  )

  async running(): Promise<{ workspaceId: string; id: string }[]> {
    const { rows } = await this.query<{ workspaceId: string; id: string }>(
      `SELECT workspace_id AS "workspaceId", campaign_id AS id FROM campaigns WHERE state = 'running'
       ORDER BY workspace_id, campaign_id`,
      [],
    )
    return rows
  }
}
