/**
 * The shape every fallback-carrying block tag shares: `{% name … %} body {% fallback %} generic
 * {% endname %}` (`section`, `live`, `countdown`). Parses the body and the fallback, and decides,
 * the way `{% section %}` always has, when the body must give way to the fallback: a placeholder
 * inside it fell back (missing trait, late or failed source) or it failed to render.
 */
import type * as L from 'liquidjs'
import { Tag } from 'liquidjs'
import { abortedBy } from '../braze/abort-message-tag.ts'
import { isLimitError } from '../render-limits.ts'
import { type FallbackReason, needsAsyncRender, type RenderState, renderState } from '../render-state.ts'

const TAG_TOKEN = 4 // liquidjs TokenKind.Tag

/** The body's HTML, or why it has to be replaced by the fallback. */
export type BodyOutcome = { html: string; reason?: undefined } | { html?: undefined; reason: FallbackReason }

export abstract class BlockTag extends Tag {
  readonly body: L.Template[] = []
  readonly fallback: L.Template[] = []
  /** `{% fallback %}` was written (live blocks require it; a section may leave it out). */
  readonly hasFallback: boolean = false

  constructor(token: L.TagToken, remain: L.TopLevelToken[], liquid: L.Liquid, parser: L.Parser) {
    super(token, remain, liquid)
    const end = `end${token.name}`
    let target = this.body
    while (remain.length > 0) {
      const t = remain.shift()!
      if (t.kind === TAG_TOKEN && (t as L.TagToken).name === 'fallback') {
        if (this.hasFallback) throw new Error(`{% ${token.name} %} has two {% fallback %} tags: keep one`)
        this.hasFallback = true
        target = this.fallback
        continue
      }
      if (t.kind === TAG_TOKEN && (t as L.TagToken).name === end) return
      target.push(parser.parseToken(t, remain))
    }
    throw new Error(`tag ${token.getText()} not closed: add {% ${end} %}`)
  }

  /**
   * Renders the body. A fallback or failure inside it is reported as the reason; the body's own
   * fallback records are then replaced by one record for the block (`placeholder`).
   */
  protected *tryBody(ctx: L.Context, placeholder: string): Generator<unknown, BodyOutcome, unknown> {
    const state = renderState(ctx)
    const before = state?.fallbacks.length ?? 0
    let html: string | undefined
    let reason: FallbackReason | undefined
    try {
      html = String(yield this.liquid.renderer.renderTemplates(this.body, ctx))
    } catch (err) {
      // A render limit is not a block's failure: it stops the whole render. Nor is an
      // abort_message: the template decided this recipient gets no message at all.
      if (isLimitError(err) || abortedBy(err) || needsAsyncRender(err)) throw err
      reason = 'error'
    }
    if (state && reason === undefined && state.fallbacks.length > before)
      reason = state.fallbacks[before]!.reason
    if (reason === undefined) return { html: html ?? '' }
    if (state) {
      state.fallbacks.splice(before)
      recordBlockFallback(state, placeholder, reason)
    }
    return { reason }
  }

  /** The fallback part, rendered with the same data. */
  protected *renderFallback(ctx: L.Context): Generator<unknown, string, unknown> {
    return String(yield this.liquid.renderer.renderTemplates(this.fallback, ctx))
  }

  // liquidjs's static analysis calls children() as a generator; there is nothing to wait for here.
  // biome-ignore lint/correctness/useYield: the interface is a generator
  *children(): Generator<unknown, L.Template[], unknown> {
    return [...this.body, ...this.fallback]
  }
}

/** One report record saying a whole block was replaced by its fallback, and why. */
export function recordBlockFallback(state: RenderState, placeholder: string, reason: FallbackReason): void {
  state.fallbacks.push({ placeholder, reason, source: 'fallback-block', value: null, part: state.part })
}
