/**
 * A minimal PNG writer for the one image that needs no renderer: a fully transparent RGBA image.
 * Every row is filter byte 0 followed by zeros, deflated once; a few hundred bytes for any size.
 * With it, the size rule every open-time image follows and its error: what open-time serving needs
 * before satori and resvg are loaded (rasterize.ts loads them with the first drawing).
 */
import { crc32, deflateSync } from 'node:zlib'
import { LRUCache } from 'lru-cache'
import { InkError } from '../core/errors.ts'

/** Largest side of an open-time image, in px (the template's `width`/`height` limit). */
export const MAX_IMAGE_SIDE = 2000

export interface ImageSize {
  width: number
  height: number
}

export type ImageErrorReason = 'size' | 'markup' | 'layout'

/**
 * An image could not be made: `size` (not an integer in 1..2000; INK_ERR_RENDER_LIMIT), `markup`
 * (over the markup limits; INK_ERR_RENDER_LIMIT) or `layout` (satori or resvg refused the markup;
 * INK_ERR_RENDER_FAILED). The open route catches it and serves the block's fallback instead.
 */
export class ImageRenderError extends InkError {
  constructor(
    readonly reason: ImageErrorReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(reason === 'layout' ? 'INK_ERR_RENDER_FAILED' : 'INK_ERR_RENDER_LIMIT', message, options)
    this.name = 'ImageRenderError'
  }
}

export const isImageRenderError = (err: unknown): err is ImageRenderError => err instanceof ImageRenderError

/** Throws ImageRenderError('size') unless both sides are integers in 1..MAX_IMAGE_SIDE. */
export function checkSize(width: number, height: number): void {
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_IMAGE_SIDE
  if (!ok(width) || !ok(height)) {
    throw new ImageRenderError(
      'size',
      `an open-time image is ${width}×${height} px; each side must be an integer from 1 to ${MAX_IMAGE_SIDE}`,
    )
  }
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'latin1')
  data.copy(out, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

/** A valid, fully transparent width×height RGBA PNG (8 bits per channel). */
export function encodeTransparentPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 6 // colour type RGBA
  // compression, filter, interlace: 0
  const raw = Buffer.alloc(height * (1 + 4 * width)) // zeros: filter 0, rgba 0,0,0,0
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

const blanks = new LRUCache<string, Buffer>({ max: 32 })

/** A valid, fully transparent PNG of the declared size (cached by size). Throws only for a bad size. */
export function blankPng(width: number, height: number): Buffer {
  checkSize(width, height)
  const key = `${width}x${height}`
  let png = blanks.get(key)
  if (!png) {
    png = encodeTransparentPng(width, height)
    blanks.set(key, png)
  }
  return png
}
