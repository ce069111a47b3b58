/** TemplateStore over the embedded SQLite database. */
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
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
     workspace_id TEXT NOT NULL,
     template_id TEXT NOT NULL,
     name TEXT NOT NULL,
     latest_version INTEGER NOT NULL,
     archived INTEGER NOT NULL DEFAULT 0,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, template_id)
   ) WITHOUT ROWID;
   CREATE TABLE template_versions (
     workspace_id TEXT NOT NULL,
     template_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     name TEXT NOT NULL,
     subject TEXT NOT NULL,
     preheader TEXT NOT NULL,
     format TEXT NOT NULL,
     body TEXT NOT NULL,
     text TEXT,
     hash TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, template_id, version)
   ) WITHOUT ROWID;
   CREATE TABLE template_blocks (
     workspace_id TEXT NOT NULL,
     name TEXT NOT NULL,
     source TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, name)
   ) WITHOUT ROWID;`,
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
  created_at: number
}

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
  createdAt: r.created_at,
})

export class SqliteTemplateStore implements TemplateStore {
  readonly #db: SqliteDatabase
  readonly #clock: Clock

  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    this.#db = db
    this.#clock = opts.clock ?? systemClock
    migrate(db, 'sqlite-template-store', MIGRATIONS)
  }

  async saveVersion(workspaceId: string, templateId: string, input: TemplateInput) {
    const db = this.#db
    const hash = contentHash(input)
    return db.transaction(() => {
      const latest = db
        .prepare(
          'SELECT * FROM template_versions WHERE workspace_id = ? AND template_id = ? ORDER BY version DESC LIMIT 1',
        )
        .get(workspaceId, templateId) as VersionRow | undefined
      const now = this.#clock.now()
      if (latest && latest.hash === hash) {
        db.prepare('UPDATE templates SET archived = 0 WHERE workspace_id = ? AND template_id = ?').run(
          workspaceId,
          templateId,
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
      db.prepare(
        `INSERT INTO template_versions (workspace_id, template_id, version, name, subject, preheader, format, body, text, hash, created_at)
         VALUES (@workspace_id, @template_id, @version, @name, @subject, @preheader, @format, @body, @text, @hash, @created_at)`,
      ).run(row)
      db.prepare(
        `INSERT INTO templates (workspace_id, template_id, name, latest_version, archived, updated_at) VALUES (?, ?, ?, ?, 0, ?)
         ON CONFLICT (workspace_id, template_id) DO UPDATE SET name = excluded.name, latest_version = excluded.latest_version,
           archived = 0, updated_at = excluded.updated_at`,
      ).run(workspaceId, templateId, row.name, row.version, now)
      return { version: toVersion(row), created: true }
    })()
  }

  async getVersion(workspaceId: string, templateId: string, version?: number) {
    const row =
      version === undefined
        ? this.#db
            .prepare(
              'SELECT * FROM template_versions WHERE workspace_id = ? AND template_id = ? ORDER BY version DESC LIMIT 1',
            )
            .get(workspaceId, templateId)
        : this.#db
            .prepare(
              'SELECT * FROM template_versions WHERE workspace_id = ? AND template_id = ? AND version = ?',
            )
            .get(workspaceId, templateId, version)
    return row ? toVersion(row as VersionRow) : undefined
  }

  async list(workspaceId: string): Promise<TemplateSummary[]> {
    return this.#db
      .prepare(
        `SELECT template_id AS templateId, name, latest_version AS latestVersion, updated_at AS updatedAt
         FROM templates WHERE workspace_id = ? AND archived = 0 ORDER BY template_id`,
      )
      .all(workspaceId) as TemplateSummary[]
  }

  async versions(workspaceId: string, templateId: string) {
    return this.#db
      .prepare(
        'SELECT version, created_at AS createdAt, hash FROM template_versions WHERE workspace_id = ? AND template_id = ? ORDER BY version',
      )
      .all(workspaceId, templateId) as { version: number; createdAt: number; hash: string }[]
  }

  async archive(workspaceId: string, templateId: string) {
    return (
      this.#db
        .prepare(
          'UPDATE templates SET archived = 1 WHERE workspace_id = ? AND template_id = ? AND archived = 0',
        )
        .run(workspaceId, templateId).changes > 0
    )
  }

  async putBlock(workspaceId: string, name: string, source: string) {
    this.#db
      .prepare(
        `INSERT INTO template_blocks (workspace_id, name, source, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, name) DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at`,
      )
      .run(workspaceId, name, source, this.#clock.now())
  }

  async deleteBlock(workspaceId: string, name: string) {
    return (
      this.#db
        .prepare('DELETE FROM template_blocks WHERE workspace_id = ? AND name = ?')
        .run(workspaceId, name).changes > 0
    )
  }

  async blocks(workspaceId: string) {
    const rows = this.#db
      .prepare('SELECT name, source FROM template_blocks WHERE workspace_id = ?')
      .all(workspaceId) as {
      name: string
      source: string
    }[]
    return Object.fromEntries(rows.map((r) => [r.name, r.source]))
  }

  async close() {}
}
