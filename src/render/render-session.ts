/**
 * What every render of a compiled template sets up the same way, pre-send (renderEmail) and at open
 * time (renderBlock): the render state (fallbacks, sources, deadline), the scope the Liquid reads
 * (traits, `profile`, `event`, `campaign`, `view_url`), the report, liquidjs contexts whose
 * render-time limit counts only Liquid's work, and the parallel prefetch of connected content.
 */
import { Context } from 'liquidjs'
import type { CompiledTemplate } from '../content/compile.ts'
import type { Engine } from '../content/liquid-engine.ts'
import { boundAllocations } from '../content/render-limits.ts'
import {
  type FallbackReason,
  NeedsAsyncRender,
  RENDER_SLICE_MS,
  RENDER_STATE,
  type RenderState,
} from '../content/render-state.ts'
import type { ConnectedContentTag } from '../content/tags/connected-content-tag.ts'
import { openTimeUrl } from '../content/tags/live-tag.ts'
import type { JsonObject } from '../core/types.ts'
import type { ProfileOutcome, RecipientData, RenderOptions, RenderReport } from './render-email.ts'

export interface RenderSession {
  state: RenderState
  scope: JsonObject
  /** The context's globals: the render state (and open-time links) under symbol keys. */
  globals: Record<symbol, unknown>
  report(): RenderReport
  /** A context for the render proper; liquidjs's render-time clock starts when it is made. */
  context(sync: boolean): Context
  /** Starts the calls of `sources` whose URL the recipient's data gives, in parallel; waits for all. */
  prefetch(sources: readonly ConnectedContentTag[]): Promise<void>
}

const PROFILE_REASON: Partial<Record<ProfileOutcome, FallbackReason>> = { timeout: 'timeout', error: 'error' }

export function startRender(
  engine: Engine,
  compiled: CompiledTemplate,
  recipient: RecipientData,
  opts: RenderOptions,
  started: number,
): RenderSession {
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
    view_url: opts.live ? openTimeUrl(opts.live, 'view') : '',
  }
  const globals: Record<symbol, unknown> = { [RENDER_STATE]: state }
  return {
    state,
    scope,
    globals,
    report: () => ({
      templateId: compiled.templateId,
      version: compiled.version,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      deadlineMs: opts.budgetMs,
      profile: {
        outcome: recipient.profileOutcome,
        ...(recipient.profileAgeMs === undefined ? {} : { ageMs: recipient.profileAgeMs }),
      },
      fallbacks: state.fallbacks,
      sources: state.sources,
    }),
    // liquidjs's render-time limit starts when a Context is made; the Context that renders is made
    // after the sources arrived, so waiting for them is never charged as Liquid's work.
    context: (sync) => limitContext(new Context(scope, engine.html.options, { globals, sync }), state),
    prefetch: (sources) =>
      prefetch(sources, new Context(scope, engine.html.options, { globals }), scope, state),
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

/**
 * Starts every source whose URL comes from the recipient's data, in parallel, and waits for all.
 * A URL built from a variable the template assigns is left to the render, so no call is made with
 * a half-built URL.
 */
async function prefetch(
  sources: readonly ConnectedContentTag[],
  ctx: Context,
  scope: JsonObject,
  state: RenderState,
): Promise<void> {
  for (const tag of sources) {
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
