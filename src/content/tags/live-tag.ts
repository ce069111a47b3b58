/**
 * Live blocks: content rendered when the email is opened, not when it is sent (issue 11).
 *
 *   {% live "hero" width: 600, height: 240 [, cache: "public"] [, alt: "…"] %} body
 *   {% fallback %} generic {% endlive %}
 *   {% countdown "sale" until: campaign.ends_at, width: 480, height: 96 %}{% fallback %}…{% endcountdown %}
 *
 * At send time the tag writes, in the HTML part, an `<img>` of the block's size on the signed
 * open-time URL (`<base>/o/<token>/<name>.png|.gif`), and in the text part the fallback's text.
 * Without open-time links (preview, lint, a test send with no token) it renders its fallback
 * inline. The body itself renders at open time only (render/render-block.ts).
 */
import type { Context, Emitter, Liquid, Parser, TagToken, TopLevelToken, ValueToken } from 'liquidjs'
import { evalQuotedToken, evalTokenValue, TypeGuards } from 'liquidjs'
import { escapeHtml } from '../escape-html.ts'
import { renderState } from '../render-state.ts'
import { BlockTag, type BodyOutcome, recordBlockFallback } from './block-tag.ts'

export interface LiveBlockDef {
  name: string
  kind: 'image' | 'countdown'
  width: number
  height: number
  cache: 'private' | 'public'
  alt?: string
}

export const LIVE_NAME = /^[a-z0-9_-]{1,64}$/
export const MAX_LIVE_SIZE = 2000

/**
 * What a send-time render knows about open time, in the liquidjs context's globals under a symbol
 * key (templates cannot read it). `marker` set: the text part marks where each block stands, so
 * the AMP part can put its amp-list there (see render-email.ts); `texts` collects the fallbacks' text.
 */
export interface LiveLinks {
  baseUrl: string
  token: string
  marker?: string | undefined
  texts?: Map<string, string> | undefined
}

export const LIVE_LINKS = Symbol('inkstream.liveLinks')

export function liveLinks(ctx: Context): LiveLinks | undefined {
  const globals = ctx.globals as Record<symbol, unknown> | undefined
  return globals?.[LIVE_LINKS] as LiveLinks | undefined
}

/** `<base>/o/<token>/<rest>`: every open-time URL. */
export const openTimeUrl = (links: Pick<LiveLinks, 'baseUrl' | 'token'>, rest: string): string =>
  `${links.baseUrl.replace(/\/+$/, '')}/o/${links.token}/${rest}`

/** The image URL of a block: `.gif` for a countdown, `.png` otherwise. */
export const blockImageUrl = (links: Pick<LiveLinks, 'baseUrl' | 'token'>, def: LiveBlockDef): string =>
  openTimeUrl(links, `${def.name}.${def.kind === 'countdown' ? 'gif' : 'png'}`)

/** Plain text of rendered HTML: tags dropped, entities of escapeHtml undone, whitespace folded. */
export function plainText(html: string): string {
  return html
    .replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<br\s*\/?>|<\/(p|div|h[1-6]|li|tr)>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;|&#34;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+/g, ' ')
    .replace(/ ?\n[\s]*/g, '\n')
    .trim()
}

type Hashes = Map<string, ValueToken | undefined>

export abstract class LiveBlockTag extends BlockTag {
  readonly def: LiveBlockDef

  constructor(
    token: TagToken,
    remain: TopLevelToken[],
    liquid: Liquid,
    parser: Parser,
    kind: LiveBlockDef['kind'],
    allowed: readonly string[],
  ) {
    super(token, remain, liquid, parser)
    const tag = token.name
    const tk = token.tokenizer
    tk.skipBlank()
    const nameToken = tk.readValue()
    if (!TypeGuards.isQuotedToken(nameToken))
      throw new Error(`{% ${tag} %} needs a quoted name first: {% ${tag} "hero" width: 600, height: 200 %}`)
    const name = evalQuotedToken(nameToken)
    if (!LIVE_NAME.test(name))
      throw new Error(
        `${tag} block name "${name}" is not valid: use 1-64 characters of a-z, 0-9, "_" and "-"`,
      )
    const hashes: Hashes = new Map()
    for (const h of tk.readHashes()) {
      const key = h.name.content
      if (!allowed.includes(key))
        throw new Error(`${tag} "${name}" does not know the option ${key}: (use ${allowed.join(', ')})`)
      if (hashes.has(key)) throw new Error(`${tag} "${name}" gives ${key}: twice`)
      hashes.set(key, h.value)
    }
    tk.skipBlank()
    if (!tk.end())
      throw new Error(
        `${tag} "${name}": cannot read "${tk.input.slice(tk.p).trim()}"; write options as key: value`,
      )
    const def: LiveBlockDef = {
      name,
      kind,
      width: size(hashes, 'width', tag, name),
      height: size(hashes, 'height', tag, name),
      cache: 'private',
    }
    const cache = quoted(hashes, 'cache', tag, name)
    if (cache !== undefined) {
      if (cache !== 'public' && cache !== 'private')
        throw new Error(`${tag} "${name}": cache must be "public" or "private", not "${cache}"`)
      def.cache = cache
    }
    const alt = quoted(hashes, 'alt', tag, name)
    if (alt !== undefined) def.alt = alt
    if (!this.hasFallback)
      throw new Error(
        `${tag} "${name}" has no {% fallback %}: add one, it is shown when the block cannot render`,
      )
    this.def = def
    this.hashes = hashes
  }

  protected readonly hashes: Hashes;

  /** Send time: the `<img>` (with open-time links), the fallback (without), the fallback's text (text part). */
  *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
    const links = liveLinks(ctx)
    const fallback = (yield this.renderFallback(ctx)) as string
    const html = Boolean(this.liquid.options.outputEscape)
    if (!html) {
      const text = fallback.trim()
      const inTextPart = renderState(ctx)?.part === 'text'
      if (links?.marker !== undefined && links.texts && inTextPart) {
        links.texts.set(this.def.name, text)
        emitter.write(`${links.marker}${this.def.name}${links.marker}`)
      } else emitter.write(text)
      return
    }
    if (!links) {
      emitter.write(fallback)
      return
    }
    const { width, height } = this.def
    const alt = this.def.alt ?? plainText(fallback)
    emitter.write(
      `<img src="${escapeHtml(blockImageUrl(links, this.def))}" width="${width}" height="${height}" alt="${escapeHtml(alt)}" style="display:block;border:0">`,
    )
  }

  *arguments() {
    for (const v of this.hashes.values()) if (v !== undefined) yield v
  }

  /**
   * Open time: the body, or the fallback when the body cannot render (see BlockTag.tryBody). A
   * render limit or abort_message inside the body still throws: the caller falls back for those.
   */
  *renderOpenTime(ctx: Context): Generator<unknown, OpenTimeRender, unknown> {
    const placeholder = `${this.name} ${this.def.name}`
    const outcome = (yield this.tryBody(ctx, placeholder)) as BodyOutcome
    if (outcome.reason === undefined) return { fellBack: false, html: outcome.html }
    return { fellBack: true, html: (yield this.renderFallback(ctx)) as string }
  }
}

export interface OpenTimeRender {
  fellBack: boolean
  /** The body's HTML, or the fallback's. */
  html: string
  /** countdown: the target instant (epoch ms). */
  untilMs?: number
}

function size(hashes: Hashes, key: 'width' | 'height', tag: string, name: string): number {
  const v = hashes.get(key)
  const example = `${tag} "${name}" width: 600, height: 200`
  if (v === undefined)
    throw new Error(`${tag} "${name}" needs ${key}: in pixels (1-${MAX_LIVE_SIZE}), e.g. {% ${example} %}`)
  const n = TypeGuards.isNumberToken(v) ? Number(v.content) : Number.NaN
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIVE_SIZE)
    throw new Error(
      `${tag} "${name}": ${key} must be a whole number of pixels from 1 to ${MAX_LIVE_SIZE}, not ${v.getText()}`,
    )
  return n
}

function quoted(hashes: Hashes, key: string, tag: string, name: string): string | undefined {
  if (!hashes.has(key)) return undefined
  const v = hashes.get(key)
  if (!TypeGuards.isQuotedToken(v))
    throw new Error(`${tag} "${name}": ${key} must be a quoted string, e.g. ${key}: "…"`)
  return evalQuotedToken(v)
}

/** `{% live "name" width: W, height: H [, cache: "public"] [, alt: "…"] %}…{% fallback %}…{% endlive %}` */
export class LiveTag extends LiveBlockTag {
  constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid, parser: Parser) {
    super(token, remain, liquid, parser, 'image', ['width', 'height', 'cache', 'alt'])
  }
}

/** `{% countdown "name" until: <expr>, width: W, height: H %}{% fallback %}…{% endcountdown %}` */
export class CountdownTag extends LiveBlockTag {
  readonly until: ValueToken

  constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid, parser: Parser) {
    super(token, remain, liquid, parser, 'countdown', ['until', 'width', 'height', 'cache', 'alt'])
    const until = this.hashes.get('until')
    if (until === undefined)
      throw new Error(
        `countdown "${this.def.name}" needs until: (an ISO-8601 date-time or epoch ms), e.g. until: campaign.ends_at`,
      )
    this.until = until
  }

  /** The target instant, epoch ms; undefined when `until` is missing or not a date-time. */
  *untilMs(ctx: Context): Generator<unknown, number | undefined, unknown> {
    return parseInstant(yield evalTokenValue(this.until, ctx, true))
  }

  /** A countdown has no body to lay out: the instant, or the fallback when `until` is not one. */
  override *renderOpenTime(ctx: Context): Generator<unknown, OpenTimeRender, unknown> {
    const raw: unknown = yield evalTokenValue(this.until, ctx, true)
    const untilMs = parseInstant(raw)
    const html = (yield this.renderFallback(ctx)) as string
    if (untilMs !== undefined) return { fellBack: false, html, untilMs }
    const state = renderState(ctx)
    const missing = raw === undefined || raw === null || raw === ''
    if (state) recordBlockFallback(state, `countdown ${this.def.name}`, missing ? 'missing' : 'invalid')
    return { fellBack: true, html }
  }
}

/** An epoch-ms number (or numeric string), or an ISO-8601 date-time with a date part; else undefined. */
export function parseInstant(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.getTime()
  if (typeof v !== 'string') return undefined
  const s = v.trim()
  if (/^-?\d{1,16}$/.test(s)) return Number(s)
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) return undefined
  const ms = Date.parse(s)
  return Number.isNaN(ms) ? undefined : ms
}

export const isLiveTag = (node: unknown): node is LiveBlockTag => node instanceof LiveBlockTag
