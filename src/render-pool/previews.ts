/**
 * POST /v1/templates/:id/preview's render, in the render pool: the same steps as Renderer.render
 * (src/render/renderer.ts) — deadline from the content config, the profile read inside its share of
 * the budget, the render span and metrics, through the same functions (renderer.ts) — with the
 * render itself (compile of a draft, Liquid) in a worker. The stored version and blocks are read here
 * and sent as plain data.
 */
import type { Span } from '@opentelemetry/api'
import type { ContentConfig } from '../content/content-config.ts'
import type { Metrics } from '../observe/metrics.ts'
import type { ProfileReader } from '../profiles/profile-reader.ts'
import type { RenderResult } from '../render/render-email.ts'
import {
  draftVersion,
  inRenderSpan,
  observeRender,
  type RenderRequest,
  recipientOf,
} from '../render/renderer.ts'
import type { RenderPool } from './render-pool.ts'

export interface PreviewsDeps {
  renders: RenderPool
  profiles: Pick<ProfileReader, 'read'>
  content: Pick<ContentConfig, 'render' | 'fallbacks'>
  metrics: Metrics
}

/** A preview's request: a stored version or a draft; no open-time links. */
export type PreviewRequest = Omit<RenderRequest, 'live'>

export class Previews {
  constructor(private readonly deps: PreviewsDeps) {}

  render(workspaceId: string, req: PreviewRequest, parent?: Span): Promise<RenderResult> {
    return inRenderSpan(req.templateId, parent, () => this.#render(workspaceId, req))
  }

  async #render(workspaceId: string, req: PreviewRequest): Promise<RenderResult> {
    const startedAt = performance.timeOrigin + performance.now()
    const deadlineMs = req.deadlineMs ?? this.deps.content.render.deadlineMs
    const deadline = Date.now() + deadlineMs
    const { renders } = this.deps
    const [engine, version] = await Promise.all([
      renders.engine(workspaceId),
      req.draft
        ? draftVersion(workspaceId, req.templateId, req.draft)
        : renders.version(workspaceId, req.templateId, req.version),
    ])
    const recipient = await recipientOf(this.deps.profiles, workspaceId, req, deadlineMs)
    const result = await renders.email({
      engine,
      version,
      recipient,
      deadline,
      budgetMs: deadlineMs,
      faults: req.faults,
      workspaceFallbacks: this.deps.content.fallbacks,
      startedAt,
    })
    observeRender(this.deps.metrics, result)
    return result
  }
}
