/** The template tables' row mapping, shared by the SQLite and PostgreSQL stores (same columns). */
import type { BodyFormat, TemplateVersion } from './template-store.ts'

export const VERSION_COLUMNS =
  'workspace_id, template_id, version, name, subject, preheader, format, body, text, hash, created_at'

export interface VersionRow {
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
  /** INTEGER in SQLite; bigint (a string) in PostgreSQL. */
  created_at: number | string
}

export const versionFromRow = (r: VersionRow): TemplateVersion => ({
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
  createdAt: Number(r.created_at),
})

/** A version's values in VERSION_COLUMNS order. */
export const versionValues = (v: TemplateVersion): unknown[] => [
  v.workspaceId,
  v.templateId,
  v.version,
  v.name,
  v.subject,
  v.preheader,
  v.format,
  v.body,
  v.text,
  v.hash,
  v.createdAt,
]

/** The summary of a template as listed; `updated_at` as either backend returns it. */
export const summaryFromRow = (r: {
  templateId: string
  name: string
  latestVersion: number
  updatedAt: number | string
}) => ({ ...r, updatedAt: Number(r.updatedAt) })
