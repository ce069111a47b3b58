/** TemplateStore over PostgreSQL. It does not own the pool. */
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import { inTransaction, lockKey, migratePg, type PgPool, toInt } from '../db/pg.ts'
import {
  type BodyFormat,
  contentHash,
  type TemplateInput,
  type TemplateStore,
  type TemplateSummary,
  type TemplateVersion,
} from './template-store.ts'

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

interface VersionRow {
  workspace_id: string
  template_id: string
  version: number
  name: string
  subject: string
  preheader: string
  format: BodyFormat
  body: string
  text: string | null
  hash: string
  created_at: string | number
}

const VERSION_COLUMNS =
  'workspace_id, template_id, version, name, subject, preheader, format, body, text, hash, created_at'

const toVersion = (r: VersionRow): TemplateVersion => ({
  workspaceId: r.workspace_id,
  templateId: r.template_id,
  version: r.version,
  name: r.name,
  subject: r.subject,
  preheader: r.preheader,
  format: r.format,
  body: r.body,
  text: r.text,
  hash: r.hash,
  createdAt: toInt(r.created_at),
})

const LATEST = `SELECT ${VERSION_COLUMNS} FROM template_versions WHERE workspace_id = $1 AND template_id = $2
  ORDER BY version DESC LIMIT 1`

export class PgTemplateStore implements TemplateStore {
  readonly #pool: PgPool
  readonly #clock: Clock
  readonly #ready: Promise<void>

  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    this.#pool = pool
    this.#clock = opts.clock ?? systemClock
    this.#ready = migratePg(pool, 'pg-template-store', MIGRATIONS)
    this.#ready.catch(() => {})
  }

  /** Resolves once the tables exist; every method waits for it too. */
  ready(): Promise<void> {
    return this.#ready
  }

  async #query<R extends object>(text: string, values: unknown[]): Promise<{ rows: R[]; count: number }> {
    await this.#ready
    const { rows, rowCount } = await this.#pool.query<R>(text, values)
    return { rows, count: rowCount ?? 0 }
  }

  async saveVersion(workspaceId: string, templateId: string, input: TemplateInput) {
    await this.#ready
    const hash = contentHash(input)
    // One save per template at a time, so two saves cannot both make the same version number.
    const lock = lockKey(`inkstream.template\n${workspaceId}\n${templateId}`)
    return inTransaction(
      this.#pool,
      async (client) => {
        const latest = (await client.query<VersionRow>(LATEST, [workspaceId, templateId])).rows[0]
        const now = this.#clock.now()
        if (latest && latest.hash === hash) {
          await client.query(
            'UPDATE templates SET archived = false WHERE workspace_id = $1 AND template_id = $2',
            [workspaceId, templateId],
          )
          return { version: toVersion(latest), created: false }
        }
        const row: VersionRow = {
          workspace_id: workspaceId,
          template_id: templateId,
          version: (latest?.version ?? 0) + 1,
          name: input.name ?? latest?.name ?? templateId,
          subject: input.subject,
          preheader: input.preheader ?? '',
          format: input.format,
          body: input.body,
          text: input.text ?? null,
          hash,
          created_at: now,
        }
        await client.query(
          `INSERT INTO template_versions (${VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            row.workspace_id,
            row.template_id,
            row.version,
            row.name,
            row.subject,
            row.preheader,
            row.format,
            row.body,
            row.text,
            row.hash,
            now,
          ],
        )
        await client.query(
          `INSERT INTO templates (workspace_id, template_id, name, latest_version, archived, updated_at)
           VALUES ($1, $2, $3, $4, false, $5)
           ON CONFLICT (workspace_id, template_id) DO UPDATE SET name = excluded.name,
             latest_version = excluded.latest_version, archived = false, updated_at = excluded.updated_at`,
          [workspaceId, templateId, row.name, row.version, now],
        )
        return { version: toVersion(row), created: true }
      },
      `BEGIN; SELECT pg_advisory_xact_lock(${lock})`,
    )
  }

  async getVersion(workspaceId: string, templateId: string, version?: number) {
    const { rows } =
      version === undefined
        ? await this.#query<VersionRow>(LATEST, [workspaceId, templateId])
        : await this.#query<VersionRow>(
            `SELECT ${VERSION_COLUMNS} FROM template_versions
             WHERE workspace_id = $1 AND template_id = $2 AND version = $3`,
            [workspaceId, templateId, version],
          )
    return rows[0] && toVersion(rows[0])
  }

  async list(workspaceId: string): Promise<TemplateSummary[]> {
    const { rows } = await this.#query<TemplateSummary & { updatedAt: string }>(
      `SELECT template_id AS "templateId", name, latest_version AS "latestVersion", updated_at AS "updatedAt"
       FROM templates WHERE workspace_id = $1 AND NOT archived ORDER BY template_id`,
      [workspaceId],
    )
    return rows.map((r) => ({ ...r, updatedAt: toInt(r.updatedAt) }))
  }

  async versions(workspaceId: string, templateId: string) {
    const { rows } = await this.#query<{ version: number; createdAt: string; hash: string }>(
      `SELECT version, created_at AS "createdAt", hash FROM template_versions
       WHERE workspace_id = $1 AND template_id = $2 ORDER BY version`,
      [workspaceId, templateId],
    )
    return rows.map((r) => ({ version: r.version, createdAt: toInt(r.createdAt), hash: r.hash }))
  }

  async archive(workspaceId: string, templateId: string) {
    const { count } = await this.#query(
      'UPDATE templates SET archived = true WHERE workspace_id = $1 AND template_id = $2 AND NOT archived',
      [workspaceId, templateId],
    )
    return count > 0
  }

  async putBlock(workspaceId: string, name: string, source: string) {
    await this.#query(
      `INSERT INTO template_blocks (workspace_id, name, source, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (workspace_id, name) DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at`,
      [workspaceId, name, source, this.#clock.now()],
    )
  }

  async deleteBlock(workspaceId: string, name: string) {
    const { count } = await this.#query('DELETE FROM template_blocks WHERE workspace_id = $1 AND name = $2', [
      workspaceId,
      name,
    ])
    return count > 0
  }

  async blocks(workspaceId: string) {
    const { rows } = await this.#query<{ name: string; source: string }>(
      'SELECT name, source FROM template_blocks WHERE workspace_id = $1 ORDER BY name',
      [workspaceId],
    )
    return Object.fromEntries(rows.map((r) => [r.name, r.source]))
  }

  async close() {}
}
