/**
 * Open-time images: a live block's HTML laid out by satori (fonts: Inter from @fontsource/inter),
 * rasterised by resvg into a PNG of exactly the block's size; a transparent blank PNG; a plain-text
 * fallback PNG. Countdown GIFs are in gif-countdown.ts.
 *
 * Remote resources in the markup are never fetched by satori or resvg: see image-markup.ts.
 */
import { renderAsync } from '@resvg/resvg-js'
import satori from 'satori'
import { centredText, interFonts } from './fonts.ts'
import { type ImageFetcher, MarkupError, parseMarkup, prepareTree, type VNode } from './image-markup.ts'
import { blankPng, checkSize, ImageRenderError, type ImageSize } from './image-png.ts'

export type { FetchedImage, ImageFetcher } from './image-markup.ts'

export {
  blankPng,
  checkSize,
  type ImageErrorReason,
  ImageRenderError,
  type ImageSize,
  isImageRenderError,
  MAX_IMAGE_SIDE,
} from './image-png.ts'

export interface RenderBlockPngOptions {
  /** Fetches remote `<img>` sources (bounded by the caller). Without it they are left empty. */
  fetchImage?: ImageFetcher
}

/** Lays out an element tree and rasterises it; the PNG is exactly width×height. */
async function rasterise(tree: VNode, { width, height }: ImageSize): Promise<Buffer> {
  const fonts = await interFonts()
  let svg: string
  try {
    // satori's typings want a React element; the tree has the same shape.
    svg = await satori(tree as unknown as Parameters<typeof satori>[0], { width, height, fonts })
  } catch (err) {
    throw new ImageRenderError('layout', `the block's markup cannot be laid out: ${(err as Error).message}`, {
      cause: err,
    })
  }
  try {
    // On libuv's thread pool: the raster and PNG encode (about half the cost) leave the event loop free.
    const image = await renderAsync(svg, { fitTo: { mode: 'original' }, font: { loadSystemFonts: false } })
    return image.asPng()
  } catch (err) {
    throw new ImageRenderError('layout', `the block's image cannot be drawn: ${(err as Error).message}`, {
      cause: err,
    })
  }
}

/**
 * Renders a live block's HTML (flexbox and inline styles, the subset satori lays out) into a PNG of
 * exactly width×height. Throws ImageRenderError (size, markup or layout); never fetches on its own.
 */
export async function renderBlockPng(
  markup: string,
  size: ImageSize,
  opts: RenderBlockPngOptions = {},
): Promise<Buffer> {
  checkSize(size.width, size.height)
  let tree: VNode
  try {
    tree = await prepareTree(parseMarkup(markup), opts.fetchImage)
  } catch (err) {
    if (err instanceof MarkupError) throw new ImageRenderError('markup', err.message, { cause: err })
    throw new ImageRenderError('layout', `the block's markup cannot be parsed: ${(err as Error).message}`, {
      cause: err,
    })
  }
  return rasterise(tree, size)
}

export interface FallbackStyle {
  /** CSS colours; defaults: #111111 on #ffffff. */
  color?: string
  background?: string
}

/** The element tree of a plain-text fallback: the text, centred, in Inter, sized to the box. */
export function fallbackTree(text: string, { width, height }: ImageSize, style: FallbackStyle = {}): VNode {
  const clean = text.replace(/\s+/g, ' ').trim().slice(0, 500)
  // Large enough to read, small enough that a sentence fits in the box.
  const byArea = Math.sqrt((width * height * 0.5) / Math.max(1, clean.length)) * 1.2
  const fontSize = Math.max(8, Math.min(48, Math.floor(height * 0.5), Math.floor(byArea)))
  return centredText(clean, width, height, {
    textAlign: 'center',
    padding: `${Math.min(16, Math.floor(height / 8))}px`,
    fontSize: `${fontSize}px`,
    lineHeight: 1.25,
    color: style.color ?? '#111111',
    backgroundColor: style.background ?? '#ffffff',
  })
}

/**
 * A PNG of the fallback text, centred (used when the block's data is late or its markup fails).
 * If even that cannot be drawn, a transparent blank of the same size. Throws only for a bad size.
 */
export async function fallbackPng(text: string, size: ImageSize, style: FallbackStyle = {}): Promise<Buffer> {
  checkSize(size.width, size.height)
  try {
    return await rasterise(fallbackTree(text, size, style), size)
  } catch {
    return blankPng(size.width, size.height)
  }
}
