/** TemplateStore over PostgreSQL. It does not own the pool. */
import type { Clock } from '../core/types.ts'
import { lockKey, migratePg, type PgPool } from '../db/pg.ts'
import { PgStore } from '../db/pg-store.ts'
import * as templateRows from './template-rows.ts'
import type { TemplateInput, TemplateStore, TemplateSummary } from './template-store.ts'
import { nextVersion } from './template-store.ts'

const MIGRATIONS = [
  `CREATE TABLE templates (
     workspace_id text COLLATE "C" NOT NULL,
     template_id text COLLATE "C" NOT NULL,
     name text NOT NULL,
     latest_version integer NOT NULL,
     archived boolean NOT NULL DEFAULT false,
     updated_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, template_id)
   );
   CREATE TABLE template_versions (
     workspace_id text COLLATE "C" NOT NULL,
     template_id text COLLATE "C" NOT NULL,
     version integer NOT NULL,
     name text NOT NULL,
     subject text NOT NULL,
     preheader text NOT NULL,
     format text NOT NULL,
     body text NOT NULL,
     text text,
     hash text NOT NULL,
     created_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, template_id, version)
   );
   CREATE TABLE template_blocks (
     workspace_id text COLLATE "C" NOT NULL,
     name text COLLATE "C" NOT NULL,
     source text NOT NULL,
     updated_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, name)
   );`,
]

const VERSIONS = `SELECT ${templateRows.VERSION_SELECT} FROM template_versions WHERE workspace_id = $1 AND template_id = $2`
const LATEST = `${VERSIONS} ORDER BY version DESC LIMIT 1`

export class PgTemplateStore extends PgStore implements TemplateStore {
  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    super(pool, (p) => migratePg(p, 'pg-template-store', MIGRATIONS), opts.clock)
  }

  async saveVersion(workspaceId: string, templateId: string, input: TemplateInput) {
    // One save per template at a time, so two saves cannot both make the same version number.
    const lock = lockKey(`inkstream.template\n${workspaceId}\n${templateId}`)
    return this.transaction(async (client) => {
      const row = (await client.query<templateRows.VersionRow>(LATEST, [workspaceId, templateId])).rows[0]
      const latest = row && templateRows.versionFromRow(row)
      const now = this.clock.now()
      const next = nextVersion(latest, workspaceId, templateId, input, now)
      if (!next) {
        await client.query(
          'UPDATE templates SET archived = false WHERE workspace_id = $1 AND template_id = $2',
          [workspaceId, templateId],
        )
        return { version: latest!, created: false }
      }
      await client.query(
        `INSERT INTO template_versions (${templateRows.VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        templateRows.versionValues(next),
      )
      await client.query(
        `INSERT INTO templates (workspace_id, template_id, name, latest_version, archived, updated_at)
         VALUES ($1, $2, $3, $4, false, $5)
         ON CONFLICT (workspace_id, template_id) DO UPDATE SET name = excluded.name,
           latest_version = excluded.latest_version, archived = false, updated_at = excluded.updated_at`,
        [workspaceId, templateId, next.name, next.version, now],
      )
      return { version: next, created: true }
    }, `BEGIN; SELECT pg_advisory_xact_lock(${lock})`)
  }

  async getVersion(workspaceId: string, templateId: string, version?: number) {
    const { rows } =
      version === undefined
        ? await this.query<templateRows.VersionRow>(LATEST, [workspaceId, templateId])
        : await this.query<templateRows.VersionRow>(`${VERSIONS} AND version = $3`, [
            workspaceId,
            templateId,
            version,
          ])
    return rows[0] && templateRows.versionFromRow(rows[0])
  }

  async list(workspaceId: string): Promise<TemplateSummary[]> {
    const { rows } = await this.query<TemplateSummary & { updatedAt: string }>(
      `SELECT template_id AS "templateId", name, latest_version AS "latestVersion", updated_at AS "updatedAt"
       FROM templates WHERE workspace_id = $1 AND NOT archived ORDER BY template_id`,
      [workspaceId],
    )
    return rows.map(templateRows.summaryFromRow)
  }

  async versions(workspaceId: string, templateId: string) {
    const { rows } = await this.query<{ version: number; createdAt: string; hash: string }>(
      `SELECT version, created_at AS "createdAt", hash FROM template_versions
       WHERE workspace_id = $1 AND template_id = $2 ORDER BY version`,
      [workspaceId, templateId],
    )
    return rows.map((r) => ({ version: r.version, createdAt: Number(r.createdAt), hash: r.hash }))
  }

  async archive(workspaceId: string, templateId: string) {
    const { count } = await this.query(
      'UPDATE templates SET archived = true WHERE workspace_id = $1 AND template_id = $2 AND NOT archived',
      [workspaceId, templateId],
    )
    return count > 0
  }

  async putBlock(workspaceId: string, name: string, source: string) {
    await this.query(
      `INSERT INTO template_blocks (workspace_id, name, source, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (workspace_id, name) DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at`,
      [workspaceId, name, source, this.clock.now()],
    )
  }

  async deleteBlock(workspaceId: string, name: string) {
    const { count } = await this.query('DELETE FROM template_blocks WHERE workspace_id = $1 AND name = $2', [
      workspaceId,
      name,
    ])
    return count > 0
  }

  async blocks(workspaceId: string) {
    const { rows } = await this.query<{ name: string; source: string }>(
      'SELECT name, source FROM template_blocks WHERE workspace_id = $1 ORDER BY name',
      [workspaceId],
    )
    return Object.fromEntries(rows.map((r) => [r.name, r.source]))
  }
}
