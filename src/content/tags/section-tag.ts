/**
 * A fallback block for a whole section:
 *   {% section "recommendations" %} …personalized… {% fallback %} …generic… {% endsection %}
 * If anything inside the section falls back (a missing trait, a source that timed out) or fails,
 * the generic part is rendered instead and the report records one fallback for the section.
 */
import {
  type Context,
  type Emitter,
  type Liquid,
  type Parser,
  Tag,
  type TagToken,
  type Template,
  type TopLevelToken,
} from 'liquidjs'
import { abortedBy } from '../braze/abort-message-tag.ts'
import { isLimitError } from '../render-limits.ts'
import { needsAsyncRender, renderState } from '../render-state.ts'

export class SectionTag extends Tag {
  readonly label: string
  readonly body: Template[] = []
  readonly fallback: Template[] = []

  constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid, parser: Parser) {
    super(token, remain, liquid)
    this.label = token.args.trim().replace(/^["']|["']$/g, '') || 'section'
    let target = this.body
    while (remain.length > 0) {
      const t = remain.shift()!
      if (t.kind === 4 /* TokenKind.Tag */ && (t as TagToken).name === 'fallback') {
        target = this.fallback
        continue
      }
      if (t.kind === 4 && (t as TagToken).name === 'endsection') return
      target.push(parser.parseToken(t, remain))
    }
    throw new Error(`tag ${token.getText()} not closed: add {% endsection %}`)
  }

  *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
    const r = this.liquid.renderer
    const state = renderState(ctx)
    const before = state?.fallbacks.length ?? 0
    let html: string | undefined
    let reason: 'missing' | 'timeout' | 'error' | 'invalid' | undefined
    try {
      html = (yield r.renderTemplates(this.body, ctx)) as string
    } catch (err) {
      // A render limit is not a section's failure: it stops the whole render. Nor is an
      // abort_message: the template decided this recipient gets no message at all.
      if (isLimitError(err) || abortedBy(err) || needsAsyncRender(err)) throw err
      reason = 'error'
    }
    if (state && reason === undefined && state.fallbacks.length > before)
      reason = state.fallbacks[before]!.reason
    if (reason === undefined) {
      emitter.write(html ?? '')
      return
    }
    if (state) {
      state.fallbacks.splice(before)
      state.fallbacks.push({
        placeholder: `section ${this.label}`,
        reason,
        source: 'fallback-block',
        value: null,
        part: state.part,
      })
    }
    emitter.write(yield r.renderTemplates(this.fallback, ctx))
  }

  // liquidjs's static analysis calls children() as a generator; there is nothing to wait for here.
  // biome-ignore lint/correctness/useYield: the interface is a generator
  *children(): Generator<unknown, Template[], unknown> {
    return [...this.body, ...this.fallback]
  }
}

export const sectionTag = SectionTag
