/**
 * renderEmail — pre-send rendering. Returns the content and a report: which placeholders fell
 * back and why, which sources were called with what outcome, how long it took. A render has a
 * deadline (default 500 ms): sources still pending then are abandoned and their placeholders fall
 * back, so the render answers inside the budget. Only a broken template (or one that runs past
 * liquidjs's limits) fails; missing data never does.
 */
import { Context, toPromise } from 'liquidjs'
import { type CompiledTemplate, PREHEADER_MARKER } from '../content/compile.ts'
import type { Engine } from '../content/liquid-engine.ts'
import {
  type FallbackReason,
  type FallbackRecord,
  type Faults,
  RENDER_STATE,
  type RenderState,
  type SourceRecord,
} from '../content/render-state.ts'
import type { JsonObject } from '../core/types.ts'

export type ProfileOutcome =
  | 'live'
  | 'cached'
  | 'stale'
  | 'timeout'
  | 'error'
  | 'not-found'
  | 'inline'
  | 'none'

/** The data a message is personalized with. */
export interface RecipientData {
  userId?: string | undefined
  /** Profile traits; undefined when no profile could be read. */
  traits?: JsonObject | undefined
  profileOutcome: ProfileOutcome
  /** The trigger's event (properties etc.), as `event` in templates. */
  event?: JsonObject | undefined
  /** Campaign-level variables, as `campaign` in templates. */
  campaign?: JsonObject | undefined
}

export interface RenderOptions {
  workspaceId: string
  /** Absolute time (epoch ms) by which the render must answer. */
  deadline: number
  /** The budget the deadline was set from, for the report. */
  budgetMs: number
  faults?: Faults | undefined
  workspaceFallbacks?: Readonly<Record<string, unknown>> | undefined
}

export interface RenderReport {
  templateId: string
  version: number
  durationMs: number
  deadlineMs: number
  profile: { outcome: ProfileOutcome }
  fallbacks: FallbackRecord[]
  sources: SourceRecord[]
}

export type RenderResult =
  | { ok: true; subject: string; preheader: string; html: string; text: string; report: RenderReport }
  | { ok: false; error: { code: 'INK_ERR_RENDER_FAILED'; message: string }; report: RenderReport }

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  )

const PROFILE_REASON: Partial<Record<ProfileOutcome, FallbackReason>> = { timeout: 'timeout', error: 'error' }

/** Renders one message from a compiled template. `started` is when the render's clock began (performance.now()). */
export async function renderEmail(
  engine: Engine,
  compiled: CompiledTemplate,
  recipient: RecipientData,
  opts: RenderOptions,
  started = performance.now(),
): Promise<RenderResult> {
  const controller = new AbortController()
  const remaining = Math.max(0, opts.deadline - Date.now())
  const timer = setTimeout(() => controller.abort(), remaining)
  const traits: JsonObject = { ...recipient.traits }
  for (const t of opts.faults?.dropTraits ?? []) delete traits[t]
  const state: RenderState = {
    workspaceId: opts.workspaceId,
    part: 'html',
    deadline: opts.deadline,
    signal: controller.signal,
    fallbacks: [],
    sources: [],
    unavailable: new Map(),
    profileReason: PROFILE_REASON[recipient.profileOutcome],
    workspaceFallbacks: opts.workspaceFallbacks ?? {},
    faults: opts.faults ?? {},
  }
  const scope: JsonObject = {
    ...traits,
    user_id: recipient.userId ?? traits.user_id ?? null,
    profile: traits,
    event: recipient.event ?? {},
    campaign: recipient.campaign ?? {},
  }
  const report = (): RenderReport => ({
    templateId: compiled.templateId,
    version: compiled.version,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    deadlineMs: opts.budgetMs,
    profile: { outcome: recipient.profileOutcome },
    fallbacks: state.fallbacks,
    sources: state.sources,
  })
  // One context for every part, so a source saved while rendering the body is there for the subject too.
  const ctx = new Context(scope, engine.html.options, { globals: { [RENDER_STATE]: state } })
  const render = async (part: string, templates: CompiledTemplate['html']) => {
    state.part = part
    return String(await toPromise(engine.html.renderer.renderTemplates(templates, ctx)))
  }
  try {
    const html = await render('html', compiled.html)
    const subject = (await render('subject', compiled.subject)).replace(/[\r\n]+/g, ' ').trim()
    const preheader = (await render('preheader', compiled.preheader)).trim()
    const text = await render('text', compiled.text)
    return {
      ok: true,
      subject,
      preheader,
      html: html.replace(PREHEADER_MARKER, escapeHtml(preheader)),
      text,
      report: report(),
    }
  } catch (err) {
    return {
      ok: false,
      error: {
        code: 'INK_ERR_RENDER_FAILED',
        message: (err as Error).message.split('\n')[0] ?? 'render failed',
      },
      report: report(),
    }
  } finally {
    clearTimeout(timer)
  }
}
