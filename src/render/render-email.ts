/**
 * renderEmail — pre-send rendering. Returns the content and a report: which placeholders fell
 * back and why, which sources were called with what outcome, how long it took. A render has a
 * deadline (default 500 ms): sources still pending then are abandoned and their placeholders fall
 * back, so the render answers inside the budget. Only a broken template (or one that runs past
 * liquidjs's limits) fails; missing data never does.
 */
import { Context, toValueSync } from 'liquidjs'
import { abortedBy } from '../content/braze/abort-message-tag.ts'
import { type CompiledTemplate, PREHEADER_MARKER } from '../content/compile.ts'
import { escapeHtml } from '../content/escape-html.ts'
import type { Engine } from '../content/liquid-engine.ts'
import { boundAllocations, isLimitError } from '../content/render-limits.ts'
import {
  type FallbackReason,
  type FallbackRecord,
  type Faults,
  NeedsAsyncRender,
  needsAsyncRender,
  RENDER_SLICE_MS,
  RENDER_STATE,
  type RenderState,
  type SourceRecord,
} from '../content/render-state.ts'
import type { JsonObject } from '../core/types.ts'
import { drive } from './drive.ts'

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

/** Why a recipient gets no message although nothing failed: a typed reason, recorded as `skipped`. */
export interface RenderSkip {
  /** The template called `{% abort_message(…) %}`. */
  type: 'abort_message'
  /** The reason written in the template, or "abort_message called". */
  reason: string
}

export type RenderErrorCode = 'INK_ERR_RENDER_FAILED' | 'INK_ERR_RENDER_LIMIT'

export type RenderResult =
  | {
      ok: true
      subject: string
      preheader: string
      html: string
      text: string
      skip?: undefined
      error?: undefined
      report: RenderReport
    }
  | { ok: false; skip: RenderSkip; error?: undefined; report: RenderReport }
  | { ok: false; skip?: undefined; error: { code: RenderErrorCode; message: string }; report: RenderReport }

/** The text a ledger or job row keeps for a skip: `abort_message: <reason>`. */
export const skipDetail = (skip: RenderSkip): string => `${skip.type}: ${skip.reason}`

const PROFILE_REASON: Partial<Record<ProfileOutcome, FallbackReason>> = { timeout: 'timeout', error: 'error' }

/**
 * Renders one message from a compiled template. Connected-content calls start together, before
 * the Liquid runs; the parts then render synchronously (no promise per output), unless a call's URL
 * is only known mid-render, in which case the message renders again asynchronously.
 * `started` is when the render's clock began (performance.now()).
 */
export async function renderEmail(
  engine: Engine,
  compiled: CompiledTemplate,
  recipient: RecipientData,
  opts: RenderOptions,
  started = performance.now(),
): Promise<RenderResult> {
  const hasSources = compiled.sources.length > 0
  let traits: JsonObject = recipient.traits ?? {}
  if (opts.faults?.dropTraits?.length) {
    traits = { ...traits }
    for (const t of opts.faults.dropTraits) delete traits[t]
  }
  const state: RenderState = {
    workspaceId: opts.workspaceId,
    part: 'html',
    deadline: opts.deadline,
    fallbacks: [],
    sources: [],
    unavailable: new Map(),
    profileReason: PROFILE_REASON[recipient.profileOutcome],
    workspaceFallbacks: opts.workspaceFallbacks ?? {},
    faults: opts.faults ?? {},
    prefetched: new Map(),
    waitedMs: 0,
    sliceStartedAt: 0,
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
  const globals = { [RENDER_STATE]: state }
  // liquidjs's render-time limit starts when a Context is made; the Context that renders is made
  // after the sources arrived, so waiting for them is never charged as Liquid's work.
  const context = (sync: boolean) =>
    limitContext(new Context(scope, engine.html.options, { globals, sync }), state)
  try {
    if (hasSources)
      await prefetch(compiled, new Context(scope, engine.html.options, { globals }), scope, state)
    let parts: Parts
    try {
      parts = renderParts(engine, compiled, context(true), state, true)
    } catch (err) {
      if (!needsAsyncRender(err)) throw err
      // The synchronous attempt held the event loop for up to a slice: let it turn once before the
      // asynchronous render starts its own (that render's Context, and its clock, start after).
      await new Promise<void>((resolve) => setImmediate(resolve))
      state.fallbacks.length = 0
      state.sources.length = 0
      state.unavailable.clear()
      parts = await renderParts(engine, compiled, context(false), state, false)
    }
    return { ok: true, ...parts, report: report() }
  } catch (err) {
    const aborted = abortedBy(err)
    if (aborted)
      return { ok: false, skip: { type: 'abort_message', reason: aborted.reason }, report: report() }
    return {
      ok: false,
      error: {
        code: isLimitError(err) ? 'INK_ERR_RENDER_LIMIT' : 'INK_ERR_RENDER_FAILED',
        message: (err as Error).message.split('\n')[0] ?? 'render failed',
      },
      report: report(),
    }
  }
}

/**
 * Bounds one allocation (render-limits.ts), and makes liquidjs's render-time limit skip the time
 * an asynchronous render spent waiting for sources (state.waitedMs): only Liquid's work counts.
 */
function limitContext(ctx: Context, state: RenderState): Context {
  const limiter = ctx.renderLimit
  const check = limiter.check.bind(limiter)
  state.sliceStartedAt = performance.now()
  limiter.check = (now: number) => {
    // A synchronous render that used its slice goes on asynchronously, yielding (RENDER_SLICE_MS).
    if (ctx.sync && now - state.sliceStartedAt > RENDER_SLICE_MS)
      throw new NeedsAsyncRender(`the render took more than ${RENDER_SLICE_MS} ms`)
    check(now - state.waitedMs)
  }
  return boundAllocations(ctx)
}

interface Parts {
  subject: string
  preheader: string
  html: string
  text: string
}

/**
 * Starts every source whose URL comes from the recipient's data, in parallel, and waits for all.
 * A URL built from a variable the template assigns is left to the render, so no call is made with
 * a half-built URL.
 */
async function prefetch(
  compiled: CompiledTemplate,
  ctx: Context,
  scope: JsonObject,
  state: RenderState,
): Promise<void> {
  for (const tag of compiled.sources) {
    if (!tag.roots.every((root) => Object.hasOwn(scope, root))) continue
    let url: string
    try {
      url = tag.url(ctx)
    } catch {
      continue // depends on something only the render defines; the render will call it
    }
    if (state.prefetched.has(url)) continue
    const call = tag.start(url, state)
    state.prefetched.set(url, call)
    void call.then((fetched) => state.prefetched.set(url, fetched))
  }
  await Promise.all([...state.prefetched.values()])
}

/**
 * Renders the parts with one context, so a source saved while rendering the body is there for
 * the subject too. In sync mode it returns the parts; otherwise a promise of them.
 */
function renderParts(
  engine: Engine,
  compiled: CompiledTemplate,
  ctx: Context,
  state: RenderState,
  sync: true,
): Parts
function renderParts(
  engine: Engine,
  compiled: CompiledTemplate,
  ctx: Context,
  state: RenderState,
  sync: false,
): Promise<Parts>
function renderParts(
  engine: Engine,
  compiled: CompiledTemplate,
  ctx: Context,
  state: RenderState,
  sync: boolean,
): Parts | Promise<Parts> {
  const renderer = engine.html.renderer
  const one = (part: string, templates: CompiledTemplate['html']) => {
    state.part = part
    return sync
      ? String(toValueSync(renderer.renderTemplates(templates, ctx)))
      : drive(renderer.renderTemplates(templates, ctx)).then(String)
  }
  const finish = (html: string, subject: string, preheader: string, text: string): Parts => ({
    subject: subject.replace(/[\r\n]+/g, ' ').trim(),
    preheader: preheader.trim(),
    html: html.replace(PREHEADER_MARKER, escapeHtml(preheader.trim())),
    text,
  })
  if (sync) {
    const html = one('html', compiled.html) as string
    const subject = one('subject', compiled.subject) as string
    const preheader = one('preheader', compiled.preheader) as string
    return finish(html, subject, preheader, one('text', compiled.text) as string)
  }
  return (async () => {
    const html = await one('html', compiled.html)
    const subject = await one('subject', compiled.subject)
    const preheader = await one('preheader', compiled.preheader)
    return finish(html, subject, preheader, await one('text', compiled.text))
  })()
}
