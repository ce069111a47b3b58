/**
 * The rendering service: keeps one Liquid engine per workspace (rebuilt when its blocks change)
 * and compiled template versions (MJML compiled once per version), reads the recipient's profile
 * inside the render's budget, and renders. Reports and metrics come out of every render.
 */

import {
  type CompiledTemplate,
  compileTemplate,
  type TemplateProblem,
  validateTemplate,
} from '../content/compile.ts'
import type { ConnectedContent } from '../content/connected-content/connected-content.ts'
import type { ContentConfig } from '../content/content-config.ts'
import { createEngine, type Engine, type EngineLimits } from '../content/liquid-engine.ts'
import type { Faults } from '../content/render-state.ts'
import type { TemplateInput, TemplateStore, TemplateVersion } from '../content/template-store.ts'
import { notFound } from '../core/errors.ts'
import type { JsonObject } from '../core/types.ts'
import { countFallbacks } from '../observe/metric-records.ts'
import type { Metrics } from '../observe/metrics.ts'
import { inSpan, renderAttributes, SPANS, type Span } from '../observe/tracing.ts'
import { type ProfileReader, profileAgeOf } from '../profiles/profile-reader.ts'
import { type RecipientData, type RenderResult, renderEmail } from './render-email.ts'

export interface RendererDeps {
  templates: TemplateStore
  profiles: ProfileReader
  connectedContent: ConnectedContent
  content: ContentConfig
  metrics: Metrics
  limits?: EngineLimits
}

export interface RenderRequest {
  templateId: string
  version?: number | undefined
  /** Unsaved content to render instead of a stored version (a preview of the editor's draft), as version 0. */
  draft?: TemplateInput | undefined
  /** A userId or anonymousId whose live profile personalizes the message… */
  userId?: string | undefined
  /** …or an inline profile (preview), used as is. */
  profile?: JsonObject | undefined
  event?: JsonObject | undefined
  campaign?: JsonObject | undefined
  faults?: Faults | undefined
  deadlineMs?: number | undefined
  /**
   * A send: open-time links. `sign` is called once, only when the compiled version has live blocks
   * or `{{ view_url }}`, with the template id and version the message is rendered from, and returns
   * the signed open-time token (delivery/deliver.ts). Without it live blocks render their fallback.
   */
  live?: OpenTimeSigner | undefined
}

export interface OpenTimeSigner {
  baseUrl: string
  sign(rendered: { templateId: string; version: number }): string
}

/** Share of the render budget the profile read may use; the rest is for sources and Liquid. */
const PROFILE_BUDGET = 0.4
const MAX_COMPILED = 500

export class Renderer {
  readonly #engines = new Map<string, Promise<Engine>>()
  readonly #compiled = new Map<string, Promise<CompiledTemplate>>()

  constructor(private readonly deps: RendererDeps) {}

  engine(workspaceId: string): Promise<Engine> {
    let e = this.#engines.get(workspaceId)
    if (!e) {
      e = this.deps.templates.blocks(workspaceId).then((blocks) =>
        createEngine({
          blocks,
          connectedContent: this.deps.connectedContent,
          ...(this.deps.limits ? { limits: this.deps.limits } : {}),
        }),
      )
      e.catch(() => this.#engines.delete(workspaceId))
      this.#engines.set(workspaceId, e)
    }
    return e
  }

  /** Blocks changed: templates of the workspace are recompiled on next use. */
  invalidate(workspaceId: string): void {
    this.#engines.delete(workspaceId)
    for (const key of this.#compiled.keys())
      if (key.startsWith(`${workspaceId}\n`)) this.#compiled.delete(key)
  }

  async validate(workspaceId: string, input: TemplateInput): Promise<TemplateProblem[]> {
    return validateTemplate(input, await this.engine(workspaceId))
  }

  /** A stored version (latest when `version` is undefined). */
  templateVersion(workspaceId: string, templateId: string, version?: number) {
    return this.deps.templates.getVersion(workspaceId, templateId, version)
  }

  /** The compiled version (latest when `version` is undefined); compiled once and kept. */
  async compiled(workspaceId: string, templateId: string, version?: number): Promise<CompiledTemplate> {
    const v = await this.deps.templates.getVersion(workspaceId, templateId, version)
    if (!v)
      throw notFound(
        version === undefined ? `template "${templateId}"` : `version ${version} of template "${templateId}"`,
      )
    const key = `${workspaceId}\n${templateId}\n${v.version}`
    let c = this.#compiled.get(key)
    if (!c) {
      c = this.engine(workspaceId).then((engine) => compileTemplate(v, engine))
      c.catch(() => this.#compiled.delete(key))
      this.#compiled.set(key, c)
      if (this.#compiled.size > MAX_COMPILED)
        this.#compiled.delete(this.#compiled.keys().next().value as string)
    }
    return c
  }

  /** A draft compiled for one render and not kept: it changes with every keystroke of the editor. */
  async #compileDraft(
    workspaceId: string,
    templateId: string,
    draft: TemplateInput,
  ): Promise<CompiledTemplate> {
    return compileTemplate(draftVersion(workspaceId, templateId, draft), await this.engine(workspaceId))
  }

  /** `parent`: the span the render belongs to (deliver's, a request's); none, no render span. */
  render(workspaceId: string, req: RenderRequest, parent?: Span): Promise<RenderResult> {
    return inRenderSpan(req.templateId, parent, () => this.#render(workspaceId, req))
  }

  async #render(workspaceId: string, req: RenderRequest): Promise<RenderResult> {
    const started = performance.now()
    const deadlineMs = req.deadlineMs ?? this.deps.content.render.deadlineMs
    const deadline = Date.now() + deadlineMs
    const [engine, compiled] = await Promise.all([
      this.engine(workspaceId),
      req.draft
        ? this.#compileDraft(workspaceId, req.templateId, req.draft)
        : this.compiled(workspaceId, req.templateId, req.version),
    ])
    const recipient = await recipientOf(this.deps.profiles, workspaceId, req, deadlineMs)
    const result = await renderEmail(
      engine,
      compiled,
      recipient,
      {
        workspaceId,
        deadline,
        budgetMs: deadlineMs,
        faults: req.faults,
        workspaceFallbacks: this.deps.content.fallbacks,
        live:
          req.live && compiled.openTime
            ? {
                baseUrl: req.live.baseUrl,
                token: req.live.sign({ templateId: compiled.templateId, version: compiled.version }),
              }
            : undefined,
      },
      started,
    )
    observeRender(this.deps.metrics, result)
    return result
  }
}

/**
 * A render inside its span (`parent`: the span the render belongs to, deliver's or a request's;
 * none, no span). Shared by Renderer and the render pool's previews.
 */
export function inRenderSpan(
  templateId: string,
  parent: Span | undefined,
  render: () => Promise<RenderResult>,
): Promise<RenderResult> {
  const attributes = () => ({ 'inkstream.template.id': templateId })
  return inSpan(SPANS.render, { parent, attributes }, async (span) => {
    const result = await render()
    if (span?.isRecording()) renderAttributes(span, result)
    return result
  })
}

/** The recipient of a render: an inline profile, none, or the stored one read within its share of the budget. */
export async function recipientOf(
  profiles: Pick<ProfileReader, 'read'>,
  workspaceId: string,
  req: Pick<RenderRequest, 'event' | 'campaign' | 'profile' | 'userId' | 'faults'>,
  deadlineMs: number,
): Promise<RecipientData> {
  const base = { event: req.event, campaign: req.campaign }
  if (req.profile) return { ...base, userId: req.userId, traits: req.profile, profileOutcome: 'inline' }
  if (req.userId === undefined) return { ...base, profileOutcome: 'none' }
  const read = await profiles.read(workspaceId, req.userId, {
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

/** A pre-send render's duration and its fallbacks, in the metrics. */
export function observeRender(metrics: Metrics, result: RenderResult): void {
  const { report } = result
  metrics.renderDuration.observe(
    { mode: 'pre-send', outcome: result.ok ? 'ok' : result.skip ? 'skipped' : 'failed' },
    report.durationMs / 1000,
  )
  countFallbacks(metrics, report.templateId, report.fallbacks)
}

/** The editor's unsaved content as version 0 of the template (compiled for one render, not kept). */
export function draftVersion(workspaceId: string, templateId: string, draft: TemplateInput): TemplateVersion {
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
