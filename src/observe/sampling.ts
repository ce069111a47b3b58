/**
 * Which traces are recorded: the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, read from
 * the env given to startTracing (not only process.env), and one addition: a new trace started for
 * work that links to the sampled context of an event it handles (a processor batch, a trigger's
 * message) is sampled too, so a sampled request is followed through the log into its batch and its
 * email. Only links to events count (`follow` says which): a message is not sampled because the
 * batch or campaign it was started from was, or every message of a sampled batch would be.
 *
 * Kept apart from tracing.ts: the SDK's sampler classes are passed in (tracing.ts loads the SDK
 * lazily, only when an endpoint is set).
 */
import { type Context, type Link, SpanKind, TraceFlags, trace } from '@opentelemetry/api'
import type { Sampler, SamplingResult } from '@opentelemetry/sdk-trace-base'

/** The sampler classes of @opentelemetry/sdk-trace-base this module builds from. */
export interface SamplerClasses {
  AlwaysOnSampler: new () => Sampler
  AlwaysOffSampler: new () => Sampler
  TraceIdRatioBasedSampler: new (ratio?: number) => Sampler
  ParentBasedSampler: new (config: { root: Sampler }) => Sampler
  SamplingDecision: { RECORD_AND_SAMPLED: SamplingResult['decision'] }
}

/** The OTEL_TRACES_SAMPLER values understood; anything else falls back to the spec's default. */
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const
export type SamplerName = (typeof SAMPLERS)[number]

/** The spec's default sampler. */
export const DEFAULT_SAMPLER: SamplerName = 'parentbased_always_on'

/** OTEL_TRACES_SAMPLER as a known name (the default when unset or unknown). */
export function samplerName(env: NodeJS.ProcessEnv): SamplerName {
  const v = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase()
  return SAMPLERS.includes(v as SamplerName) ? (v as SamplerName) : DEFAULT_SAMPLER
}

/** OTEL_TRACES_SAMPLER_ARG as a ratio in [0, 1]; 1 when unset or out of range (as the SDK does). */
export function samplerRatio(env: NodeJS.ProcessEnv): number {
  const raw = env.OTEL_TRACES_SAMPLER_ARG?.trim()
  const n = raw ? Number(raw) : Number.NaN
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : 1
}

/** The sampler the env names, wrapped so that a new trace with a `follow` link to a sampled context is sampled. */
export function samplerFromEnv(
  env: NodeJS.ProcessEnv,
  sdk: SamplerClasses,
  follow: (link: Link) => boolean = () => true,
): Sampler {
  const name = samplerName(env)
  const kind = name.replace(/^parentbased_/, '')
  const base =
    kind === 'always_on'
      ? new sdk.AlwaysOnSampler()
      : kind === 'always_off'
        ? new sdk.AlwaysOffSampler()
        : new sdk.TraceIdRatioBasedSampler(samplerRatio(env))
  const inner = name.startsWith('parentbased_') ? new sdk.ParentBasedSampler({ root: base }) : base
  // always_off means nothing at all: no link makes a trace sampled.
  if (kind === 'always_off') return inner
  return new FollowLinksSampler(inner, sdk.SamplingDecision.RECORD_AND_SAMPLED, follow)
}

const sampled = (l: Link) => (l.context.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED

/**
 * A root span with a link to a sampled context is sampled, and so is a request's root server span
 * (its share was drawn before the SDK was asked); everything else as `inner` decides.
 */
class FollowLinksSampler implements Sampler {
  /** The one answer this sampler gives of its own (the recorder only reads a result). */
  readonly #sampled: SamplingResult

  constructor(
    private readonly inner: Sampler,
    decision: SamplingResult['decision'],
    private readonly follow: (link: Link) => boolean,
  ) {
    this.#sampled = Object.freeze({ decision })
  }

  shouldSample(
    ctx: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Parameters<Sampler['shouldSample']>[4],
    links: Link[],
  ): SamplingResult {
    // A request's server span without a parent: traceRequests drew against rootShare already and
    // asks the SDK only for the requests it drew (drawing again here would sample ratio² of them).
    if (kind === SpanKind.SERVER && trace.getSpanContext(ctx) === undefined) return this.#sampled
    if (
      links.length > 0 &&
      trace.getSpanContext(ctx) === undefined &&
      links.some((l) => sampled(l) && this.follow(l))
    )
      return this.#sampled
    return this.inner.shouldSample(ctx, traceId, name, kind, attributes, links)
  }

  toString(): string {
    return `FollowLinks{${this.inner.toString()}}`
  }
}

/**
 * The share of new traces the env's sampler records, for a request that carries no trace context:
 * 1 for always_on, 0 for always_off, the ratio for traceidratio (all three with or without
 * `parentbased_`, which decides only when there is a parent). traceRequests draws against it before
 * asking the SDK, so a request that will not be sampled costs no SDK call, id or span object.
 */
export function rootShare(env: NodeJS.ProcessEnv): number {
  const kind = samplerName(env).replace(/^parentbased_/, '')
  return kind === 'always_on' ? 1 : kind === 'always_off' ? 0 : samplerRatio(env)
}
