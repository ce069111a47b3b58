/** The template tables' row mapping, shared by the SQLite and PostgreSQL stores (same columns). */
import type { TemplateVersion } from './template-store.ts'

export const VERSION_COLUMNS =
  'workspace_id, template_id, version, name, subject, preheader, format, body, text, hash, created_at'

/** The columns of a version, named as TemplateVersion's fields (both dialects quote the same way). */
export const VERSION_SELECT = `workspace_id AS "workspaceId", template_id AS "templateId", version, name, subject,
  preheader, format, body, text, hash, created_at AS "createdAt"`

/** A version as read: created_at is INTEGER in SQLite and bigint (a string) in PostgreSQL. */
export type VersionRow = Omit<TemplateVersion, 'createdAt'> & { createdAt: number | string }

export const versionFromRow = (r: VersionRow): TemplateVersion => ({ ...r, createdAt: Number(r.createdAt) })

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
