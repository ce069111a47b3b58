/**
 * Admin API for templates and blocks, preview with fault injection, and lint.
 *   PUT  /v1/templates/:id            save a new immutable version (MJML/Liquid problems → 422)
 *   GET  /v1/templates[/:id[/versions]], DELETE /v1/templates/:id
 *   PUT|GET|DELETE /v1/blocks[/:name] reusable partials: {% render 'name' %}
 *   POST /v1/templates/:id/preview    render with a userId or inline profile, and injected faults
 *                                     (`draft`: unsaved content, for the editor's live preview)
 *   GET  /v1/templates/:id/lint, POST /v1/lint
 * The request and response shapes are in template-schemas.ts.
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { notFound } from '../core/errors.ts'
import { adminScope } from '../http/admin-scope.ts'
import { deleteRoute } from '../http/resource-routes.ts'
import { idParams, versionQuery } from '../http/schemas.ts'
import { requestSpan } from '../observe/tracing.ts'
import type { Renderer } from '../render/renderer.ts'
import type { Previews } from '../render-pool/previews.ts'
import type { RenderPool } from '../render-pool/render-pool.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import { templateInvalid } from './compile.ts'
import { type LintContext, lintTemplate } from './lint.ts'
import {
  blockBody,
  blockList,
  blockParams,
  lintProblems,
  lintReport,
  previewRoute,
  saveRoute,
  templateBody,
  templateList,
  templateVersion,
  toTemplateInput,
  versionList,
} from './template-schemas.ts'
import { type TemplateInput, type TemplateStore, versionInput } from './template-store.ts'

export interface TemplateRoutesDeps {
  templates: TemplateStore
  renderer: Renderer
  /** Previews render in the render pool's workers, off the event loop. */
  previews: Previews
  /** Told when a workspace's blocks change (it keeps them per workspace). */
  renders: Pick<RenderPool, 'invalidate'>
  workspaces: WorkspaceStore
  lint: Omit<LintContext, 'engine'>
}

export async function templateRoutes(app: FastifyInstance, deps: TemplateRoutesDeps): Promise<void> {
  const { templates, renderer, renders } = deps
  const blocksChanged = (workspaceId: string) => {
    renderer.invalidate(workspaceId)
    renders.invalidate(workspaceId)
  }
  const lint = async (workspaceId: string, input: TemplateInput) =>
    lintTemplate(input, { ...deps.lint, engine: await renderer.engine(workspaceId) })

  await adminScope(app, deps.workspaces, (admin) => {
    admin.put('/v1/templates/:id', { schema: saveRoute }, async (req, reply) => {
      const workspaceId = req.workspace.id
      const id = req.params.id
      const input = toTemplateInput(req.body)
      const problems = await renderer.validate(workspaceId, input)
      if (problems.length > 0) throw templateInvalid(problems)
      const { version, created } = await templates.saveVersion(workspaceId, id, input)
      const warnings = (await lint(workspaceId, input)).filter((p) => p.level === 'warning')
      return reply
        .status(created ? 201 : 200)
        .send({ templateId: id, version: version.version, created, warnings })
    })

    admin.get(
      '/v1/templates',
      { schema: { summary: 'All templates, with their latest version', response: { 200: templateList } } },
      async (req) => ({ templates: await templates.list(req.workspace.id) }),
    )

    admin.get(
      '/v1/templates/:id',
      {
        schema: {
          summary: 'A version of a template (the latest without `version`)',
          params: idParams,
          querystring: versionQuery,
          response: { 200: templateVersion },
        },
      },
      async (req) => {
        const { version } = req.query
        const v = await templates.getVersion(req.workspace.id, req.params.id, version)
        if (!v)
          throw notFound(`template "${req.params.id}"${version === undefined ? '' : ` version ${version}`}`)
        return v
      },
    )

    admin.get(
      '/v1/templates/:id/versions',
      { schema: { summary: 'The versions of a template', params: idParams, response: { 200: versionList } } },
      async (req) => ({ versions: await templates.versions(req.workspace.id, req.params.id) }),
    )

    deleteRoute(admin, {
      path: '/v1/templates/:id',
      summary: 'Archive a template (its versions stay readable for messages already sent)',
      remove: (ws, id) => templates.archive(ws, id),
      missing: (id) => notFound(`template "${id}"`),
    })

    admin.put(
      '/v1/blocks/:name',
      {
        schema: {
          summary: "Save a reusable block, rendered with {% render 'name' %}",
          params: blockParams,
          body: blockBody,
          response: { 200: blockParams.extend({ saved: z.literal(true) }) },
        },
      },
      async (req) => {
        const workspaceId = req.workspace.id
        const { name } = req.params
        const engine = await renderer.engine(workspaceId)
        try {
          engine.html.parse(req.body.source)
        } catch (err) {
          const message = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)
          throw templateInvalid([{ part: 'body', kind: 'liquid', line: null, message }])
        }
        await templates.putBlock(workspaceId, name, req.body.source)
        blocksChanged(workspaceId)
        return { name, saved: true as const }
      },
    )

    admin.get(
      '/v1/blocks',
      { schema: { summary: 'All blocks', response: { 200: blockList } } },
      async (req) => ({ blocks: await templates.blocks(req.workspace.id) }),
    )

    deleteRoute(admin, {
      path: '/v1/blocks/:name',
      summary: 'Delete a block',
      remove: (ws, name) => templates.deleteBlock(ws, name),
      missing: (name) => notFound(`block "${name}"`),
      removed: blocksChanged,
    })

    admin.post('/v1/templates/:id/preview', { schema: previewRoute }, async (req, reply) => {
      const { draft, ...rest } = req.body
      const result = await deps.previews.render(
        req.workspace.id,
        {
          templateId: req.params.id,
          ...rest,
          ...(draft === undefined ? {} : { draft: toTemplateInput(draft) }),
        },
        requestSpan(req),
      )
      // A template that aborted (abort_message) is a preview that worked: it shows the recipient is skipped.
      if (!result.ok && result.skip) return { skipped: result.skip, report: result.report }
      if (!result.ok)
        return reply.status(422).send({ success: false, ...result.error, report: result.report })
      return result
    })

    admin.get(
      '/v1/templates/:id/lint',
      {
        schema: {
          summary: 'Lint a stored version',
          params: idParams,
          querystring: versionQuery,
          response: { 200: lintReport },
        },
      },
      async (req) => {
        const workspaceId = req.workspace.id
        const v = await templates.getVersion(workspaceId, req.params.id, req.query.version)
        if (!v) throw notFound(`template "${req.params.id}"`)
        return {
          templateId: v.templateId,
          version: v.version,
          problems: await lint(workspaceId, versionInput(v)),
        }
      },
    )

    admin.post(
      '/v1/lint',
      {
        schema: {
          summary: 'Lint a template before saving it',
          body: templateBody,
          response: { 200: lintProblems },
        },
      },
      async (req) => ({ problems: await lint(req.workspace.id, toTemplateInput(req.body)) }),
    )
  })
}
