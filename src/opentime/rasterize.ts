/**
 * The image functions open-time serving calls (owned by live-images: images.ts, gif-countdown.ts),
 * behind one record so a test can slow or break them.
 *
 * satori, resvg and the fonts are loaded with the first drawing, not with the module: they are
 * ~200 ms of a start-up's imports (issue 14, start-up ≤ 1 s), and the draw pool warms them right
 * after the server listens (DrawPool.start). The blank PNG needs none of them.
 */

import type { ImageFetcher } from './image-markup.ts'
import { blankPng } from './image-png.ts'

type Drawing = typeof import('./images.ts') & typeof import('./gif-countdown.ts')
let drawing: Promise<Drawing> | undefined
/** images.ts and gif-countdown.ts, imported once. */
const draw = (): Promise<Drawing> =>
  (drawing ??= Promise.all([import('./images.ts'), import('./gif-countdown.ts')]).then(([images, gif]) => ({
    ...images,
    ...gif,
  })))

type Size = { width: number; height: number }

export interface OpenImages {
  /** `fetchImage` resolves remote `<img>` sources (bounded by the caller); without it they stay empty. */
  renderBlockPng(markup: string, size: Size, fetchImage?: ImageFetcher): Promise<Buffer>
  renderCountdownGif(o: { untilMs: number; nowMs: number; width: number; height: number }): Promise<Buffer>
  /** The fallback text laid out in the box (itself a blank when it cannot be drawn). */
  fallbackPng(text: string, size: Size): Promise<Buffer>
  /** The same as a one-frame GIF, for a countdown's URL. */
  fallbackGif(text: string, size: Size): Promise<Buffer>
  /** Transparent, of the declared size: instant, the last resort. */
  blankPng(width: number, height: number): Buffer
}

export const openImages: OpenImages = {
  renderBlockPng: async (markup, size, fetchImage) =>
    (await draw()).renderBlockPng(markup, size, fetchImage === undefined ? {} : { fetchImage }),
  renderCountdownGif: async (o) => (await draw()).renderCountdownGif(o),
  fallbackPng: async (text, size) => (await draw()).fallbackPng(text, size),
  fallbackGif: async (text, size) => (await draw()).fallbackGif(text, size),
  blankPng,
}
