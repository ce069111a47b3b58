/**
 * The countdown GIF, decoded with omggif frame by frame: exact size, frame count, 1 s delays, no
 * loop, and the right digits in the right cells (every cell showing the same character is the same
 * pixels; cells showing different characters differ). The fallback GIF; sizes out of range.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import omggif, { type FrameInfo } from 'omggif'
import {
  COUNTDOWN_MAX_FRAMES,
  countdownLayout,
  countdownTexts,
  fallbackGif,
  renderCountdownGif,
} from '../../src/opentime/gif-countdown.ts'
import { ImageRenderError } from '../../src/opentime/images.ts'

const NOW = Date.parse('2026-11-29T12:00:00Z')

interface DecodedGif {
  width: number
  height: number
  loop: number | null
  /** Each frame as the viewer sees it: composed over the frames before it (RGBA). */
  frames: Uint8Array[]
  info: FrameInfo[]
}

function decodeGif(buf: Buffer): DecodedGif {
  const r = new omggif.GifReader(buf)
  const canvas = new Uint8Array(r.width * r.height * 4)
  const frames: Uint8Array[] = []
  const info = []
  for (let i = 0; i < r.numFrames(); i++) {
    r.decodeAndBlitFrameRGBA(i, canvas)
    frames.push(canvas.slice())
    info.push(r.frameInfo(i))
  }
  return { width: r.width, height: r.height, loop: r.loopCount(), frames, info }
}

/** The RGBA bytes of a rectangle of a frame, as a hex string (to compare regions). */
function region(g: DecodedGif, f: number, x: number, y: number, w: number, h: number): string {
  const rows: string[] = []
  for (let yy = y; yy < y + h; yy++) {
    rows.push(
      Buffer.from(g.frames[f]!.subarray((yy * g.width + x) * 4, (yy * g.width + x + w) * 4)).toString('hex'),
    )
  }
  return rows.join('|')
}

/** Pixels in a rectangle that are not the background colour (white). */
function inked(g: DecodedGif, f: number, x: number, y: number, w: number, h: number): number {
  let n = 0
  const px = g.frames[f]!
  for (let yy = y; yy < y + h; yy++)
    for (let xx = x; xx < x + w; xx++) {
      const i = (yy * g.width + xx) * 4
      if (px[i] !== 255 || px[i + 1] !== 255 || px[i + 2] !== 255) n++
    }
  return n
}

/**
 * Checks that every digit cell of every frame shows the character countdownTexts says: cells of the
 * same character are identical pixels, cells of different characters are not, and each has ink.
 */
function assertDigits(
  g: DecodedGif,
  texts: string[],
  size: { width: number; height: number },
  label: boolean,
) {
  const layout = countdownLayout(texts[0]!, size, label)
  const seen = new Map<string, string>()
  for (const [f, text] of texts.entries()) {
    for (const [i, ch] of [...text].entries()) {
      const c = layout.cells[i]!
      const pixels = region(g, f, c.x, layout.rowY, c.width, layout.rowHeight)
      assert.ok(inked(g, f, c.x, layout.rowY, c.width, layout.rowHeight) > 0, `frame ${f} cell ${i} is empty`)
      const known = seen.get(ch)
      if (known === undefined) seen.set(ch, pixels)
      else assert.equal(pixels, known, `frame ${f} cell ${i} should show "${ch}"`)
    }
  }
  const distinct = new Set(seen.values())
  assert.equal(distinct.size, seen.size, 'two different characters drew the same pixels')
}

describe('renderCountdownGif', () => {
  test('an hour away: 60 frames of exactly the size, 1 s each, no loop, HH:MM:SS counting down a second a frame', async () => {
    const size = { width: 480, height: 96 }
    const untilMs = NOW + 3600_000 + 30_500 // 1 h 0 min 30.5 s
    const g = decodeGif(await renderCountdownGif({ untilMs, nowMs: NOW, ...size }))
    assert.deepEqual([g.width, g.height], [480, 96])
    assert.equal(g.frames.length, COUNTDOWN_MAX_FRAMES)
    assert.equal(g.loop, null) // no NETSCAPE extension: played once, the last frame stays
    assert.deepEqual(
      g.info.map((i) => i.delay),
      Array(60).fill(100),
    )
    assert.deepEqual([g.info[0]!.x, g.info[0]!.y, g.info[0]!.width, g.info[0]!.height], [0, 0, 480, 96])
    const texts = countdownTexts(untilMs, NOW)
    assert.deepEqual(texts.slice(0, 3), ['01:00:30', '01:00:29', '01:00:28'])
    assert.equal(texts[30], '01:00:00')
    assert.equal(texts[31], '00:59:59')
    assert.equal(texts[59], '00:59:31')
    assertDigits(g, texts, size, false)
    // Two frames a second apart differ, and only in the digit cells that changed.
    const layout = countdownLayout(texts[0]!, size, false)
    const last = layout.cells[7]!
    assert.notEqual(
      region(g, 0, last.x, layout.rowY, last.width, layout.rowHeight),
      region(g, 1, last.x, layout.rowY, last.width, layout.rowHeight),
    )
    const first = layout.cells[0]!
    const left = last.x - first.x
    assert.equal(region(g, 0, 0, 0, left, 96), region(g, 1, 0, 0, left, 96))
  })

  test('a day or more away: DD:HH:MM:SS, the day rolling over inside the minute', async () => {
    const size = { width: 600, height: 120 }
    const untilMs = NOW + 3 * 86_400_000 + 5_000
    const texts = countdownTexts(untilMs, NOW)
    assert.equal(texts.length, 60)
    assert.deepEqual(texts.slice(4, 8), ['03:00:00:01', '03:00:00:00', '02:23:59:59', '02:23:59:58'])
    const g = decodeGif(await renderCountdownGif({ untilMs, nowMs: NOW, ...size }))
    assert.deepEqual([g.width, g.height, g.frames.length], [600, 120, 60])
    assertDigits(g, texts, size, false)
  })

  test('100 days away: the day field keeps three digits for the whole GIF (100 → 099); capped at 999:23:59:59', async () => {
    const untilMs = NOW + 100 * 86_400_000 + 5_000
    const texts = countdownTexts(untilMs, NOW)
    assert.deepEqual(texts.slice(4, 7), ['100:00:00:01', '100:00:00:00', '099:23:59:59'])
    assert.deepEqual(new Set(texts.map((t) => t.length)), new Set([12]))
    // Beyond 999 days (or absurd instants) the countdown starts from its cap and still counts down.
    for (const far of [NOW + 5000 * 86_400_000, NOW + 1e20, Number.POSITIVE_INFINITY]) {
      const t = countdownTexts(far, NOW)
      assert.deepEqual([t.length, t[0], t[59]], [60, '999:23:59:59', '999:23:59:00'])
    }
    const capped = decodeGif(
      await renderCountdownGif({ untilMs: NOW + 1e20, nowMs: NOW, width: 600, height: 120 }),
    )
    assertDigits(capped, countdownTexts(NOW + 1e20, NOW), { width: 600, height: 120 }, false)
    const size = { width: 600, height: 120 }
    const g = decodeGif(await renderCountdownGif({ untilMs, nowMs: NOW, ...size }))
    assertDigits(g, texts, size, false)
  })

  test('less than a minute left: frames stop at the first 00:00:00, which stays', async () => {
    const size = { width: 320, height: 80 }
    const untilMs = NOW + 20_500
    const texts = countdownTexts(untilMs, NOW)
    assert.equal(texts.length, 21)
    assert.equal(texts[0], '00:00:20')
    assert.equal(texts[20], '00:00:00')
    const g = decodeGif(await renderCountdownGif({ untilMs, nowMs: NOW, ...size }))
    assert.equal(g.frames.length, 21)
    assert.equal(g.loop, null)
    assertDigits(g, texts, size, false)
  })

  test('past the deadline (or under a second left): one 00:00:00 frame', async () => {
    const size = { width: 300, height: 60 }
    for (const untilMs of [NOW - 1, NOW - 86_400_000, NOW, NOW + 999]) {
      assert.deepEqual(countdownTexts(untilMs, NOW), ['00:00:00'])
      const g = decodeGif(await renderCountdownGif({ untilMs, nowMs: NOW, ...size }))
      assert.deepEqual([g.width, g.height, g.frames.length], [300, 60, 1])
      assertDigits(g, ['00:00:00'], size, false)
    }
  })

  test('a label is drawn above the digits; without one nothing is above them', async () => {
    const size = { width: 480, height: 120 }
    const o = { untilMs: NOW + 90_000, nowMs: NOW, ...size }
    const layout = countdownLayout('00:01:30', size, true)
    assert.ok(layout.label)
    const band = [0, layout.label.y, 480, layout.label.height] as const
    const withLabel = decodeGif(await renderCountdownGif({ ...o, label: 'Sale ends in' }))
    const without = decodeGif(await renderCountdownGif(o))
    assert.ok(inked(withLabel, 0, ...band) > 100)
    assert.ok(inked(withLabel, 59, ...band) > 100)
    assertDigits(withLabel, countdownTexts(o.untilMs, NOW), size, true)
    // Without a label, everything above the (larger, centred) digit row is background.
    const plain = countdownLayout('00:01:30', size, false)
    assert.ok(plain.rowY > 0)
    assert.equal(inked(without, 0, 0, 0, 480, plain.rowY), 0)
    assert.ok(inked(without, 0, 0, plain.rowY, 480, plain.rowHeight) > 100)
  })

  test('colours: the background and the digits take the given colours', async () => {
    const g = decodeGif(
      await renderCountdownGif({
        untilMs: NOW + 10_000,
        nowMs: NOW,
        width: 200,
        height: 50,
        colors: { foreground: '#fff', background: '#102030' },
      }),
    )
    assert.deepEqual([...g.frames[0]!.subarray(0, 4)], [0x10, 0x20, 0x30, 255])
    let white = 0
    for (let i = 0; i < 200 * 50; i++)
      if (g.frames[0]![i * 4] === 255 && g.frames[0]![i * 4 + 2] === 255) white++
    assert.ok(white > 50)
  })
})

describe('fallbackGif', () => {
  test('one frame of exactly the size, the text in the middle, white at the edges', async () => {
    const g = decodeGif(await fallbackGif('The sale ends Sunday at midnight.', { width: 480, height: 96 }))
    assert.deepEqual([g.width, g.height, g.frames.length, g.loop], [480, 96, 1, null])
    assert.ok(inked(g, 0, 40, 20, 400, 56) > 500)
    assert.equal(inked(g, 0, 0, 0, 15, 96), 0)
    assert.equal(inked(g, 0, 465, 0, 15, 96), 0)
  })
})

describe('GIF sizes', () => {
  test('a size outside 1..2000 is refused; 1×1 and 2000×2000 are made', async () => {
    const isSize = (err: unknown) => err instanceof ImageRenderError && err.reason === 'size'
    for (const [width, height] of [
      [2001, 10],
      [10, 2001],
      [0, 10],
      [1.5, 10],
    ] as const) {
      await assert.rejects(renderCountdownGif({ untilMs: NOW + 5000, nowMs: NOW, width, height }), isSize)
      await assert.rejects(fallbackGif('x', { width, height }), isSize)
    }
    for (const [width, height] of [
      [1, 1],
      [2000, 2000],
    ] as const) {
      const g = decodeGif(await renderCountdownGif({ untilMs: NOW + 5000, nowMs: NOW, width, height }))
      assert.deepEqual([g.width, g.height, g.frames.length], [width, height, 6])
    }
  })
})
