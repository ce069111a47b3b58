/**
 * What every render of a compiled template sets up the same way, pre-send (renderEmail) and at open
 * time (renderBlock): the render state (fallbacks, sources, deadline), the scope the Liquid reads
 * (traits, `profile`, `event`, `campaign`, `view_url`), the report, liquidjs contexts whose
 * render-time limit counts only Liquid's work, and the parallel prefetch of connected content.
 */
import { Context } from 'liquidjs'
import type { CompiledTemplate } from '../content/compile.ts'
import type { Engine } from '../content/liquid-engine.ts'
import { BoundedMemory, Limiter } from '../content/render-limits.ts'
import {
  type FallbackReason,
  type Fetched,
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
  /**
   * Starts the calls of `sources` whose URL the recipient's data gives, in parallel; the promise
   * settles when all have. undefined when none had to wait: every one was answered from the cache
   * at once (or none could start), so the render can go on without a turn of the event loop.
   */
  prefetch(sources: readonly ConnectedContentTag[]): Promise<void> | undefined
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
  return new Session(engine, compiled, recipient, opts, started, state, scope)
}

/** One render's session: methods on a class, so a render makes no closures of its own. */
class Session implements RenderSession {
  readonly globals: Record<symbol, unknown>

  constructor(
    readonly engine: Engine,
    readonly compiled: CompiledTemplate,
    readonly recipient: RecipientData,
    readonly opts: RenderOptions,
    readonly started: number,
    readonly state: RenderState,
    readonly scope: JsonObject,
  ) {
    this.globals = { [RENDER_STATE]: state }
  }

  report(): RenderReport {
    const { recipient, state } = this
    return {
      templateId: this.compiled.templateId,
      version: this.compiled.version,
      durationMs: Math.round((performance.now() - this.started) * 10) / 10,
      deadlineMs: this.opts.budgetMs,
      profile: {
        outcome: recipient.profileOutcome,
        ...(recipient.profileAgeMs === undefined ? {} : { ageMs: recipient.profileAgeMs }),
      },
      fallbacks: state.fallbacks,
      sources: state.sources,
    }
  }

  // liquidjs's render-time limit starts when a Context is made; the Context that renders is made
  // after the sources arrived, so waiting for them is never charged as Liquid's work.
  context(sync: boolean): Context {
    const options = this.engine.html.options
    const { state } = this
    state.sliceStartedAt = performance.now()
    return new Context(
      this.scope,
      options,
      { globals: this.globals, sync },
      {
        memoryLimit: new BoundedMemory(options.memoryLimit),
        renderLimit: new LiquidWorkLimit(options.renderLimit, sync, state),
      },
    )
  }

  prefetch(sources: readonly ConnectedContentTag[]): Promise<void> | undefined {
    const ctx = new Context(this.scope, this.engine.html.options, { globals: this.globals })
    return prefetch(sources, ctx, this.scope, this.state)
  }
}

/**
 * liquidjs's render-time limit, counting only Liquid's work: the time an asynchronous render spent
 * waiting for sources (state.waitedMs) is left out. A synchronous render that used its slice goes
 * on asynchronously, yielding (RENDER_SLICE_MS).
 */
class LiquidWorkLimit extends Limiter {
  constructor(
    limitMs: number,
    readonly sync: boolean,
    readonly state: RenderState,
  ) {
    super('template render', performance.now() + limitMs)
  }

  override check(now: number): void {
    const { state } = this
    if (this.sync && now - state.sliceStartedAt > RENDER_SLICE_MS)
      throw new NeedsAsyncRender(`the render took more than ${RENDER_SLICE_MS} ms`)
    super.check(now - state.waitedMs)
  }
}

/**
 * Starts every source whose URL comes from the recipient's data, in parallel; a fresh cached
 * response is taken at once. A URL built from a variable the template assigns is left to the
 * render, so no call is made with a half-built URL.
 */
function prefetch(
  sources: readonly ConnectedContentTag[],
  ctx: Context,
  scope: JsonObject,
  state: RenderState,
): Promise<void> | undefined {
  let pending: Promise<Fetched>[] | undefined
  for (const tag of sources) {
    if (!tag.roots.every((root) => Object.hasOwn(scope, root))) continue
    let url: string
    try {
      url = tag.url(ctx)
    } catch {
      continue // depends on something only the render defines; the render will call it
    }
    if (state.prefetched.has(url)) continue
    const cached = tag.startSync(url, state)
    if (cached !== undefined) {
      state.prefetched.set(url, cached)
      continue
    }
    const call = tag.start(url, state)
    state.prefetched.set(url, call)
    void call.then((fetched) => state.prefetched.set(url, fetched))
    pending ??= []
    pending.push(call)
  }
  return pending && Promise.all(pending).then(() => undefined)
}
