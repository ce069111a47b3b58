/**
 * POST /v1/templates/:id/preview's render, in the render pool: the same steps as Renderer.render
 * (src/render/renderer.ts) — deadline from the content config, the profile read inside its share of
 * the budget, the render span and metrics — with the render itself (compile of a draft, Liquid) in a
 * worker. The stored version and blocks are read here and sent as plain data.
 */

import type { Span } from '@opentelemetry/api'
import type { ContentConfig } from '../content/content-config.ts'
import type { TemplateInput, TemplateVersion } from '../content/template-store.ts'
import { countFallback } from '../observe/metric-records.ts'
import type { Metrics } from '../observe/metrics.ts'
import { inSpan, renderAttributes, SPANS } from '../observe/tracing.ts'
import { type ProfileReader, profileAgeOf } from '../profiles/profile-reader.ts'
import type { RecipientData, RenderResult } from '../render/render-email.ts'
import type { RenderRequest } from '../render/renderer.ts'
import type { RenderPool } from './render-pool.ts'

export interface PreviewsDeps {
  renders: RenderPool
  profiles: Pick<ProfileReader, 'read'>
  content: Pick<ContentConfig, 'render' | 'fallbacks'>
  metrics: Metrics
}

/** A preview's request: a stored version or a draft; no open-time links. */
export type PreviewRequest = Omit<RenderRequest, 'live'>

/** Share of the render budget the profile read may use, as Renderer's. */
const PROFILE_BUDGET = 0.4

export class Previews {
  constructor(private readonly deps: PreviewsDeps) {}

  render(workspaceId: string, req: PreviewRequest, parent?: Span): Promise<RenderResult> {
    const attributes = () => ({ 'inkstream.template.id': req.templateId })
    return inSpan(SPANS.render, { parent, attributes }, async (span) => {
      const result = await this.#render(workspaceId, req)
      if (span?.isRecording()) renderAttributes(span, result)
      return result
    })
  }

  async #render(workspaceId: string, req: PreviewRequest, parent?: Span): Promise<RenderResult> {
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
    const recipient = await this.#recipient(workspaceId, req, deadlineMs)
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
    this.#observe(result)
    return result
  }

  async #recipient(workspaceId: string, req: PreviewRequest, deadlineMs: number): Promise<RecipientData> {
    const base = { event: req.event, campaign: req.campaign }
    if (req.profile) return { ...base, userId: req.userId, traits: req.profile, profileOutcome: 'inline' }
    if (req.userId === undefined) return { ...base, profileOutcome: 'none' }
    const read = await this.deps.profiles.read(workspaceId, req.userId, {
      timeoutMs: deadlineMs * PROFILE_BUDGET,
      delayMs: req.faults?.profileDelayMs,
    })
    return {
      ...base,
      userId: read.userId ?? req.userId,
      traits: read.traits,
      profileOutcome: read.outcome,
      profileAgeMs: profileAgeOf(read),
    }
  }

  #observe(result: RenderResult): void {
    const { metrics } = this.deps
    const { report } = result
    metrics.renderDuration.observe(
      { mode: 'pre-send', outcome: result.ok ? 'ok' : result.skip ? 'skipped' : 'failed' },
      report.durationMs / 1000,
    )
    // A placeholder used in several parts (html and text) is one fallback of the message.
    const seen = new Set<string>()
    for (const f of report.fallbacks) {
      const key = `${f.placeholder}\n${f.reason}`
      if (seen.has(key)) continue
      seen.add(key)
      countFallback(metrics, { template: report.templateId, placeholder: f.placeholder, reason: f.reason })
    }
  }
}

/** The editor's unsaved content as version 0 of the template (compiled for one render, not kept). */
function draftVersion(workspaceId: string, templateId: string, draft: TemplateInput): TemplateVersion {
  return {
    workspaceId,
    templateId,
    version: 0,
    name: draft.name ?? templateId,
    subject: draft.subject,
    preheader: draft.preheader ?? '',
    format: draft.format,
    body: draft.body,
    text: draft.text ?? null,
    hash: '',
    createdAt: Date.now(),
  }
}
