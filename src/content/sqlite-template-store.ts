/** TemplateStore over the embedded SQLite database. */
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
import * as templateRows from './template-rows.ts'
import type { TemplateInput, TemplateStore, TemplateSummary, TemplateVersion } from './template-store.ts'
import { nextVersion } from './template-store.ts'

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

const VERSIONS = `SELECT ${templateRows.VERSION_SELECT} FROM template_versions WHERE workspace_id = ? AND template_id = ?`

function statements(db: SqliteDatabase) {
  return {
    latest: db.prepare(`${VERSIONS} ORDER BY version DESC LIMIT 1`),
    version: db.prepare(`${VERSIONS} AND version = ?`),
    unarchive: db.prepare('UPDATE templates SET archived = 0 WHERE workspace_id = ? AND template_id = ?'),
    insertVersion: db.prepare(
      `INSERT INTO template_versions (${templateRows.VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertTemplate: db.prepare(
      `INSERT INTO templates (workspace_id, template_id, name, latest_version, archived, updated_at) VALUES (?, ?, ?, ?, 0, ?)
       ON CONFLICT (workspace_id, template_id) DO UPDATE SET name = excluded.name, latest_version = excluded.latest_version,
         archived = 0, updated_at = excluded.updated_at`,
    ),
    list: db.prepare(
      `SELECT template_id AS templateId, name, latest_version AS latestVersion, updated_at AS updatedAt
       FROM templates WHERE workspace_id = ? AND archived = 0 ORDER BY template_id`,
    ),
    versions: db.prepare(
      'SELECT version, created_at AS createdAt, hash FROM template_versions WHERE workspace_id = ? AND template_id = ? ORDER BY version',
    ),
    archive: db.prepare(
      'UPDATE templates SET archived = 1 WHERE workspace_id = ? AND template_id = ? AND archived = 0',
    ),
    putBlock: db.prepare(
      `INSERT INTO template_blocks (workspace_id, name, source, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (workspace_id, name) DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at`,
    ),
    deleteBlock: db.prepare('DELETE FROM template_blocks WHERE workspace_id = ? AND name = ?'),
    blocks: db.prepare('SELECT name, source FROM template_blocks WHERE workspace_id = ? ORDER BY name'),
  }
}

export class SqliteTemplateStore implements TemplateStore {
  readonly #db: SqliteDatabase
  readonly #clock: Clock
  readonly #s: ReturnType<typeof statements>

  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    this.#db = db
    this.#clock = opts.clock ?? systemClock
    migrate(db, 'sqlite-template-store', MIGRATIONS)
    this.#s = statements(db)
  }

  async saveVersion(workspaceId: string, templateId: string, input: TemplateInput) {
    const s = this.#s
    return this.#db
      .transaction((): { version: TemplateVersion; created: boolean } => {
        const row = s.latest.get(workspaceId, templateId) as templateRows.VersionRow | undefined
        const latest = row && templateRows.versionFromRow(row)
        const now = this.#clock.now()
        const next = nextVersion(latest, workspaceId, templateId, input, now)
        if (!next) {
          s.unarchive.run(workspaceId, templateId)
          return { version: latest!, created: false }
        }
        s.insertVersion.run(...templateRows.versionValues(next))
        s.upsertTemplate.run(workspaceId, templateId, next.name, next.version, now)
        return { version: next, created: true }
        // Immediate: the write lock from the start, so a commit by the processor's connection between
        // the read and the write cannot make SQLite refuse the write (SQLITE_BUSY_SNAPSHOT).
      })
      .immediate()
  }

  async getVersion(workspaceId: string, templateId: string, version?: number) {
    const row =
      version === undefined
        ? this.#s.latest.get(workspaceId, templateId)
        : this.#s.version.get(workspaceId, templateId, version)
    return row ? templateRows.versionFromRow(row as templateRows.VersionRow) : undefined
  }

  async list(workspaceId: string): Promise<TemplateSummary[]> {
    return (this.#s.list.all(workspaceId) as TemplateSummary[]).map(templateRows.summaryFromRow)
  }

  async versions(workspaceId: string, templateId: string) {
    return this.#s.versions.all(workspaceId, templateId) as {
      version: number
      createdAt: number
      hash: string
    }[]
  }

  async archive(workspaceId: string, templateId: string) {
    return this.#s.archive.run(workspaceId, templateId).changes > 0
  }

  async putBlock(workspaceId: string, name: string, source: string) {
    this.#s.putBlock.run(workspaceId, name, source, this.#clock.now())
  }

  async deleteBlock(workspaceId: string, name: string) {
    return this.#s.deleteBlock.run(workspaceId, name).changes > 0
  }

  async blocks(workspaceId: string) {
    const rows = this.#s.blocks.all(workspaceId) as { name: string; source: string }[]
    return Object.fromEntries(rows.map((r) => [r.name, r.source]))
  }

  async close() {}
}
