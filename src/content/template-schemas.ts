/** The shapes of the templates API: request bodies it validates and responses it sends (and documents). */
import { z } from 'zod'
import { epochMs, errorBody, idParams, openObject, slug } from '../http/schemas.ts'
import type { TemplateInput } from './template-store.ts'

export const templateBody = z
  .object({
    name: z.string().max(200).optional(),
    subject: z.string().min(1).max(2000),
    preheader: z.string().max(2000).optional(),
    mjml: z.string().min(1).max(1_000_000).optional(),
    html: z.string().min(1).max(1_000_000).optional(),
    text: z.string().max(1_000_000).optional(),
  })
  .strict()
  .refine((b) => (b.mjml === undefined) !== (b.html === undefined), 'send exactly one of "mjml" or "html"')
  .meta({ description: 'A template version: exactly one of `mjml` or `html`, Liquid anywhere.' })

export const toTemplateInput = (b: z.output<typeof templateBody>): TemplateInput => ({
  name: b.name,
  subject: b.subject,
  preheader: b.preheader,
  format: b.mjml !== undefined ? 'mjml' : 'html',
  body: b.mjml ?? b.html ?? '',
  text: b.text,
})

export const previewBody = z
  .object({
    version: z.number().int().min(1).optional(),
    draft: templateBody.optional().meta({
      description:
        "Render this unsaved content instead of a stored version (the editor's live preview); nothing is saved. Its report has version 0.",
    }),
    userId: z.string().min(1).optional(),
    profile: openObject.optional(),
    event: openObject.optional(),
    campaign: openObject.optional(),
    deadlineMs: z.number().int().min(10).max(10_000).optional(),
    faults: z
      .object({
        delaySources: z.record(z.string(), z.number().int().min(0).max(60_000)).optional(),
        failSources: z.array(z.string()).optional(),
        dropTraits: z.array(z.string()).optional(),
        profileDelayMs: z.number().int().min(0).max(60_000).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()

export const blockBody = z.object({ source: z.string().max(200_000) }).strict()

export const templateParams = z.object({ id: slug })
export const blockParams = z.object({ name: slug })

export const lintProblem = z.strictObject({
  level: z.enum(['error', 'warning']),
  code: z.string(),
  part: z.string(),
  line: z.number().int().nullable(),
  message: z.string(),
})

export const saved = z.strictObject({
  templateId: z.string(),
  version: z.number().int(),
  created: z
    .boolean()
    .meta({ description: 'False when the content equals the latest version (no new one).' }),
  warnings: z.array(lintProblem),
})

export const templateVersion = z.strictObject({
  workspaceId: z.string(),
  templateId: z.string(),
  version: z.number().int(),
  name: z.string(),
  subject: z.string(),
  preheader: z.string(),
  format: z.enum(['mjml', 'html']),
  body: z.string(),
  text: z.string().nullable(),
  hash: z.string(),
  createdAt: epochMs,
})

export const templateList = z.strictObject({
  templates: z.array(
    z.strictObject({
      templateId: z.string(),
      name: z.string(),
      latestVersion: z.number().int(),
      updatedAt: epochMs,
    }),
  ),
})

export const versionList = z.strictObject({
  versions: z.array(z.strictObject({ version: z.number().int(), createdAt: epochMs, hash: z.string() })),
})

export const blockList = z.strictObject({
  blocks: z.record(z.string(), z.string()).meta({ description: 'Block name → Liquid source.' }),
})

/** What a render did: time spent, the profile read, every fallback taken and every source called. */
export const renderReport = z.strictObject({
  templateId: z.string(),
  version: z.number().int(),
  durationMs: z.number(),
  deadlineMs: z.number(),
  profile: z.strictObject({
    outcome: z.string(),
    ageMs: z.number().optional().meta({
      description: 'How old the traits were when read: 0 from the store, else the cached copy’s age.',
    }),
  }),
  fallbacks: z.array(
    z.strictObject({
      placeholder: z.string(),
      reason: z.string(),
      source: z.string(),
      value: z.string().nullable(),
      part: z.string(),
    }),
  ),
  sources: z.array(
    z.strictObject({
      name: z.string(),
      url: z.string(),
      outcome: z.string(),
      fromCache: z.boolean(),
      ageMs: z.number().optional().meta({
        description: 'How old the data was when read (success, stale): 0 when fetched by this render.',
      }),
      durationMs: z.number(),
      message: z.string().optional(),
    }),
  ),
})

export const preview = z.union([
  z.strictObject({
    ok: z.literal(true),
    subject: z.string(),
    preheader: z.string(),
    html: z.string(),
    text: z.string(),
    report: renderReport,
  }),
  z
    .strictObject({ skipped: z.strictObject({ type: z.string(), reason: z.string() }), report: renderReport })
    .meta({ description: 'The template called abort_message: this recipient would get nothing.' }),
])

export const lintReport = z.strictObject({
  templateId: z.string(),
  version: z.number().int(),
  problems: z.array(lintProblem),
})

export const lintProblems = z.strictObject({ problems: z.array(lintProblem) })

/** PUT /v1/templates/:id: 201 for a new version, 200 when the input equals the latest. */
export const saveRoute = {
  summary: 'Save a new immutable version of a template (MJML or Liquid problems → 422)',
  params: templateParams,
  body: templateBody,
  response: { 200: saved, 201: saved },
}

/** POST /v1/templates/:id/preview: a failed render is a 422 with its report. */
export const previewRoute = {
  summary: 'Render a template for a userId or an inline profile, optionally with injected faults',
  params: idParams,
  body: previewBody,
  response: { 200: preview, 422: errorBody },
}
