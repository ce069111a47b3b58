/**
 * Lets a long asynchronous render share the event loop. liquidjs renders every block (the message,
 * each loop iteration, each branch, each partial) through `Renderer.renderTemplates`, one node at a
 * time; wrapped here, an asynchronous render checks its slice before each node and, once the slice
 * is used (RENDER_SLICE_MS), pauses for one event-loop turn. So a loop without any `{{ }}` output
 * (`{% for i in (1..900000) %}{% assign x = i %}{% endfor %}`) pauses too, not only outputs.
 * A synchronous render is left as liquidjs runs it: it stops at its slice instead (render-email.ts).
 */
import type { Context, Emitter, Liquid, Template } from 'liquidjs'
import { type RenderState, renderState, yieldIfSliceUsed } from './render-state.ts'

type Steps = IterableIterator<unknown>

/** Wraps this instance's renderer so an asynchronous render may pause between any two nodes. */
export function paceRenders(liquid: Liquid): void {
  const renderer = liquid.renderer
  const renderTemplates = renderer.renderTemplates.bind(renderer)
  renderer.renderTemplates = (templates: Template[], ctx: Context, emitter?: Emitter): Steps => {
    const steps = renderTemplates(templates, ctx, emitter)
    const state = ctx.sync ? undefined : renderState(ctx)
    return state ? paced(steps, ctx, state) : steps
  }
}

/**
 * liquidjs's renderTemplates yields once per node (the node's render, before that runs): the pause,
 * when due, goes in front of it. Values and errors pass through unchanged in both directions.
 */
function* paced(steps: Steps, ctx: Context, state: RenderState): Generator<unknown, unknown, unknown> {
  let step = steps.next()
  while (!step.done) {
    const pause = yieldIfSliceUsed(ctx, state)
    if (pause) yield pause
    let sent: unknown
    try {
      sent = yield step.value
    } catch (err) {
      if (typeof steps.throw !== 'function') throw err
      step = steps.throw(err)
      continue
    }
    step = steps.next(sent)
  }
  return step.value
}
