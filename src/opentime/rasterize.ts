/**
 * The image functions open-time serving calls (owned by live-images: images.ts, gif-countdown.ts),
 * behind one record so a test can slow or break them.
 */
import { fallbackGif, renderCountdownGif } from './gif-countdown.ts'
import type { ImageFetcher } from './image-markup.ts'
import { blankPng, fallbackPng, renderBlockPng } from './images.ts'

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
  renderBlockPng: (markup, size, fetchImage) =>
    renderBlockPng(markup, size, fetchImage === undefined ? {} : { fetchImage }),
  renderCountdownGif: (o) => renderCountdownGif(o),
  fallbackPng: (text, size) => fallbackPng(text, size),
  fallbackGif: (text, size) => fallbackGif(text, size),
  blankPng,
}
