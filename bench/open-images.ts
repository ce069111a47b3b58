/**
 * open-png / open-gif: what an open costs to draw, on one core, against a baseline measured in the
 * same run, in alternating rounds.
 *
 * - open-png: a typical live block (a 600×240 product card: image, name, price, button) through
 *   renderBlockPng (satori layout + resvg raster + PNG encode), vs resvg rasterising and encoding a
 *   trivial SVG of the same size (a static PNG of the same size: raster + encode, no layout, no text).
 * - open-gif: a 480×120 countdown with a label, an hour away (60 frames), through renderCountdownGif,
 *   vs the same static same-size PNG baseline. For reference only, the naive way (every frame laid
 *   out by satori, rasterised, quantised, encoded whole) is timed a few times too.
 */
import { Resvg } from '@resvg/resvg-js'
import gifenc from 'gifenc'
import { PNG } from 'pngjs'
import satori from 'satori'
import { html } from 'satori-html'
import { interFonts } from '../src/opentime/fonts.ts'
import { countdownTexts, renderCountdownGif } from '../src/opentime/gif-countdown.ts'
import { renderBlockPng } from '../src/opentime/images.ts'
import { type BenchResult, fmt } from './lib/report.ts'

const NOW = Date.parse('2026-11-29T12:00:00Z')

/** A 160×160 product photo stand-in (a gradient), as a data: URI, the way a fetched image arrives. */
function productImage(): string {
  const png = new PNG({ width: 160, height: 160 })
  for (let y = 0; y < 160; y++)
    for (let x = 0; x < 160; x++) png.data.set([x + 60, y + 40, 200 - x / 2, 255], (y * 160 + x) * 4)
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`
}

const productCard = (img: string) => `
<div style="display:flex;width:600px;height:240px;background:#ffffff;padding:24px;font-family:Inter">
  <img src="${img}" width="160" height="160" style="border-radius:8px">
  <div style="display:flex;flex-direction:column;justify-content:center;margin-left:24px;flex:1">
    <span style="font-size:14px;color:#6b7280">Still thinking about it?</span>
    <span style="font-size:26px;font-weight:700;color:#111827;margin-top:6px">Brass Desk Lamp &amp; Shade</span>
    <span style="font-size:20px;color:#111827;margin-top:6px">49.00 EUR <span style="color:#9ca3af;text-decoration:line-through;margin-left:8px">69.00 EUR</span></span>
    <div style="display:flex;margin-top:16px;background:#111827;color:#ffffff;padding:10px 18px;border-radius:6px;font-size:16px;font-weight:700;align-self:flex-start">Back to your cart</div>
  </div>
</div>`

/** The baseline: a static image of the same size, rasterised and encoded by resvg. */
const staticSvg = (w: number, h: number) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="${w}" height="${h}" fill="#ffffff"/><rect x="24" y="24" width="160" height="160" fill="#3c78c8"/></svg>`
const staticPng = (svg: string) => new Resvg(svg, { fitTo: { mode: 'original' } }).render().asPng()

/** Calls fn back to back for ms milliseconds; returns calls per second. */
async function rate(fn: () => Promise<unknown>, ms: number): Promise<number> {
  const start = performance.now()
  const end = start + ms
  let n = 0
  while (performance.now() < end) {
    await fn()
    n++
  }
  return n / ((performance.now() - start) / 1000)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ms = (perSecond: number) => Math.round((1000 / perSecond) * 100) / 100

/** Alternating rounds of baseline then inkstream; medians of each. */
async function interleaved(
  base: () => Promise<unknown>,
  ink: () => Promise<unknown>,
  rounds = 5,
  roundMs = 1500,
) {
  const baseRates: number[] = []
  const inkRates: number[] = []
  for (let r = 0; r < rounds; r++) {
    baseRates.push(await rate(base, roundMs))
    inkRates.push(await rate(ink, roundMs))
  }
  return { base: median(baseRates), ink: median(inkRates), baseRates, inkRates }
}

export async function openPng(): Promise<BenchResult> {
  const markup = productCard(productImage())
  const size = { width: 600, height: 240 }
  const svg = staticSvg(size.width, size.height)
  const t = performance.now()
  const first = await renderBlockPng(markup, size)
  const coldMs = performance.now() - t
  const decoded = PNG.sync.read(first)
  if (decoded.width !== 600 || decoded.height !== 240) throw new Error('the card did not render at 600×240')
  const staticBytes = staticPng(svg).length
  const { base, ink, baseRates, inkRates } = await interleaved(
    async () => staticPng(svg),
    () => renderBlockPng(markup, size),
  )
  const ratio = ink / base
  const met = ratio >= 0.1
  return {
    benchmark: 'open-png',
    metric:
      'live-block PNGs per second on one core (600×240 product card), renderBlockPng vs resvg encoding a static same-size image',
    inkstream: Math.round(ink),
    baseline: Math.round(base),
    ratio: Math.round(ratio * 1000) / 1000,
    goal: '>= 0.1 of the static same-size PNG (layout + text cost at most 10× the raster + encode alone)',
    met,
    details: {
      msPerPng: { inkstream: ms(ink), baseline: ms(base) },
      rounds: { inkstream: inkRates.map(Math.round), baseline: baseRates.map(Math.round) },
      firstRenderMs: Math.round(coldMs * 10) / 10,
      pngBytes: { inkstream: first.length, baseline: staticBytes },
      note: 'firstRenderMs includes loading the Inter woff files (once per process).',
    },
    summary:
      `open-png: ${fmt(ink)} card PNGs/s (${ms(ink)} ms) vs ${fmt(base)}/s static same-size PNG (${ms(base)} ms) ` +
      `(ratio ${ratio.toFixed(3)}; goal >= 0.1: ${met ? 'met' : 'NOT met'})`,
  }
}

/** The naive countdown, for reference: every frame laid out by satori, rasterised, quantised, encoded whole. */
async function naiveCountdown(
  untilMs: number,
  width: number,
  height: number,
  label: string,
): Promise<number> {
  const fonts = await interFonts()
  const enc = gifenc.GIFEncoder()
  let palette: number[][] | undefined
  for (const text of countdownTexts(untilMs, NOW)) {
    const tree = html(
      `<div style="display:flex;flex-direction:column;align-items:center;justify-content:center;width:${width}px;height:${height}px;background:#fff;color:#111">` +
        `<span style="font-size:22px">${label}</span><span style="font-size:64px;font-weight:700">${text}</span></div>`,
    )
    const svg = await satori(tree as unknown as Parameters<typeof satori>[0], { width, height, fonts })
    const rgba = new Resvg(svg, { fitTo: { mode: 'original' } }).render().pixels
    palette ??= gifenc.quantize(rgba, 16)
    enc.writeFrame(gifenc.applyPalette(rgba, palette), width, height, { palette, delay: 1000, repeat: -1 })
  }
  enc.finish()
  return enc.bytes().length
}

export async function openGif(): Promise<BenchResult> {
  const size = { width: 480, height: 120 }
  const o = { untilMs: NOW + 3_600_000 + 30_500, nowMs: NOW, label: 'Sale ends in', ...size }
  const svg = staticSvg(size.width, size.height)
  let t = performance.now()
  const first = await renderCountdownGif(o)
  const coldMs = performance.now() - t
  if (first.subarray(0, 6).toString('latin1') !== 'GIF89a') throw new Error('the countdown is not a GIF')
  // A different second each call, as real opens are (same size, so the glyphs stay cached).
  let tick = 0
  const { base, ink, baseRates, inkRates } = await interleaved(
    async () => staticPng(svg),
    () => renderCountdownGif({ ...o, nowMs: NOW + (tick++ % 600) * 1000 }),
  )
  const naive: number[] = []
  let naiveBytes = 0
  for (let i = 0; i < 3; i++) {
    t = performance.now()
    naiveBytes = await naiveCountdown(o.untilMs, size.width, size.height, o.label)
    naive.push(performance.now() - t)
  }
  const ratio = ink / base
  const met = ratio >= 0.25
  return {
    benchmark: 'open-gif',
    metric:
      'countdown GIFs per second on one core (480×120, label, 60 frames), renderCountdownGif vs resvg encoding a static same-size PNG',
    inkstream: Math.round(ink),
    baseline: Math.round(base),
    ratio: Math.round(ratio * 1000) / 1000,
    goal: '>= 0.25 of the static same-size PNG (60 frames at most 4× one static image)',
    met,
    details: {
      msPerImage: { inkstream: ms(ink), baseline: ms(base) },
      rounds: { inkstream: inkRates.map(Math.round), baseline: baseRates.map(Math.round) },
      firstRenderMs: Math.round(coldMs * 10) / 10,
      gifBytes: first.length,
      naiveEveryFrameThroughSatoriMs: Math.round(median(naive)),
      naiveGifBytes: naiveBytes,
      note:
        'firstRenderMs: the first countdown of a size draws its glyphs (satori + resvg) once. naive*: every frame ' +
        'laid out by satori, rasterised, quantised and encoded whole (reference only, not the baseline).',
    },
    summary:
      `open-gif: ${fmt(ink)} countdown GIFs/s (${ms(ink)} ms, 60 frames) vs ${fmt(base)}/s static same-size PNG ` +
      `(${ms(base)} ms) (ratio ${ratio.toFixed(3)}; goal >= 0.25: ${met ? 'met' : 'NOT met'}); ` +
      `naive per-frame satori ${Math.round(median(naive))} ms`,
  }
}
