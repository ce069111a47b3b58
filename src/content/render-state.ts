/**
 * What one render learns as it goes: which placeholders fell back and why, which sources were
 * called, and the deadline. Lives in the liquidjs context's globals under a symbol key, so
 * templates cannot read or print it.
 */
import type { Context } from 'liquidjs'
import type { ConnectedContentOutcome, FailureReason } from './connected-content/connected-content.ts'
import { findInChain } from './error-chain.ts'

/** A connected-content call's outcome and how long it took from its start. */
export interface Fetched {
  outcome: ConnectedContentOutcome
  durationMs: number
}

/**
 * Thrown during a synchronous render when it must go on asynchronously: a tag needs I/O that was
 * not started beforehand, or the render has held the event loop for a whole slice (RENDER_SLICE_MS).
 */
export class NeedsAsyncRender extends Error {
  constructor(readonly why: string) {
    super(why)
    this.name = 'NeedsAsyncRender'
  }
}

/**
 * Milliseconds of Liquid a render may run without letting the event loop serve anything else. A
 * synchronous render that takes longer starts again asynchronously, yielding to the event loop
 * every slice, so /healthz and other requests are answered while a long template renders.
 */
export const RENDER_SLICE_MS = 50

/** The error chain (liquidjs wraps what tags throw; see error-chain.ts) holds a NeedsAsyncRender. */
export const needsAsyncRender = (err: unknown): boolean =>
  findInChain(err, (e) => e instanceof NeedsAsyncRender) !== undefined

export type FallbackReason = 'missing' | 'timeout' | 'error' | 'invalid'

export interface FallbackRecord {
  /** The placeholder as written (`first_name`, `recs.title`) or `section <name>` for a fallback block. */
  placeholder: string
  reason: FallbackReason
  /** Where the value came from instead: the `default` filter, the workspace fallbacks, a fallback block, or nothing. */
  source: 'default-filter' | 'workspace-fallback' | 'fallback-block' | 'none'
  /** The value rendered instead (truncated); null when nothing was rendered. */
  value: string | null
  /** Which part of the message (subject, preheader, html, text). */
  part: string
}

export interface SourceRecord {
  /** The `:save` name of the call, or its host. */
  name: string
  url: string
  outcome: 'success' | 'stale' | FailureReason
  fromCache: boolean
  /**
   * How old the data was when the render read it (success and stale only): 0 for a response this
   * render's call fetched, the cached copy's age otherwise (open-time freshness).
   */
  ageMs?: number
  durationMs: number
  message?: string
}

/** Faults a preview can inject to show the degraded email before sending. */
export interface Faults {
  /** Source name (`:save` name or host) → delay before the call, in ms. */
  delaySources?: Record<string, number> | undefined
  /** Source names whose calls fail. */
  failSources?: string[] | undefined
  /** Trait names removed from the profile. */
  dropTraits?: string[] | undefined
  /** Delay of the profile read, in ms. */
  profileDelayMs?: number | undefined
}

export interface RenderState {
  workspaceId: string
  part: string
  /** Epoch ms. Every source call's timeout is capped by what is left of it. */
  deadline: number
  fallbacks: FallbackRecord[]
  sources: SourceRecord[]
  /** Variables whose data did not arrive, with why (a failed source's `:save` name; traits when the profile was late). */
  unavailable: Map<string, FallbackReason>
  /** Reason for any trait that is missing because the profile itself was not read in time. */
  profileReason: FallbackReason | undefined
  workspaceFallbacks: Readonly<Record<string, unknown>>
  faults: Faults
  /** Calls started before the render, by URL: settled ones as values, pending ones as promises. */
  prefetched: Map<string, Fetched | Promise<Fetched>>
  /**
   * Milliseconds the render spent waiting for sources mid-render (an asynchronous re-render): not
   * Liquid's work, so not charged against liquidjs's render-time limit.
   */
  waitedMs: number
  /** performance.now() when the render last started or yielded to the event loop. */
  sliceStartedAt: number
}

export const RENDER_STATE = Symbol('inkstream.renderState')

/**
 * In an asynchronous render, once a slice is used up: a promise that resolves on the event loop's
 * next turn (other requests run meanwhile; the wait is not charged as Liquid work). Otherwise
 * undefined, and the render goes on.
 */
export function yieldIfSliceUsed(ctx: Context, state: RenderState): Promise<void> | undefined {
  if (ctx.sync || performance.now() - state.sliceStartedAt < RENDER_SLICE_MS) return undefined
  const from = performance.now()
  return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
    const now = performance.now()
    state.waitedMs += now - from
    state.sliceStartedAt = now
  })
}

export function renderState(ctx: Context): RenderState | undefined {
  const globals = ctx.globals as Record<symbol, unknown> | undefined
  return globals?.[RENDER_STATE] as RenderState | undefined
}

/** True for values that make a placeholder fall back as `missing`. */
export function isMissing(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    v === false ||
    (typeof v === 'string' && v.trim() === '') ||
    (Array.isArray(v) && v.length === 0)
  )
}

/** True for values that cannot be printed meaningfully (an object, NaN). */
export function isInvalid(v: unknown): boolean {
  return (
    (typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      typeof (v as { toString?: unknown }).toString === 'function' &&
      String(v) === '[object Object]') ||
    (typeof v === 'number' && !Number.isFinite(v))
  )
}
