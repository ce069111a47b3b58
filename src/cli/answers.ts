/**
 * The shapes the CLI reads from the server's answers, checked with zod rather than cast: a server of
 * another version, a proxy or another service on the port gets a clear INK_ERR_SERVER_UNREACHABLE
 * naming the field, never a TypeError while printing.
 */
import { z } from 'zod'
import { InkError } from '../core/errors.ts'
import type { ApiAnswer } from './server-api.ts'

const report = z.object({
  templateId: z.string(),
  version: z.number(),
  durationMs: z.number(),
  deadlineMs: z.number(),
  profile: z.object({ outcome: z.string() }),
  fallbacks: z.array(
    z.object({
      placeholder: z.string(),
      reason: z.string(),
      source: z.string(),
      value: z.string().nullable(),
    }),
  ),
  sources: z.array(
    z.object({
      name: z.string(),
      outcome: z.string(),
      fromCache: z.boolean(),
      durationMs: z.number(),
      message: z.string().optional(),
    }),
  ),
})

const skip = z.object({ type: z.string(), reason: z.string() })

/** A preview answer as the CLI prints it: rendered, skipped (`abort_message`) or failed. */
export type PreviewResult =
  | { ok: true; subject: string; preheader: string; html: string; text: string; report: PreviewReport }
  | { ok: false; skip: z.infer<typeof skip>; report: PreviewReport }
  | { ok: false; skip?: undefined; error: { code: string; message: string }; report: PreviewReport }
export type PreviewReport = z.infer<typeof report>

const rendered = z.object({
  ok: z.literal(true),
  subject: z.string(),
  preheader: z.string(),
  html: z.string(),
  text: z.string(),
  report,
})
const skipped = z.object({ skipped: skip, report })
const failed = z.object({ code: z.string(), message: z.string(), report })

const lintAnswer = z.object({
  problems: z.array(
    z.object({
      level: z.enum(['error', 'warning']),
      code: z.string(),
      part: z.string(),
      line: z.number().nullable(),
      message: z.string(),
    }),
  ),
})
export type LintAnswerProblem = z.infer<typeof lintAnswer>['problems'][number]

function unexpected(server: string, what: string, error: z.ZodError): InkError {
  const issue = error.issues[0]
  const where = issue === undefined || issue.path.length === 0 ? 'the answer' : `"${issue.path.join('.')}"`
  return new InkError(
    'INK_ERR_SERVER_UNREACHABLE',
    `the server at ${server} answered ${what} with something else (${where}: ${issue?.message ?? 'unexpected shape'}); check that --url or INKSTREAM_URL names an Inkstream server of the same version`,
  )
}

/**
 * The preview answer: 200 rendered or skipped, 422 failed with a report. Undefined for the server's
 * other answers (an error without a report: printed as such); throws for a body of another shape.
 */
export function previewResult(a: ApiAnswer, server: string): PreviewResult | undefined {
  if (a.status === 200) {
    const r = rendered.safeParse(a.body)
    if (r.success) return r.data
    const s = skipped.safeParse(a.body)
    if (s.success) return { ok: false, skip: s.data.skipped, report: s.data.report }
    throw unexpected(server, 'a preview', r.error)
  }
  if (a.status === 422 && 'report' in a.body) {
    const f = failed.safeParse(a.body)
    if (!f.success) throw unexpected(server, 'a preview', f.error)
    return { ok: false, error: { code: f.data.code, message: f.data.message }, report: f.data.report }
  }
  return undefined
}

/** The problems of a 200 lint answer; undefined for other statuses; throws for a body of another shape. */
export function lintProblems(a: ApiAnswer, server: string): LintAnswerProblem[] | undefined {
  if (a.status !== 200) return undefined
  const r = lintAnswer.safeParse(a.body)
  if (!r.success) throw unexpected(server, 'a lint', r.error)
  return r.data.problems
}
