/**
 * Link wrapping, the open pixel and the unsubscribe headers for one recipient's message.
 *
 * The HTML is read with parse5's tokenizer (the WHATWG tokenization algorithm, as browsers do) only
 * to find where things are: the output is the input with just the tracked `href` attributes replaced
 * and the pixel inserted, byte for byte otherwise, because email clients are fragile about markup
 * they did not expect. Links inside comments (including Outlook's `<!--[if mso]>` blocks) or inside
 * raw-text elements (`<style>`, `<script>`, `<title>`, `<textarea>`…) are not links to a browser and
 * stay untouched.
 *
 * Only the tokenizer, not the tree builder: a tree is not needed to see start tags where they are
 * written, and building one (with source locations) cost ≈ 2.5× as much per message. What the tree
 * builder would tell the tokenizer — "the next bytes are raw text", "we are in SVG/MathML, CDATA is
 * allowed" — is told here in `onStartTag`/`onEndTag`, as parse5's own SAX parser does.
 */
import { type Token, Tokenizer, TokenizerMode } from 'parse5'
import { normalizeEmail } from './suppression-store.ts'
import type { TokenCodec, TokenPayload } from './tokens.ts'

export interface TrackingOptions {
  /** Public origin (and optional path) of the tracking routes, e.g. https://t.example.com. */
  baseUrl: string
  codec: TokenCodec
  /** How long the click and open tokens verify. */
  ttlMs: number
  workspaceId: string
  campaignId: string
  /** The recipient's userId. */
  recipient: string
  messageId: string
}

export interface TrackedMessage {
  html: string
  /** The wrapped URLs, in document order, as the redirect will send them (WHATWG-serialised). */
  links: string[]
}

/** Marks a link that must keep its original URL (e.g. a link the recipient is expected to copy). */
export const NO_TRACK_ATTRIBUTE = 'data-ink-notrack'

/** HTML elements whose content the tokenizer must read as text (WHATWG §13.2.6.4.7 / §13.2.5). */
const TEXT_STATES: ReadonlyMap<string, (typeof TokenizerMode)[keyof typeof TokenizerMode]> = new Map([
  ['title', TokenizerMode.RCDATA],
  ['textarea', TokenizerMode.RCDATA],
  ['style', TokenizerMode.RAWTEXT],
  ['xmp', TokenizerMode.RAWTEXT],
  ['iframe', TokenizerMode.RAWTEXT],
  ['noembed', TokenizerMode.RAWTEXT],
  ['noframes', TokenizerMode.RAWTEXT],
  ['script', TokenizerMode.SCRIPT_DATA],
  ['plaintext', TokenizerMode.PLAINTEXT],
])
const FOREIGN_ROOTS = new Set(['svg', 'math'])

interface Edit {
  start: number
  end: number
  text: string
}

/** The tracking base without a trailing slash; throws for anything but an absolute http(s) URL. */
export function trackingBase(baseUrl: string): string {
  let url: URL
  try {
    url = new URL(baseUrl)
  } catch (err) {
    throw new TypeError(`tracking baseUrl "${baseUrl}" is not an absolute URL`, { cause: err })
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '')
    throw new TypeError(`tracking baseUrl "${baseUrl}" must be an http(s) URL without query or fragment`)
  return url.href.replace(/\/+$/, '')
}

const escapeAttr = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** The http(s) URL a link goes to, or undefined for links we leave alone (mailto:, tel:, #, relative). */
function trackableUrl(href: string, ownPrefixes: readonly string[]): string | undefined {
  let url: URL
  try {
    url = new URL(href.trim())
  } catch {
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  // Our own tracking and unsubscribe URLs are already signed; wrapping them again only adds a hop.
  if (ownPrefixes.some((p) => url.href.startsWith(p))) return undefined
  return url.href
}

function signUrl(o: TrackingOptions, base: string, path: 'c' | 'p' | 'u', extra: Partial<TokenPayload>) {
  const kind = path === 'c' ? 'click' : path === 'p' ? 'open' : 'unsubscribe'
  const payload: TokenPayload = {
    kind,
    workspaceId: o.workspaceId,
    campaignId: o.campaignId,
    recipient: o.recipient,
    messageId: o.messageId,
    ...extra,
  }
  return `${base}/${path}/${o.codec.sign(payload, o.ttlMs)}`
}

const ignore = () => undefined

/** Wraps every http(s) `<a href>` in a signed click URL and adds the open pixel. */
export function trackMessage(html: string, o: TrackingOptions): TrackedMessage {
  const base = trackingBase(o.baseUrl)
  const own = ['c', 'p', 'u'].map((p) => `${base}/${p}/`)
  const edits: Edit[] = []
  const links: string[] = []
  let bodyEnd: number | undefined
  let htmlEnd: number | undefined
  // Open <svg>/<math> elements: inside them <style> or <title> are not raw text, CDATA is allowed.
  let foreign = 0
  const tokenizer: Tokenizer = new Tokenizer(
    { sourceCodeLocationInfo: true },
    {
      onStartTag(tag: Token.TagToken) {
        const name = tag.tagName
        if (FOREIGN_ROOTS.has(name)) {
          if (!tag.selfClosing) tokenizer.inForeignNode = ++foreign > 0
        } else if (foreign === 0) {
          const state = TEXT_STATES.get(name)
          if (state !== undefined) tokenizer.state = state
        }
        if (name === 'a') wrap(tag)
      },
      onEndTag(tag: Token.TagToken) {
        const name = tag.tagName
        if (FOREIGN_ROOTS.has(name) && foreign > 0) tokenizer.inForeignNode = --foreign > 0
        else if (name === 'body') bodyEnd ??= tag.location?.startOffset
        else if (name === 'html') htmlEnd ??= tag.location?.startOffset
      },
      onComment: ignore,
      onDoctype: ignore,
      onEof: ignore,
      onCharacter: ignore,
      onNullCharacter: ignore,
      onWhitespaceCharacter: ignore,
    },
  )
  const wrap = (tag: Token.TagToken) => {
    let href: string | undefined
    for (const attr of tag.attrs) {
      if (attr.name === NO_TRACK_ATTRIBUTE) return
      if (attr.name === 'href') href ??= attr.value
    }
    const at = tag.location?.attrs?.href
    if (href === undefined || at === undefined) return
    const url = trackableUrl(href, own)
    if (url === undefined) return
    links.push(url)
    edits.push({
      start: at.startOffset,
      end: at.endOffset,
      text: `href="${escapeAttr(signUrl(o, base, 'c', { url }))}"`,
    })
  }
  tokenizer.write(html, true)
  const pixel = `<img src="${escapeAttr(signUrl(o, base, 'p', {}))}" width="1" height="1" alt="" style="display:none">`
  const at = bodyEnd ?? htmlEnd ?? html.length
  edits.push({ start: at, end: at, text: pixel })
  // Tag edits come in document order; only the pixel needs its place found.
  edits.sort((a, b) => a.start - b.start)
  const parts: string[] = []
  let pos = 0
  for (const e of edits) {
    parts.push(html.slice(pos, e.start), e.text)
    pos = e.end
  }
  parts.push(html.slice(pos))
  return { html: parts.join(''), links }
}

export interface UnsubscribeOptions extends TrackingOptions {
  /**
   * The address the message goes to, carried in the token so the unsubscribe suppresses exactly that
   * address even if the profile changes later. Tokens are readable, so leave it out to keep addresses
   * out of URLs; the route then asks `lookupEmail`.
   */
  email?: string
  /** An extra `mailto:` URI for clients without HTTP one-click support. */
  mailto?: string
}

/** The signed one-click unsubscribe URL (for the header and for a footer link). */
export function unsubscribeUrl(o: UnsubscribeOptions): string {
  if (o.email !== undefined && normalizeEmail(o.email) === undefined)
    throw new TypeError(`"${o.email}" is not an email address`)
  return signUrl(o, trackingBase(o.baseUrl), 'u', o.email === undefined ? {} : { email: o.email })
}

export interface UnsubscribeHeaders {
  'List-Unsubscribe': string
  'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click'
}

/**
 * RFC 2369 List-Unsubscribe with RFC 8058 one-click. RFC 8058 §3.1: both headers must be covered by
 * the message's DKIM signature, and receivers only use https URLs for the one-click POST.
 */
export function unsubscribeHeaders(o: UnsubscribeOptions): UnsubscribeHeaders {
  const uris = [unsubscribeUrl(o)]
  if (o.mailto !== undefined) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: a CR or LF here would inject a header
    if (!/^mailto:/i.test(o.mailto) || /[<>,\s\x00-\x1f]/.test(o.mailto))
      throw new TypeError(`"${o.mailto}" is not a usable mailto: URI`)
    uris.push(o.mailto)
  }
  return {
    'List-Unsubscribe': uris.map((u) => `<${u}>`).join(', '),
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  }
}
