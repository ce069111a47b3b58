/**
 * renderEmail — pre-send rendering. Returns the content and a report: which placeholders fell
 * back and why, which sources were called with what outcome, how long it took. A render has a
 * deadline (default 500 ms): sources still pending then are abandoned and their placeholders fall
 * back, so the render answers inside the budget. Only a broken template (or one that runs past
 * liquidjs's limits) fails; missing data never does.
 */
import { type Context, toValueSync } from 'liquidjs'
import { abortedBy } from '../content/braze/abort-message-tag.ts'
import { type CompiledTemplate, PREHEADER_MARKER } from '../content/compile.ts'
import { escapeHtml } from '../content/escape-html.ts'
import type { Engine } from '../content/liquid-engine.ts'
import { isLimitError } from '../content/render-limits.ts'
import {
  type FallbackRecord,
  type Faults,
  needsAsyncRender,
  type RenderState,
  type SourceRecord,
} from '../content/render-state.ts'
import { LIVE_LINKS, type LiveLinks } from '../content/tags/live-tag.ts'
import type { JsonObject } from '../core/types.ts'
import { type AmpOutcome, ampPart } from './amp-part.ts'
import { drive } from './drive.ts'
import { startRender } from './render-session.ts'

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
  /**
   * How old the traits were when read: 0 for a read from the store, the cached copy's age for a
   * cached or stale one; undefined when no profile was read (open-time freshness).
   */
  profileAgeMs?: number | undefined
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
  /**
   * Open-time links (a send): live blocks become images on `<base>/o/<token>/<name>.png|.gif`, the
   * message gets an AMP part, `{{ view_url }}` is `<base>/o/<token>/view`. Without it (preview,
   * lint) live blocks render their fallback inline and `view_url` is empty.
   */
  live?: { baseUrl: string; token: string } | undefined
}

export interface RenderReport {
  templateId: string
  version: number
  durationMs: number
  deadlineMs: number
  profile: { outcome: ProfileOutcome; ageMs?: number }
  fallbacks: FallbackRecord[]
  sources: SourceRecord[]
  /** Whether the message got an AMP part, and if not why (only for messages with live blocks and a token). */
  amp?: AmpOutcome | undefined
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
      /** The AMP for Email part (`text/x-amp-html`): only with live blocks and open-time links. */
      amp?: string | undefined
      skip?: undefined
      error?: undefined
      report: RenderReport
    }
  | { ok: false; skip: RenderSkip; error?: undefined; report: RenderReport }
  | { ok: false; skip?: undefined; error: { code: RenderErrorCode; message: string }; report: RenderReport }

/** The text a ledger or job row keeps for a skip: `abort_message: <reason>`. */
export const skipDetail = (skip: RenderSkip): string => `${skip.type}: ${skip.reason}`

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
  const session = startRender(engine, compiled, recipient, opts, started)
  const { state } = session
  let links: LiveLinks | undefined
  if (opts.live && compiled.live.size > 0) {
    // The text part marks where each live block stands, so the AMP part can put its amp-list there.
    links = { ...opts.live, marker: `\u2063${Math.random().toString(36).slice(2)}\u2063`, texts: new Map() }
    session.globals[LIVE_LINKS] = links
  }
  try {
    // Sources all answered from the cache leave nothing to wait for: no turn of the event loop.
    const pending = compiled.sources.length > 0 ? session.prefetch(compiled.sources) : undefined
    if (pending) await pending
    let parts: Parts
    try {
      parts = renderParts(engine, compiled, session.context(true), state, true)
    } catch (err) {
      if (!needsAsyncRender(err)) throw err
      // The synchronous attempt held the event loop for up to a slice: let it turn once before the
      // asynchronous render starts its own (that render's Context, and its clock, start after).
      await new Promise<void>((resolve) => setImmediate(resolve))
      state.fallbacks.length = 0
      state.sources.length = 0
      state.unavailable.clear()
      links?.texts?.clear()
      parts = await renderParts(engine, compiled, session.context(false), state, false)
    }
    if (links) {
      const { text, amp, outcome } = ampPart(parts, compiled, links)
      const r = session.report()
      r.amp = outcome
      return { ok: true, ...parts, text, ...(amp === undefined ? {} : { amp }), report: r }
    }
    return { ok: true, ...parts, report: session.report() }
  } catch (err) {
    const aborted = abortedBy(err)
    if (aborted)
      return { ok: false, skip: { type: 'abort_message', reason: aborted.reason }, report: session.report() }
    return {
      ok: false,
      error: {
        code: isLimitError(err) ? 'INK_ERR_RENDER_LIMIT' : 'INK_ERR_RENDER_FAILED',
        message: (err as Error).message.split('\n')[0] ?? 'render failed',
      },
      report: session.report(),
    }
  }
}

export interface Parts {
  subject: string
  preheader: string
  html: string
  text: string
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
  if (sync)
    return finish(
      renderPartSync(engine, compiled.html, ctx, state, 'html'),
      renderPartSync(engine, compiled.subject, ctx, state, 'subject'),
      renderPartSync(engine, compiled.preheader, ctx, state, 'preheader'),
      renderPartSync(engine, compiled.text, ctx, state, 'text'),
    )
  return (async () => {
    const html = await renderPartAsync(engine, compiled.html, ctx, state, 'html')
    const subject = await renderPartAsync(engine, compiled.subject, ctx, state, 'subject')
    const preheader = await renderPartAsync(engine, compiled.preheader, ctx, state, 'preheader')
    return finish(html, subject, preheader, await renderPartAsync(engine, compiled.text, ctx, state, 'text'))
  })()
}

function renderPartSync(
  engine: Engine,
  templates: CompiledTemplate['html'],
  ctx: Context,
  state: RenderState,
  part: string,
): string {
  state.part = part
  return String(toValueSync(engine.html.renderer.renderTemplates(templates, ctx)))
}

function renderPartAsync(
  engine: Engine,
  templates: CompiledTemplate['html'],
  ctx: Context,
  state: RenderState,
  part: string,
): Promise<string> {
  state.part = part
  return drive(engine.html.renderer.renderTemplates(templates, ctx)).then(String)
}

/** The parts as sent: the subject on one line, the preheader trimmed and put in the HTML's hidden slot. */
function finish(html: string, subject: string, preheader: string, text: string): Parts {
  const trimmed = preheader.trim()
  return {
    subject: subject.replace(/[\r\n]+/g, ' ').trim(),
    preheader: trimmed,
    html: html.replace(PREHEADER_MARKER, escapeHtml(trimmed)),
    text,
  }
}
