/**
 * Coverage masks of the countdown's glyphs, drawn ONCE per font size by satori + resvg and then
 * blitted into every frame: laying out 60 frames through satori would cost ~60 renders per open.
 * A mask holds one coverage level per pixel, 0 (background) .. LEVELS-1 (full foreground), which is
 * also the frame's palette index (see gif-countdown.ts).
 */
import { renderAsync } from '@resvg/resvg-js'
import { LRUCache } from 'lru-cache'
import satori from 'satori'
import { centredText, interFonts } from './fonts.ts'
import type { VNode } from './image-markup.ts'

/** Coverage levels, i.e. palette entries from background to foreground. */
export const LEVELS = 16

export interface Mask {
  width: number
  height: number
  /** width*height levels, row-major. */
  levels: Uint8Array
}

export const GLYPHS = '0123456789:'

/** Cell width of a digit and of the colon, in em: wider than Inter Bold's advances, so digits never shift. */
export const DIGIT_EM = 0.66
export const COLON_EM = 0.34
export const ROW_EM = 1.2

export interface GlyphSet {
  fontSize: number
  digitWidth: number
  colonWidth: number
  rowHeight: number
  masks: ReadonlyMap<string, Mask>
}

export const cellWidth = (fontSize: number, ch: string) =>
  Math.ceil(fontSize * (ch === ':' ? COLON_EM : DIGIT_EM))

/** Renders a tree to RGBA and keeps its alpha as LEVELS coverage levels. */
export async function treeMask(tree: VNode, width: number, height: number): Promise<Mask> {
  const svg = await satori(tree as unknown as Parameters<typeof satori>[0], {
    width,
    height,
    fonts: await interFonts(),
  })
  const opts = { fitTo: { mode: 'original' as const }, font: { loadSystemFonts: false } }
  const rgba = (await renderAsync(svg, opts)).pixels
  const levels = new Uint8Array(width * height)
  for (let i = 0; i < levels.length; i++) levels[i] = Math.round((rgba[i * 4 + 3]! * (LEVELS - 1)) / 255)
  return { width, height, levels }
}

const text = (s: string, width: number, height: number, fontSize: number, weight: 400 | 700): VNode =>
  centredText(s, width, height, {
    fontSize: `${fontSize}px`,
    fontWeight: weight,
    lineHeight: 1,
    color: '#000',
    whiteSpace: 'nowrap',
  })

/** Copies a w×h window of a mask starting at column x0. */
function slice(m: Mask, x0: number, w: number): Mask {
  const levels = new Uint8Array(w * m.height)
  for (let y = 0; y < m.height; y++)
    levels.set(m.levels.subarray(y * m.width + x0, y * m.width + x0 + w), y * w)
  return { width: w, height: m.height, levels }
}

const glyphCache = new LRUCache<number, Promise<GlyphSet>>({ max: 32 })
const labelCache = new LRUCache<string, Promise<Mask>>({ max: 64 })

async function drawGlyphs(fontSize: number): Promise<GlyphSet> {
  const rowHeight = Math.ceil(fontSize * ROW_EM)
  const widths = [...GLYPHS].map((ch) => cellWidth(fontSize, ch))
  const total = widths.reduce((a, b) => a + b, 0)
  // One layout for the whole row: each glyph centred in its own cell.
  const row: VNode = {
    type: 'div',
    props: {
      style: { display: 'flex', width: `${total}px`, height: `${rowHeight}px` },
      children: [...GLYPHS].map((ch, i) => text(ch, widths[i]!, rowHeight, fontSize, 700)),
    },
  }
  const all = await treeMask(row, total, rowHeight)
  const masks = new Map<string, Mask>()
  let x = 0
  for (const [i, ch] of [...GLYPHS].entries()) {
    masks.set(ch, slice(all, x, widths[i]!))
    x += widths[i]!
  }
  return {
    fontSize,
    digitWidth: cellWidth(fontSize, '0'),
    colonWidth: cellWidth(fontSize, ':'),
    rowHeight,
    masks,
  }
}

/** The glyphs 0-9 and ':' at a font size (bold), drawn once and cached. */
export function glyphSet(fontSize: number): Promise<GlyphSet> {
  let p = glyphCache.get(fontSize)
  if (!p) {
    p = drawGlyphs(fontSize)
    glyphCache.set(fontSize, p)
    p.catch(() => glyphCache.delete(fontSize))
  }
  return p
}

/** A line of text centred in a width×height box (regular weight), drawn once per (text, box, size). */
export function labelMask(label: string, width: number, height: number, fontSize: number): Promise<Mask> {
  const key = `${width}x${height}@${fontSize}:${label}`
  let p = labelCache.get(key)
  if (!p) {
    p = treeMask(text(label, width, height, fontSize, 400), width, height)
    labelCache.set(key, p)
    p.catch(() => labelCache.delete(key))
  }
  return p
}
