/**
 * The countdown GIF: one frame per second for up to 60 seconds from the open, showing the time left
 * as DD:HH:MM:SS (a day or more left at the open) or HH:MM:SS, played once (no loop extension), so
 * the last frame stays. Frame i shows S0 − i, where S0 = floor((untilMs − nowMs) / 1000); frames stop
 * at the first 00:00:00, so there are min(60, S0 + 1) of them; past the deadline, one 00:00:00 frame.
 *
 * Speed: glyphs are drawn once per font size (gif-glyphs.ts) and blitted; the palette is LEVELS
 * shades from background to foreground, so a glyph's coverage level IS its palette index and
 * nothing is quantised. Frame 0 is the whole image; each later frame is only the rectangle of the
 * digit cells that changed (usually the last one or two), placed with the image descriptor's
 * left/top.
 */
import gifenc, { type Encoder } from 'gifenc'
import {
  COLON_EM,
  cellWidth,
  DIGIT_EM,
  glyphSet,
  LEVELS,
  labelMask,
  type Mask,
  ROW_EM,
  treeMask,
} from './gif-glyphs.ts'
import { checkSize, fallbackTree, type ImageSize } from './images.ts'

export const COUNTDOWN_MAX_FRAMES = 60
export const FRAME_DELAY_MS = 1000
const LABEL_EM = 0.32

export interface CountdownColors {
  /** `#rgb` or `#rrggbb`; defaults #111111 on #ffffff. */
  foreground?: string
  background?: string
}

export interface CountdownOptions extends ImageSize {
  untilMs: number
  nowMs: number
  /** A line above the digits, e.g. "Sale ends in". */
  label?: string
  colors?: CountdownColors
}

/** The longest time a countdown shows: 999 days 23:59:59. */
const MAX_SECONDS = 1000 * 86_400 - 1

const pad2 = (n: number) => String(n).padStart(2, '0')

/** The text of every frame (see the file comment for the rule). */
export function countdownTexts(untilMs: number, nowMs: number): string[] {
  const left = untilMs - nowMs
  if (!(left >= 1000)) return ['00:00:00']
  // Capped at 999:23:59:59, which also keeps every value an exact integer (1e20 ms, Infinity).
  const s0 = Math.min(Math.floor(left / 1000), MAX_SECONDS)
  const withDays = s0 >= 86_400
  // One width for the whole GIF (100 days → 099 a minute later keeps three digits).
  const dayDigits = Math.max(2, String(Math.floor(s0 / 86_400)).length)
  const texts: string[] = []
  for (let i = 0; i < Math.min(COUNTDOWN_MAX_FRAMES, s0 + 1); i++) {
    const s = s0 - i
    const hms = `${pad2(Math.floor((s % 86_400) / 3600))}:${pad2(Math.floor((s % 3600) / 60))}:${pad2(s % 60)}`
    const days = String(Math.floor(s / 86_400)).padStart(dayDigits, '0')
    texts.push(withDays ? `${days}:${hms}` : hms)
  }
  return texts
}

export interface Cell {
  x: number
  width: number
}
export interface CountdownLayout {
  fontSize: number
  rowY: number
  rowHeight: number
  /** One cell per character of the frame text. */
  cells: Cell[]
  label?: { y: number; height: number; fontSize: number }
}

/** Where everything goes for a frame text of this shape in a width×height box. */
export function countdownLayout(
  text: string,
  { width, height }: ImageSize,
  withLabel: boolean,
): CountdownLayout {
  const colons = text.split(':').length - 1
  const digits = text.length - colons
  const byWidth = (width * 0.92) / (digits * DIGIT_EM + colons * COLON_EM)
  const byHeight = (height * 0.92) / (ROW_EM + (withLabel ? LABEL_EM * 1.3 + 0.1 : 0))
  const fontSize = Math.max(4, Math.floor(Math.min(byWidth, byHeight)))
  const rowHeight = Math.ceil(fontSize * ROW_EM)
  const labelSize = Math.max(4, Math.round(fontSize * LABEL_EM))
  const labelHeight = Math.ceil(labelSize * 1.3)
  const gap = Math.round(fontSize * 0.1)
  const total = rowHeight + (withLabel ? labelHeight + gap : 0)
  const top = Math.floor((height - total) / 2)
  const widths = [...text].map((ch) => cellWidth(fontSize, ch))
  let x = Math.floor((width - widths.reduce((a, b) => a + b, 0)) / 2)
  const cells = widths.map((w) => {
    const cell = { x, width: w }
    x += w
    return cell
  })
  return {
    fontSize,
    rowY: withLabel ? top + labelHeight + gap : top,
    rowHeight,
    cells,
    ...(withLabel ? { label: { y: top, height: labelHeight, fontSize: labelSize } } : {}),
  }
}

/** Copies a mask into the frame at (x, y), clipped to the frame. */
function blit(frame: Uint8Array, width: number, height: number, m: Mask, x: number, y: number): void {
  for (let my = 0; my < m.height; my++) {
    const fy = y + my
    if (fy < 0 || fy >= height) continue
    const from = Math.max(0, -x)
    const to = Math.min(m.width, width - x)
    if (to <= from) return
    frame.set(m.levels.subarray(my * m.width + from, my * m.width + to), fy * width + x + from)
  }
}

function parseHex(c: string | undefined, fallback: [number, number, number]): [number, number, number] {
  const m = c?.trim().match(/^#([0-9a-f]{3}|[0-9a-f]{6})$/i)
  if (!m) return fallback
  const h = m[1]!.length === 3 ? [...m[1]!].map((d) => d + d).join('') : m[1]!
  return [0, 2, 4].map((i) => Number.parseInt(h.slice(i, i + 2), 16)) as [number, number, number]
}

/** LEVELS shades from background (index 0) to foreground (index LEVELS-1). */
export function levelPalette(colors: CountdownColors = {}): number[][] {
  const fg = parseHex(colors.foreground, [0x11, 0x11, 0x11])
  const bg = parseHex(colors.background, [0xff, 0xff, 0xff])
  return Array.from({ length: LEVELS }, (_, k) =>
    bg.map((b, i) => Math.round(b + ((fg[i]! - b) * k) / (LEVELS - 1))),
  )
}

/** Writes a frame of w×h at (left, top): gifenc always writes 0,0, so the descriptor is patched. */
function writeAt(enc: Encoder, index: Uint8Array, w: number, h: number, left: number, top: number): void {
  const start = enc.bytesView().length
  enc.writeFrame(index, w, h, { delay: FRAME_DELAY_MS, colorDepth: 4 })
  const view = enc.bytesView()
  // Graphic control extension (8 bytes), then the image descriptor: 0x2C, left, top (LE 16-bit).
  const d = start + 8
  if (view[d] !== 0x2c) throw new Error('gifenc wrote an unexpected frame layout')
  view[d + 1] = left & 0xff
  view[d + 2] = left >> 8
  view[d + 3] = top & 0xff
  view[d + 4] = top >> 8
}

/** The animated countdown (see the file comment). Throws ImageRenderError('size') for a bad size. */
export async function renderCountdownGif(o: CountdownOptions): Promise<Buffer> {
  const { width, height } = o
  checkSize(width, height)
  const texts = countdownTexts(o.untilMs, o.nowMs)
  const label = o.label?.replace(/\s+/g, ' ').trim().slice(0, 200) || undefined
  const layout = countdownLayout(texts[0]!, o, label !== undefined)
  const glyphs = await glyphSet(layout.fontSize)
  const frame = new Uint8Array(width * height)
  if (label && layout.label) {
    blit(
      frame,
      width,
      height,
      await labelMask(label, width, layout.label.height, layout.label.fontSize),
      0,
      layout.label.y,
    )
  }
  const drawCell = (i: number, ch: string) => {
    const cell = layout.cells[i]!
    blit(frame, width, height, glyphs.masks.get(ch)!, cell.x, layout.rowY)
  }
  for (const [i, ch] of [...texts[0]!].entries()) drawCell(i, ch)

  const enc = gifenc.GIFEncoder({ initialCapacity: 16 * 1024 })
  // repeat -1: no NETSCAPE extension, so the animation plays once and holds its last frame.
  enc.writeFrame(frame, width, height, {
    palette: levelPalette(o.colors),
    delay: FRAME_DELAY_MS,
    repeat: -1,
    colorDepth: 4,
  })
  const rowTop = Math.max(0, layout.rowY)
  const rowBottom = Math.min(height, layout.rowY + layout.rowHeight)
  for (let f = 1; f < texts.length; f++) {
    const prev = texts[f - 1]!
    const text = texts[f]!
    let k = 0
    while (k < text.length && text[k] === prev[k]) k++
    for (let i = k; i < text.length; i++) drawCell(i, text[i]!)
    // The changed cells, clipped to the image (a frame needs at least one pixel).
    const left = Math.min(width - 1, Math.max(0, layout.cells[k]!.x))
    const last = layout.cells[text.length - 1]!
    const right = Math.max(left + 1, Math.min(width, last.x + last.width))
    const top = Math.min(height - 1, rowTop)
    const bottom = Math.max(top + 1, rowBottom)
    const w = right - left
    const h = bottom - top
    const sub = new Uint8Array(w * h)
    for (let y = 0; y < h; y++)
      sub.set(frame.subarray((top + y) * width + left, (top + y) * width + right), y * w)
    writeAt(enc, sub, w, h, left, top)
  }
  enc.finish()
  return Buffer.from(enc.bytes())
}

/** A one-frame GIF of the fallback text, centred; a plain background frame if that fails. */
export async function fallbackGif(
  text: string,
  size: ImageSize,
  colors: CountdownColors = {},
): Promise<Buffer> {
  const { width, height } = size
  checkSize(width, height)
  let frame: Uint8Array
  try {
    const tree = fallbackTree(text, size, { color: '#000000', background: 'transparent' })
    frame = (await treeMask(tree, width, height)).levels
  } catch {
    frame = new Uint8Array(width * height)
  }
  const enc = gifenc.GIFEncoder()
  enc.writeFrame(frame, width, height, { palette: levelPalette(colors), repeat: -1, colorDepth: 4 })
  enc.finish()
  return Buffer.from(enc.bytes())
}
