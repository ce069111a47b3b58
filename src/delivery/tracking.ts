/**
 * Link wrapping, the open pixel and the unsubscribe headers for one recipient's message.
 *
 * The HTML is parsed with parse5 (the WHATWG parsing algorithm, as browsers do) only to find where
 * things are: the output is the input with just the tracked `href` attributes replaced and the pixel
 * inserted, byte for byte otherwise, because email clients are fragile about markup they did not
 * expect. Links inside comments (including Outlook's `<!--[if mso]>` blocks) are not links to a
 * parser and stay untouched.
 */
import { type DefaultTreeAdapterMap, parse } from 'parse5'
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

type Node = DefaultTreeAdapterMap['node']
type Element = DefaultTreeAdapterMap['element']

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

function walk(node: Node, visit: (el: Element) => void): void {
  if ('tagName' in node) {
    visit(node)
    if ('content' in node) walk(node.content, visit)
  }
  if ('childNodes' in node) for (const child of node.childNodes) walk(child, visit)
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

/** Wraps every http(s) `<a href>` in a signed click URL and adds the open pixel. */
export function trackMessage(html: string, o: TrackingOptions): TrackedMessage {
  const base = trackingBase(o.baseUrl)
  const own = ['c', 'p', 'u'].map((p) => `${base}/${p}/`)
  const doc = parse(html, { sourceCodeLocationInfo: true, scriptingEnabled: false })
  const edits: Edit[] = []
  const links: string[] = []
  const seen = new Set<number>()
  let pixelAt: number | undefined
  let htmlEnd: number | undefined
  walk(doc, (el) => {
    const loc = el.sourceCodeLocation
    if (el.tagName === 'body' && loc?.endTag) pixelAt = loc.endTag.startOffset
    if (el.tagName === 'html' && loc?.endTag) htmlEnd = loc.endTag.startOffset
    if (el.tagName !== 'a' || el.attrs.some((a) => a.name === NO_TRACK_ATTRIBUTE)) return
    const href = el.attrs.find((a) => a.name === 'href')
    const at = loc?.attrs?.href
    // Elements the parser made up (implied or reconstructed tags) have no source to edit.
    if (href === undefined || at === undefined || seen.has(at.startOffset)) return
    const url = trackableUrl(href.value, own)
    if (url === undefined) return
    seen.add(at.startOffset)
    links.push(url)
    edits.push({
      start: at.startOffset,
      end: at.endOffset,
      text: `href="${escapeAttr(signUrl(o, base, 'c', { url }))}"`,
    })
  })
  const pixel = `<img src="${escapeAttr(signUrl(o, base, 'p', {}))}" width="1" height="1" alt="" style="display:none">`
  const at = pixelAt ?? htmlEnd ?? html.length
  edits.push({ start: at, end: at, text: pixel })
  edits.sort((a, b) => a.start - b.start)
  let out = ''
  let pos = 0
  for (const e of edits) {
    out += html.slice(pos, e.start) + e.text
    pos = e.end
  }
  return { html: out + html.slice(pos), links }
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
