/**
 * A fallback block for a whole section:
 *   {% section "recommendations" %} …personalized… {% fallback %} …generic… {% endsection %}
 * If anything inside the section falls back (a missing trait, a source that timed out) or fails,
 * the generic part is rendered instead and the report records one fallback for the section.
 */
import type * as L from 'liquidjs'
import { BlockTag, type BodyOutcome } from './block-tag.ts'

export class SectionTag extends BlockTag {
  readonly label: string

  constructor(token: L.TagToken, remain: L.TopLevelToken[], liquid: L.Liquid, parser: L.Parser) {
    super(token, remain, liquid, parser)
    this.label = token.args.trim().replace(/^["']|["']$/g, '') || 'section'
  }

  *render(ctx: L.Context, emitter: L.Emitter): Generator<unknown, void, unknown> {
    const outcome = (yield this.tryBody(ctx, `section ${this.label}`)) as BodyOutcome
    emitter.write(outcome.reason === undefined ? outcome.html : yield this.renderFallback(ctx))
  }
}

export const sectionTag = SectionTag
