/** The templates API's shapes as the dashboard reads them (src/content/template-schemas.ts is the source). */

export interface TemplateSummary {
  templateId: string
  name: string
  latestVersion: number
  updatedAt: number
}

export interface TemplateVersion {
  templateId: string
  version: number
  name: string
  subject: string
  preheader: string
  format: 'mjml' | 'html'
  body: string
  text: string | null
  hash: string
  createdAt: number
}

export interface VersionRow {
  version: number
  createdAt: number
  hash: string
}

export interface LintProblem {
  level: 'error' | 'warning'
  code: string
  part: string
  line: number | null
  message: string
}

/** The body of PUT /v1/templates/:id, POST /v1/lint and `draft` of a preview. */
export interface TemplateBody {
  name?: string
  subject: string
  preheader?: string
  mjml?: string
  html?: string
  text?: string
}

export interface Fallback {
  placeholder: string
  reason: string
  source: string
  value: string | null
  part: string
}

export interface SourceCall {
  name: string
  url: string
  outcome: string
  fromCache: boolean
  durationMs: number
  message?: string
}

export interface RenderReport {
  templateId: string
  version: number
  durationMs: number
  deadlineMs: number
  profile: { outcome: string }
  fallbacks: Fallback[]
  sources: SourceCall[]
}

export type PreviewResult =
  | { ok: true; subject: string; preheader: string; html: string; text: string; report: RenderReport }
  | { skipped: { type: string; reason: string }; report: RenderReport }

export interface Saved {
  templateId: string
  version: number
  created: boolean
  warnings: LintProblem[]
}

/** The editable fields of a template, as the editor holds them. */
export interface Draft {
  name: string
  subject: string
  preheader: string
  format: 'mjml' | 'html'
  body: string
  text: string
}

export const draftOf = (v: TemplateVersion): Draft => ({
  name: v.name,
  subject: v.subject,
  preheader: v.preheader,
  format: v.format,
  body: v.body,
  text: v.text ?? '',
})

/** The request body for a draft: an empty text part means "derive it from the HTML". */
export function bodyOf(d: Draft): TemplateBody {
  const b: TemplateBody = { subject: d.subject }
  if (d.name.trim() !== '') b.name = d.name
  if (d.preheader !== '') b.preheader = d.preheader
  if (d.format === 'mjml') b.mjml = d.body
  else b.html = d.body
  if (d.text !== '') b.text = d.text
  return b
}

/** Why a draft cannot be linted or previewed yet (the API would answer 400), or undefined. */
export function incomplete(d: Draft): string | undefined {
  if (d.subject === '') return 'The subject is empty.'
  if (d.body === '') return 'The body is empty.'
  return undefined
}
