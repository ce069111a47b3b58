/**
 * Markup → satori's element tree, made safe to lay out: satori-html parses the HTML; then this
 * walk decodes HTML entities (Liquid escapes its output; satori-html leaves `&amp;` as is), drops
 * <script>/<style>, and takes every remote resource out of satori's hands: satori would fetch an
 * `<img src="https://…">` or a CSS `url(…)` itself, unbounded, while the open waits. Only `data:`
 * images are laid out; a remote `<img>` is fetched through the caller's bounded fetcher when one is
 * given, and otherwise (or when the fetch fails) replaced by an empty box of the same size, so the
 * layout around it holds. A CSS `url(…)` that is not `data:` is removed, and an inline SVG's <image>
 * without a `data:` (or `#id`) source is dropped: satori would fetch those too, or read a file path.
 */
import { html } from 'satori-html'

export interface VNode {
  type: string
  props: {
    style?: Record<string, unknown>
    children?: string | VNode | (string | VNode)[]
    [prop: string]: unknown
  }
}

/** An image fetched for a block: its bytes and media type. */
export interface FetchedImage {
  contentType: string
  body: Uint8Array
}
/**
 * The caller's fetcher for remote `<img>` sources. It owns the bounds: allowed hosts, a timeout
 * inside the open's deadline, a size cap. Resolve undefined (or reject) to leave the box empty.
 */
export type ImageFetcher = (url: string) => Promise<FetchedImage | undefined>

/** Media types satori decodes. */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml'])
const DATA_IMAGE = /^data:(image\/(?:png|jpeg|gif|webp|svg\+xml))[;,]/i
const DROPPED_TAGS = new Set(['script', 'style', 'head', 'title', 'meta', 'link'])

export const MAX_MARKUP_CHARS = 1_000_000
export const MAX_NODES = 5_000

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' }

/** Decodes the entities Liquid's escape filter writes, plus numeric ones and &nbsp;. */
export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s
  return s.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (whole, ent: string) => {
    if (ent[0] === '#') {
      const cp = ent[1] === 'x' || ent[1] === 'X' ? Number.parseInt(ent.slice(2), 16) : Number(ent.slice(1))
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : whole
    }
    return NAMED[ent.toLowerCase()] ?? whole
  })
}

export class MarkupError extends Error {}

/** Parses the markup; throws MarkupError when it is over the size or node limits. */
export function parseMarkup(markup: string): VNode {
  if (markup.length > MAX_MARKUP_CHARS) {
    throw new MarkupError(`the markup is ${markup.length} characters; the limit is ${MAX_MARKUP_CHARS}`)
  }
  return html(markup) as VNode
}

interface PendingImage {
  node: VNode
  url: string
}

/**
 * Sanitises the tree in place (see the file comment) and resolves remote images through
 * `fetchImage`. Returns the tree to give satori.
 */
export async function prepareTree(root: VNode, fetchImage?: ImageFetcher): Promise<VNode> {
  const pending: PendingImage[] = []
  let nodes = 0
  const walk = (node: VNode): void => {
    if (++nodes > MAX_NODES) throw new MarkupError(`the markup has more than ${MAX_NODES} elements`)
    const props = node.props
    if (props.style) stripRemoteUrls(props.style)
    for (const [k, v] of Object.entries(props)) {
      if (k !== 'children' && typeof v === 'string') props[k] = decodeEntities(v)
    }
    if (node.type === 'img') {
      const src = typeof props.src === 'string' ? props.src.trim() : ''
      if (!DATA_IMAGE.test(src)) {
        if (fetchImage && /^https?:\/\//i.test(src)) pending.push({ node, url: src })
        else toEmptyBox(node)
      }
    }
    const c = props.children
    if (c === undefined) return
    const list = Array.isArray(c) ? c : [c]
    const kept: (string | VNode)[] = []
    for (const child of list) {
      if (typeof child === 'string') kept.push(decodeEntities(child))
      else if (
        child &&
        typeof child === 'object' &&
        !DROPPED_TAGS.has(child.type) &&
        !isDeadSvgImage(child)
      ) {
        walk(child)
        kept.push(child)
      }
    }
    props.children = Array.isArray(c) ? kept : kept[0] === undefined ? [] : kept[0]
  }
  walk(root)
  if (pending.length > 0 && fetchImage) await resolveImages(pending, fetchImage)
  return root
}

async function resolveImages(pending: PendingImage[], fetchImage: ImageFetcher): Promise<void> {
  const byUrl = new Map<string, Promise<string | undefined>>()
  const dataUri = async (url: string): Promise<string | undefined> => {
    try {
      const got = await fetchImage(url)
      if (!got) return undefined
      const type = got.contentType.split(';')[0]!.trim().toLowerCase()
      if (!IMAGE_TYPES.has(type)) return undefined
      return `data:${type};base64,${Buffer.from(got.body).toString('base64')}`
    } catch {
      return undefined
    }
  }
  await Promise.all(
    pending.map(async ({ node, url }) => {
      let p = byUrl.get(url)
      if (!p) {
        p = dataUri(url)
        byUrl.set(url, p)
      }
      const uri = await p
      if (uri) node.props.src = uri
      else toEmptyBox(node)
    }),
  )
}

/** An <img> that will not be laid out becomes an empty box that keeps its declared size. */
function toEmptyBox(node: VNode): void {
  const { width, height, style } = node.props
  node.type = 'div'
  node.props = {
    style: {
      display: 'flex',
      ...(width !== undefined ? { width: px(width) } : {}),
      ...(height !== undefined ? { height: px(height) } : {}),
      ...style,
    },
  }
}

const px = (v: unknown) => (typeof v === 'number' || /^\d+$/.test(String(v)) ? `${v}px` : v)

const REF_ATTRS = ['href', 'xlinkHref', 'xlink:href'] as const

/** A reference satori or resvg may resolve itself only when it is a data: image or a same-document #id. */
const isSafeRef = (v: string) => DATA_IMAGE.test(v.trim()) || v.trim().startsWith('#')

/** An SVG <image>/<feImage> without a safe source is dropped (satori resolves every <image>). */
function isDeadSvgImage(node: VNode): boolean {
  if (node.type !== 'image' && node.type !== 'feImage') return false
  return REF_ATTRS.every((k) => {
    const v = node.props[k]
    return typeof v !== 'string' || !isSafeRef(v)
  })
}

/** Removes style values that reference a resource by URL unless every reference is `data:`. */
function stripRemoteUrls(style: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(style)) {
    if (typeof v !== 'string' || !/url\s*\(/i.test(v)) continue
    const refs = [...v.matchAll(/url\s*\(\s*(['"]?)([^'")]*)\1\s*\)/gi)].map((m) => m[2]!.trim())
    if (refs.length === 0 || refs.some((r) => !DATA_IMAGE.test(r))) delete style[k]
  }
}
