/**
 * A fallback block for a whole section:
 *   {% section "recommendations" %} …personalized… {% fallback %} …generic… {% endsection %}
 * If anything inside the section falls back (a missing trait, a source that timed out) or fails,
 * the generic part is rendered instead and the report records one fallback for the section.
 */
import type { Context, Emitter, Liquid, Parser, TagToken, TopLevelToken } from 'liquidjs'
import { BlockTag, type BodyOutcome } from './block-tag.ts'

export class SectionTag extends BlockTag {
  readonly label: string

  constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid, parser: Parser) {
    super(token, remain, liquid, parser)
    this.label = token.args.trim().replace(/^["']|["']$/g, '') || 'section'
  }

  *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
    const outcome = (yield this.tryBody(ctx, `section ${this.label}`)) as BodyOutcome
    emitter.write(outcome.reason === undefined ? outcome.html : yield this.renderFallback(ctx))
  }
}

export const sectionTag = SectionTag
