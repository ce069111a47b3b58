/**
 * liquidjs configured for untrusted template authors (see liquidjs's security model page):
 * HTML-escaped output by default, own-property access only, parse / render-time / memory limits,
 * no file system (partials come from the workspace's blocks, in memory). Every `{{ output }}` is
 * tracked: when its value is missing or unprintable, the render records the fallback and why.
 */
import { type Context, type Emitter, Liquid, Output, Parser, type Template, toValue } from 'liquidjs'
import { AbortMessageTag } from './braze/abort-message-tag.ts'
import { registerBrazeFilters } from './braze/braze-filters.ts'
import { translateBraze } from './braze/braze-syntax.ts'
import type { ConnectedContent } from './connected-content/connected-content.ts'
import { boundArrayFilters } from './render-limits.ts'
import { paceRenders } from './render-pacing.ts'
import { type FallbackReason, isInvalid, isMissing, type RenderState, renderState } from './render-state.ts'
import { connectedContentTag } from './tags/connected-content-tag.ts'
import { CountdownTag, LiveTag } from './tags/live-tag.ts'
import { sectionTag } from './tags/section-tag.ts'

export interface EngineLimits {
  /** Characters of template (with partials) one parse may read. */
  parseLimit: number
  /** Milliseconds one render may take; also enforced as the render deadline. */
  renderLimit: number
  /** liquidjs's cooperative memory accounting, in bytes-ish units. */
  memoryLimit: number
}

export const DEFAULT_LIMITS: EngineLimits = {
  parseLimit: 1_000_000,
  renderLimit: 1_000,
  memoryLimit: 50_000_000,
}

export interface EngineDeps {
  /** Reusable blocks (partials) of the workspace: `{% render 'footer' %}`. */
  blocks: Record<string, string>
  connectedContent: ConnectedContent
  limits?: EngineLimits
}

/** The Liquid instances of one workspace: HTML output is escaped, text output (subject, plain text) is not. */
export interface Engine {
  html: Liquid
  text: Liquid
}

const MAX_RECORDED_VALUE = 200

export function createEngine(deps: EngineDeps): Engine {
  // Blocks may be pasted from Braze too: translated once here, as templates are at each parse.
  const blocks = Object.fromEntries(Object.entries(deps.blocks).map(([k, v]) => [k, translateOrKeep(v)]))
  const make = (escapeHtml: boolean) => {
    const limits = deps.limits ?? DEFAULT_LIMITS
    const liquid = new Liquid({
      templates: blocks,
      ownPropertyOnly: true,
      strictFilters: true,
      // A missing variable is a fallback to record, not an error.
      strictVariables: false,
      ...(escapeHtml ? { outputEscape: 'escape' as const } : {}),
      parseLimit: limits.parseLimit,
      renderLimit: limits.renderLimit,
      memoryLimit: limits.memoryLimit,
      cache: 200,
    })
    liquid.registerTag('connected_content', connectedContentTag(deps.connectedContent))
    liquid.registerTag('section', sectionTag)
    liquid.registerTag('live', LiveTag)
    liquid.registerTag('countdown', CountdownTag)
    liquid.registerTag('abort_message', AbortMessageTag)
    registerBrazeFilters(liquid)
    boundArrayFilters(liquid)
    // Braze's `${name}` attributes become our variable names before liquidjs reads the source.
    const parse = liquid.parse.bind(liquid)
    liquid.parse = (html: string, filepath?: string) => parse(translateBraze(html), filepath)
    trackOutputs(liquid)
    paceRenders(liquid)
    return liquid
  }
  return { html: make(true), text: make(false) }
}

/** The translated source, or the source as written when it cannot be (its parse then reports why). */
export function translateOrKeep(source: string): string {
  try {
    return translateBraze(source)
  } catch {
    return source
  }
}

const tracked = new WeakSet<Liquid>()
let installed = false

/**
 * Wraps every Output the parser creates for a tracked instance (at any depth, partials included)
 * with fallback tracking. liquidjs makes a new Parser per parse, so the hook sits on the prototype,
 * installed once, and leaves untracked Liquid instances alone.
 */
function trackOutputs(liquid: Liquid): void {
  tracked.add(liquid)
  if (installed) return
  installed = true
  const parseToken = Parser.prototype.parseToken
  Parser.prototype.parseToken = function parseTokenTracked(this: Parser, token, remainTokens) {
    const t = parseToken.call(this, token, remainTokens)
    const owner = Reflect.get(this, 'liquid') as Liquid
    if (t instanceof Output && tracked.has(owner)) track(t, owner)
    return t
  }
}

/**
 * How many of the output's filters the author wrote. In the HTML engine liquidjs appends its
 * `escape` filter to every output whose last filter is not `raw`; that one is not the author's,
 * and it must run after the fallback checks, since it turns any object into "[object Object]".
 * The appended filter is never raw, so: with output escaping on, the last filter is the appended
 * one exactly when it is not raw.
 */
function authorFilterCount(output: Output, liquid: Liquid): number {
  const filters = output.value.filters
  const last = filters[filters.length - 1]
  const appended = Boolean(liquid.options.outputEscape) && last !== undefined && !last.raw
  return appended ? filters.length - 1 : filters.length
}

function track(output: Output, liquid: Liquid): void {
  const source = output.token.content.trim()
  const placeholder = source.split('|')[0]!.trim()
  const root = /^[A-Za-z_][\w-]*/.exec(placeholder)?.[0]
  const value = output.value
  const filters = value.filters
  const authored = authorFilterCount(output, liquid)
  const defaultAt = filters.findIndex((f, i) => i < authored && f.name === 'default')
  output.render = function* render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
    const state = renderState(ctx)
    let val: unknown = yield value.initial.evaluate(ctx, defaultAt >= 0)
    if (state) val = fallBackIfNeeded(state, val)
    for (let i = 0; i < authored; i++) {
      if (state && i === defaultAt) {
        const reason = reasonFor(state, val)
        if (reason) {
          // liquidjs's default filter keeps objects; an unprintable value must take the default too.
          const after = yield filters[i]!.render(reason === 'invalid' ? undefined : val, ctx)
          record(state, reason, 'default-filter', after)
          val = after
          continue
        }
      }
      val = yield filters[i]!.render(val, ctx)
    }
    // An object is fine as a filter's input (`profile | property_accessor: k`); what is printed is
    // checked, before the HTML engine's escape filter makes a string of it.
    if (state && defaultAt < 0 && authored > 0 && isInvalid(val)) {
      record(state, 'invalid', 'none', null)
      val = ''
    }
    for (let i = authored; i < filters.length; i++) val = yield filters[i]!.render(val, ctx)
    emitter.write(yield toValue(val))
  } as Template['render']

  function reasonFor(state: RenderState, v: unknown): FallbackReason | undefined {
    if (isMissing(v))
      return (
        (root === undefined ? undefined : state.unavailable.get(root)) ?? state.profileReason ?? 'missing'
      )
    if (isInvalid(v)) return 'invalid'
    return undefined
  }

  /** Before the filters: without a `default` filter, a workspace fallback for the root name applies. */
  function fallBackIfNeeded(state: RenderState, v: unknown): unknown {
    if (defaultAt >= 0) return v
    const reason = reasonFor(state, v)
    // An invalid value may still be a filter's input; the check after the author's filters decides.
    if (!reason || (reason === 'invalid' && authored > 0)) return v
    const fallback = root === undefined || placeholder !== root ? undefined : state.workspaceFallbacks[root]
    if (fallback !== undefined) {
      record(state, reason, 'workspace-fallback', fallback)
      return fallback
    }
    record(state, reason, 'none', null)
    return reason === 'invalid' ? '' : v
  }

  function record(
    state: RenderState,
    reason: FallbackReason,
    from: 'default-filter' | 'workspace-fallback' | 'none',
    v: unknown,
  ) {
    state.fallbacks.push({
      placeholder,
      reason,
      source: from,
      value: v === null || v === undefined ? null : String(v).slice(0, MAX_RECORDED_VALUE),
      part: state.part,
    })
  }
}
