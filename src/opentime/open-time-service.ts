/**
 * Open-time serving (issue 11): what `GET /o/<token>/<block>.png|.gif|.json` and `/o/<token>/view`
 * answer. The signed token is the only key: it names the workspace, recipient, campaign, message,
 * template and version; the path adds only a block name. Everything here answers within
 * `openTime.deadlineMs`: data not ready falls back (renderBlock), an image not rasterised in time is
 * answered by the block's fallback image (and finishes into the cache for the next open).
 *
 * A refused token (tampered, expired, unknown key, another kind) renders nothing and records
 * nothing; images still get a 1×1 transparent image (the declared size is unknown without a valid
 * token) with the 4xx status, so an inbox never shows a broken-image icon for long.
 */
import type { ContentConfig } from '../content/content-config.ts'
import type { TemplateVersion } from '../content/template-store.ts'
import { type ErrorCode, isInkError } from '../core/errors.ts'
import type { Clock, JsonObject } from '../core/types.ts'
import type { TokenCodec, TokenPayload } from '../delivery/tokens.ts'
import { countFallbacks, countOpen, distinctFallbacks } from '../observe/metric-records.ts'
import type { Metrics } from '../observe/metrics.ts'
import { type ProfileReader, profileAgeOf } from '../profiles/profile-reader.ts'
import { dataAgeOf } from '../render/data-age.ts'
import type { BlockRender } from '../render/render-block.ts'
import type { RecipientData, RenderReport } from '../render/render-email.ts'
import type { RenderPool } from '../render-pool/render-pool.ts'
import type { EngineSpec } from '../render-pool/render-tasks.ts'
import { AMP_VARY, ampCors } from './amp-cors.ts'
import type { BlockCache } from './block-cache.ts'
import type { BlockImageFetch } from './block-image-fetch.ts'
import { DrawGate } from './draw-gate.ts'
import { cacheControl, notModified, strongEtag, weakEtag } from './edge-cache.ts'
import type { OpenSurface } from './open-event.ts'
import { fallbackCount, type Served, single, withTimeout } from './open-helpers.ts'
import { OpenImageAnswers } from './open-image.ts'
import { type OpenHooks, OpenRecorder } from './open-recorder.ts'
import { type OpenRequest, type OpenResponse, parseOpenPath, refusal } from './open-responses.ts'
import { type OpenImages, openImages } from './rasterize.ts'

export type { OpenRequest, OpenResponse } from './open-responses.ts'

export interface OpenTimeDeps {
  codec: TokenCodec
  /**
   * The template versions and blocks, and the renders themselves: in the pool's worker threads, off
   * the event loop (src/render-pool/render-pool.ts).
   */
  renders: Pick<RenderPool, 'engine' | 'version' | 'email' | 'block'>
  profiles: Pick<ProfileReader, 'read'>
  /** Campaign-level variables (`campaign.*` in templates) of a campaign id; undefined if none. */
  campaignVars?: (workspaceId: string, campaignId: string) => Promise<JsonObject | undefined>
  blockCache: BlockCache
  content: () => Pick<ContentConfig, 'openTime' | 'fallbacks'>
  /** The public base URL (INKSTREAM_PUBLIC_URL or the bound address): the JSON's image URLs. */
  publicUrl: () => string
  log: { append(events: readonly import('../core/types.ts').InkEvent[]): Promise<void> }
  openHooks?: OpenHooks | undefined
  metrics: Metrics
  clock: Clock
  onError?: (err: unknown, what: string) => void
  /** Opens of one token inside a window this long are one open (default 10 s, as the pixel). */
  dedupeWindowMs?: number
  /** Fetches remote `<img>` of live blocks (block-image-fetch.ts); without it they are drawn empty. */
  imageFetch?: Pick<BlockImageFetch, 'forDeadline'> | undefined
  /** Admission for drawings (default: one at a time, half the event loop: draw-gate.ts). */
  drawGate?: DrawGate | undefined
  /** The image functions (src/opentime/images.ts); replaceable in tests. */
  images?: OpenImages
}

/** Drawings at once: the CPU-bound part runs on the event loop anyway; more only queues them there. */
const MAX_DRAWINGS = 1
/** Share of the deadline the profile read may use (as Renderer), and the render before rasterising. */
const PROFILE_SHARE = 0.4
const RENDER_SHARE: Record<OpenSurface, number> = { png: 0.6, gif: 0.8, json: 0.9, view: 0.9 }
interface Verified {
  token: string
  payload: TokenPayload & { templateId: string; version: number }
}

export class OpenTimeService {
  readonly #images: OpenImages
  readonly #recorder: OpenRecorder
  readonly #image: OpenImageAnswers

  constructor(private readonly deps: OpenTimeDeps) {
    this.#images = deps.images ?? openImages
    this.#image = new OpenImageAnswers({
      blockCache: deps.blockCache,
      images: this.#images,
      gate: deps.drawGate ?? new DrawGate({ max: MAX_DRAWINGS }),
      clock: deps.clock,
      ttlSeconds: () => deps.content().openTime.cacheTtlSeconds,
      imageFetch: deps.imageFetch,
      onError: deps.onError,
    })
    this.#recorder = new OpenRecorder({
      log: deps.log,
      openHooks: deps.openHooks,
      windowMs: deps.dedupeWindowMs ?? 10_000,
      onError: deps.onError ?? (() => {}),
      onRecorded: (o) => countOpen(deps.metrics, o.campaignId, o.userAgent),
    })
  }

  /** Resolves once the events and hooks started so far have settled (tests, shutdown). */
  settled(): Promise<void> {
    return this.#recorder.settled()
  }

  async handle(req: OpenRequest): Promise<OpenResponse> {
    const startedAt = this.deps.clock.now()
    const started = performance.now()
    // The budget counts from the request's arrival: loading the template is part of it.
    const arrived = Date.now()
    const parsed = parseOpenPath(req.path)
    if (!parsed.ok) return refusal(parsed.surface, 404, 'INK_ERR_NOT_FOUND', parsed.message)
    const { surface, name } = parsed
    const v = this.#verify(parsed.token)
    if (!v.ok) return refusal(surface, v.status, v.code, v.message)

    let cors: Record<string, string> = {}
    if (surface === 'json') {
      const decision = ampCors(req.headers, req.query, this.deps.content().openTime.ampSenders)
      if (!decision.ok)
        return refusal(
          'json',
          403,
          'INK_ERR_FORBIDDEN',
          `AMP for Email CORS (${decision.version}): ${decision.reason}`,
          {
            vary: AMP_VARY,
          },
        )
      cors = { ...decision.headers, vary: AMP_VARY }
    }

    const { workspaceId, templateId, version } = v.payload
    let engine: EngineSpec
    let template: TemplateVersion
    try {
      ;[engine, template] = await Promise.all([
        this.deps.renders.engine(workspaceId),
        this.deps.renders.version(workspaceId, templateId, version),
      ])
    } catch (err) {
      // The token's workspace has no such template version: another workspace's token, or a deleted one.
      if (isInkError(err) && err.code === 'INK_ERR_NOT_FOUND')
        return refusal(surface, 404, 'INK_ERR_NOT_FOUND', `this message's template is not available`)
      throw err
    }

    const opts = this.deps.content()
    const budgetMs = opts.openTime.deadlineMs
    const deadline = arrived + budgetMs
    const ctx: RenderContext = {
      v,
      engine,
      template,
      budgetMs,
      deadline,
      started: performance.timeOrigin + started,
      startedAt,
      req,
      cors,
    }
    let res: Served
    if (surface === 'view') res = await this.#view(ctx)
    else {
      // The block's definition comes back with its render: the template is compiled in the worker.
      const rendered = await this.#renderBlock(ctx, name, surface)
      const def = rendered?.def
      const wanted = def === undefined ? undefined : def.kind === 'countdown' ? 'gif' : 'png'
      if (rendered === undefined || (surface !== 'json' && surface !== wanted))
        return refusal(
          surface,
          404,
          'INK_ERR_NOT_FOUND',
          `this message has no ${surface === 'json' ? '' : `${surface} `}block "${name}"`,
        )
      res =
        surface === 'json'
          ? this.#json(ctx, name, rendered)
          : await this.#image.answer({
              workspaceId,
              r: rendered,
              deadline: ctx.deadline,
              ifNoneMatch: single(req.headers['if-none-match']),
            })
      res.dataAgeMs = dataAgeOf(rendered.report)
    }

    this.deps.metrics.renderDuration.observe(
      { mode: `open-time-${surface}`, outcome: res.fallbacks > 0 ? 'fallback' : 'ok' },
      (performance.now() - started) / 1000,
    )
    // The fallbacks by template, placeholder and reason, as pre-send renders count theirs (a 304
    // counts too: the recipient sees the content those fallbacks made).
    if (res.taken) countFallbacks(this.deps.metrics, v.payload.templateId, res.taken)
    if (req.method === 'GET')
      this.#recorder.record({
        workspaceId,
        campaignId: v.payload.campaignId,
        recipient: v.payload.recipient,
        messageId: v.payload.messageId,
        token: v.token,
        now: startedAt,
        userAgent: single(req.headers['user-agent']),
        surface,
        block: surface === 'view' ? null : name,
        fallbacks: res.fallbacks,
        // Freshness is of what was shown: an answer that fell back (data late or missing, or the
        // drawing late) showed no data, whatever it read.
        dataAgeMs: res.fallbacks > 0 ? null : (res.dataAgeMs ?? null),
      })
    return res.response
  }

  #verify(
    token: string,
  ):
    | { ok: true; token: string; payload: Verified['payload'] }
    | { ok: false; status: number; code: ErrorCode; message: string } {
    const r = this.deps.codec.verify(token)
    if (!r.ok)
      return r.reason === 'expired'
        ? { ok: false, status: 410, code: 'INK_ERR_TOKEN_EXPIRED', message: 'this link has expired' }
        : { ok: false, status: 400, code: 'INK_ERR_TOKEN_INVALID', message: `token refused (${r.reason})` }
    const p = r.payload
    if (p.kind !== 'open-time' || p.templateId === undefined || p.version === undefined)
      return { ok: false, status: 400, code: 'INK_ERR_TOKEN_INVALID', message: 'not an open-time token' }
    return { ok: true, token, payload: { ...p, templateId: p.templateId, version: p.version } }
  }

  /** The recipient's data, read inside the profile's share of the budget; never throws. */
  async #recipient(ctx: RenderContext): Promise<RecipientData> {
    const { workspaceId, recipient, campaignId } = ctx.v.payload
    const timeoutMs = Math.max(1, Math.floor(ctx.budgetMs * PROFILE_SHARE))
    const vars = this.deps.campaignVars
      ? withTimeout(this.deps.campaignVars(workspaceId, campaignId), timeoutMs).catch(() => undefined)
      : Promise.resolve(undefined)
    const [read, campaign] = await Promise.all([
      this.deps.profiles
        .read(workspaceId, recipient, { timeoutMs })
        .catch(() => ({ outcome: 'error' as const })),
      vars,
    ])
    return {
      userId: ('userId' in read ? read.userId : undefined) ?? recipient,
      traits: 'traits' in read ? read.traits : undefined,
      profileOutcome: read.outcome,
      profileAgeMs: profileAgeOf(read),
      campaign: { ...(campaign === 'timeout' ? {} : (campaign ?? {})), id: campaignId },
    }
  }

  async #renderBlock(
    ctx: RenderContext,
    name: string,
    surface: OpenSurface,
  ): Promise<BlockRender | undefined> {
    const recipient = await this.#recipient(ctx)
    const opts = this.deps.content()
    return this.deps.renders.block({
      engine: ctx.engine,
      version: ctx.template,
      name,
      recipient,
      deadline: ctx.deadline - ctx.budgetMs * (1 - RENDER_SHARE[surface]),
      budgetMs: ctx.budgetMs,
      workspaceFallbacks: opts.fallbacks,
      startedAt: ctx.started,
    })
  }

  /** The AMP list's data: one item per block (the shape live-tags' amp-list template reads). */
  #json(ctx: RenderContext, name: string, r: BlockRender): Served {
    const { def } = r
    const base = this.deps.publicUrl().replace(/\/+$/, '')
    const ext = def.kind === 'countdown' ? 'gif' : 'png'
    const fallbacks = fallbackCount(r)
    const items = [
      {
        text: r.text,
        image: `${base}/o/${ctx.v.token}/${name}.${ext}`,
        width: def.width,
        height: def.height,
        fallback: r.fellBack,
      },
    ]
    const report = reportOf(r.report, r.fellBack)
    const body = JSON.stringify({ items, report })
    // The version is the content: the items and which fallbacks made them, not whether the profile
    // came live or from the cache (a revalidation right after a processed event must still get 304).
    const etag = weakEtag(JSON.stringify([items, report.fallbacks]))
    const served = this.#page(
      ctx,
      body,
      'application/json; charset=utf-8',
      def.cache,
      fallbacks,
      r.report.profile.outcome,
      etag,
    )
    served.taken = r.report.fallbacks
    return served
  }

  /** The whole message rendered now, as HTML: the "view in browser" page. */
  async #view(ctx: RenderContext): Promise<Served> {
    const recipient = await this.#recipient(ctx)
    const opts = this.deps.content()
    const result = await this.deps.renders.email({
      engine: ctx.engine,
      version: ctx.template,
      recipient,
      deadline: ctx.deadline - ctx.budgetMs * (1 - RENDER_SHARE.view),
      budgetMs: ctx.budgetMs,
      workspaceFallbacks: opts.fallbacks,
      // Live blocks in the view are the same live images as in the message.
      live: { baseUrl: this.deps.publicUrl().replace(/\/+$/, ''), token: ctx.v.token },
      startedAt: ctx.started,
    })
    if (!result.ok) {
      const [status, code, message]: [number, ErrorCode, string] = result.skip
        ? [404, 'INK_ERR_NOT_FOUND', 'this message has no web version for you']
        : [422, result.error.code, result.error.message]
      return { fallbacks: 0, response: refusal('view', status, code, message) }
    }
    const fallbacks = distinctFallbacks(result.report.fallbacks).length
    const served = this.#page(
      ctx,
      result.html,
      'text/html; charset=utf-8',
      'private',
      fallbacks,
      result.report.profile.outcome,
    )
    Object.assign(served.response.headers, VIEW_HEADERS)
    served.dataAgeMs = dataAgeOf(result.report)
    served.taken = result.report.fallbacks
    return served
  }

  /** A text answer (JSON, HTML) with its ETag, 304 and Cache-Control. */
  #page(
    ctx: RenderContext,
    body: string,
    type: string,
    scope: 'private' | 'public',
    fallbacks: number,
    profile: string,
    etag = strongEtag(body),
  ): Served {
    const headers: Record<string, string> = {
      ...ctx.cors,
      etag,
      'cache-control': cacheControl({ ttlSeconds: this.deps.content().openTime.cacheTtlSeconds, scope }),
      'x-ink-profile': profile,
      'x-ink-fallbacks': String(fallbacks),
    }
    if (notModified(single(ctx.req.headers['if-none-match']), etag))
      return { fallbacks, response: { status: 304, headers } }
    return { fallbacks, response: { status: 200, headers: { ...headers, 'content-type': type }, body } }
  }
}

interface RenderContext {
  v: Verified
  engine: EngineSpec
  template: TemplateVersion
  budgetMs: number
  /** Absolute (Date.now()) time by which the answer must be ready. */
  deadline: number
  /** When the request arrived, as performance.timeOrigin + performance.now() (one clock across threads). */
  started: number
  startedAt: number
  req: OpenRequest
  cors: Record<string, string>
}

/** The web view carries the token in its URL: it must not leak onward, run scripts, or be framed. */
const VIEW_HEADERS = {
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
  'content-security-policy': "script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
} as const

/** What the JSON says about its render: deterministic (no durations), so equal data means equal bytes and ETag. */
function reportOf(report: RenderReport, fellBack: boolean): JsonObject {
  return {
    profile: report.profile.outcome,
    fellBack,
    fallbacks: report.fallbacks.map((f) => ({ placeholder: f.placeholder, reason: f.reason })),
    sources: report.sources.map((s) => ({ name: s.name, outcome: s.outcome })),
  }
}
