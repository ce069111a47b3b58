/**
 * Admin API for templates and blocks, preview with fault injection, and lint.
 *   PUT  /v1/templates/:id            save a new immutable version (MJML/Liquid problems → 422)
 *   GET  /v1/templates[/:id[/versions]], DELETE /v1/templates/:id
 *   PUT|GET|DELETE /v1/blocks[/:name] reusable partials: {% render 'name' %}
 *   POST /v1/templates/:id/preview    render with a userId or inline profile, and injected faults
 *   GET  /v1/templates/:id/lint, POST /v1/lint
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { InkError, notFound } from '../core/errors.ts'
import { adminWorkspace } from '../http/admin-auth.ts'
import { refuseNulCharacters } from '../http/admin-body.ts'
import type { Renderer } from '../render/renderer.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import { templateInvalid } from './compile.ts'
import { type LintContext, lintTemplate } from './lint.ts'
import { type TemplateInput, type TemplateStore, versionInput } from './template-store.ts'

export interface TemplateRoutesDeps {
  templates: TemplateStore
  renderer: Renderer
  workspaces: WorkspaceStore
  lint: Omit<LintContext, 'engine'>
}

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, "_" and "-", at most 64')
const templateBody = z
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

const previewBody = z
  .object({
    version: z.number().int().min(1).optional(),
    userId: z.string().min(1).optional(),
    profile: z.record(z.string(), z.unknown()).optional(),
    event: z.record(z.string(), z.unknown()).optional(),
    campaign: z.record(z.string(), z.unknown()).optional(),
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

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {})
  if (r.success) return r.data
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
  throw new InkError('INK_ERR_BAD_REQUEST', `invalid request: ${issues.join('; ')}`, { details: { issues } })
}

function parseId(value: string, what: string): string {
  const r = slug.safeParse(value)
  if (!r.success)
    throw new InkError('INK_ERR_BAD_REQUEST', `${what} "${value}": ${r.error.issues[0]?.message}`)
  return r.data
}

export const toTemplateInput = (b: z.output<typeof templateBody>): TemplateInput => ({
  name: b.name,
  subject: b.subject,
  preheader: b.preheader,
  format: b.mjml !== undefined ? 'mjml' : 'html',
  body: b.mjml ?? b.html ?? '',
  text: b.text,
})

export async function templateRoutes(app: FastifyInstance, deps: TemplateRoutesDeps): Promise<void> {
  refuseNulCharacters(app)
  const { templates, renderer, workspaces } = deps
  const ws = (req: FastifyRequest) => adminWorkspace(req, workspaces).id
  type IdParams = { Params: { id: string } }

  const lint = async (workspaceId: string, input: TemplateInput) =>
    lintTemplate(input, { ...deps.lint, engine: await renderer.engine(workspaceId) })

  app.put<IdParams>('/v1/templates/:id', async (req, reply) => {
    const workspaceId = ws(req)
    const id = parseId(req.params.id, 'template id')
    const input = toTemplateInput(parseBody(templateBody, req.body))
    const problems = await renderer.validate(workspaceId, input)
    if (problems.length > 0) throw templateInvalid(problems)
    const { version, created } = await templates.saveVersion(workspaceId, id, input)
    const warnings = (await lint(workspaceId, input)).filter((p) => p.level === 'warning')
    return reply
      .status(created ? 201 : 200)
      .send({ templateId: id, version: version.version, created, warnings })
  })

  app.get('/v1/templates', async (req) => ({ templates: await templates.list(ws(req)) }))

  app.get<IdParams & { Querystring: { version?: string } }>('/v1/templates/:id', async (req) => {
    const version = req.query.version === undefined ? undefined : Number(req.query.version)
    const v = await templates.getVersion(ws(req), req.params.id, version)
    if (!v) throw notFound(`template "${req.params.id}"${version === undefined ? '' : ` version ${version}`}`)
    return v
  })

  app.get<IdParams>('/v1/templates/:id/versions', async (req) => ({
    versions: await templates.versions(ws(req), req.params.id),
  }))

  app.delete<IdParams>('/v1/templates/:id', async (req, reply) => {
    if (!(await templates.archive(ws(req), req.params.id))) throw notFound(`template "${req.params.id}"`)
    return reply.status(204).send()
  })

  app.put<{ Params: { name: string } }>('/v1/blocks/:name', async (req) => {
    const workspaceId = ws(req)
    const name = parseId(req.params.name, 'block name')
    const { source } = parseBody(z.object({ source: z.string().max(200_000) }).strict(), req.body)
    const engine = await renderer.engine(workspaceId)
    try {
      engine.html.parse(source)
    } catch (err) {
      throw templateInvalid([
        { part: 'body', kind: 'liquid', line: null, message: (err as Error).message.split('\n')[0] ?? '' },
      ])
    }
    await templates.putBlock(workspaceId, name, source)
    renderer.invalidate(workspaceId)
    return { name, saved: true }
  })

  app.get('/v1/blocks', async (req) => ({ blocks: await templates.blocks(ws(req)) }))

  app.delete<{ Params: { name: string } }>('/v1/blocks/:name', async (req, reply) => {
    const workspaceId = ws(req)
    if (!(await templates.deleteBlock(workspaceId, req.params.name)))
      throw notFound(`block "${req.params.name}"`)
    renderer.invalidate(workspaceId)
    return reply.status(204).send()
  })

  app.post<IdParams>('/v1/templates/:id/preview', async (req, reply) => {
    const workspaceId = ws(req)
    const body = parseBody(previewBody, req.body)
    const result = await renderer.render(workspaceId, { templateId: req.params.id, ...body })
    // A template that aborted (abort_message) is a preview that worked: it shows the recipient is skipped.
    if (!result.ok && result.skip) return { skipped: result.skip, report: result.report }
    if (!result.ok) return reply.status(422).send({ success: false, ...result.error, report: result.report })
    return result
  })

  app.get<IdParams & { Querystring: { version?: string } }>('/v1/templates/:id/lint', async (req) => {
    const workspaceId = ws(req)
    const version = req.query.version === undefined ? undefined : Number(req.query.version)
    const v = await templates.getVersion(workspaceId, req.params.id, version)
    if (!v) throw notFound(`template "${req.params.id}"`)
    return {
      templateId: v.templateId,
      version: v.version,
      problems: await lint(workspaceId, versionInput(v)),
    }
  })

  app.post('/v1/lint', async (req) => ({
    problems: await lint(ws(req), toTemplateInput(parseBody(templateBody, req.body))),
  }))
}
