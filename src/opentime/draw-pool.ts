/**
 * Drawing in a worker thread (DESIGN.md §7: long loops off the HTTP event loop). Satori + resvg cost
 * ~9 ms of CPU per block image; on the event loop every answer — cached images, JSON, views — waits
 * behind each drawing. The pool sends the drawings to one thread; the main thread keeps answering.
 * The thread starts with start() (the open-time service calls it once the server listens) or the
 * first drawing; until it has loaded its fonts (or if it dies), drawings run in this thread, once
 * this thread's drawing is warm: a drawing asked for before that starts the warm-up and is refused
 * (its open answers a blank at once), so no open waits for satori, resvg and the fonts to load.
 * Remote `<img>` are fetched here (the fetcher and its cache live here) and inlined as `data:` URIs
 * before the markup goes to the thread.
 */
import type { Worker } from 'node:worker_threads'
import { startTsWorker } from '../core/worker.ts'
import type { DrawMessage, DrawOp } from './draw-worker.ts'
import { decodeEntities, type ImageFetcher } from './image-markup.ts'
import { type OpenImages, openImages } from './rasterize.ts'

const WORKER = new URL('./draw-worker.ts', import.meta.url)
/** How long start() lets the thread get ready before this thread warms its own drawing. */
const WARM_HERE_AFTER_MS = 2_000
/** `<img … src="http(s)://…"`: the remote sources of a block's markup. */
const REMOTE_IMG = /(<img\b[^>]*?\bsrc\s*=\s*)(["'])(https?:\/\/[^"']+)\2/gi

/** The markup with every remote `<img>` that could be fetched replaced by its `data:` URI. */
export async function inlineImages(markup: string, fetchImage: ImageFetcher): Promise<string> {
  const urls = new Set<string>()
  for (const m of markup.matchAll(REMOTE_IMG)) if (m[3]) urls.add(m[3])
  if (urls.size === 0) return markup
  const data = new Map<string, string>()
  await Promise.all(
    [...urls].map(async (raw) => {
      const got = await fetchImage(decodeEntities(raw)).catch(() => undefined)
      if (got) data.set(raw, `data:${got.contentType};base64,${Buffer.from(got.body).toString('base64')}`)
    }),
  )
  return markup.replace(REMOTE_IMG, (whole, pre: string, q: string, url: string) => {
    const uri = data.get(url)
    return uri === undefined ? whole : `${pre}${q}${uri}${q}`
  })
}

export class DrawPool implements OpenImages {
  #worker: Worker | undefined
  #ready = false
  #closed = false
  #next = 1
  readonly #pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>()

  readonly #warmHereAfterMs: number
  #warmHereTimer: NodeJS.Timeout | undefined
  /** This thread's warm-up drawing was started / has settled. */
  #hereWarmStarted = false
  #hereIsWarm = false

  /**
   * The thread starts with start(), or else with the first drawing. `warmHereAfterMs` (default
   * 2 s): how long start() lets the thread get ready before this thread warms its own drawing.
   */
  constructor(
    private readonly inThread: OpenImages = openImages,
    opts: { warmHereAfterMs?: number } = {},
  ) {
    this.#warmHereAfterMs = opts.warmHereAfterMs ?? WARM_HERE_AFTER_MS
  }

  /**
   * Warms the drawing now rather than with the first open, which would otherwise be drawn cold
   * (≈ 250 ms on the slower hosts here, the whole 250 ms open-time deadline: a fallback image).
   * The thread starts (it loads its fonts and draws a first image before it takes drawings). This
   * thread warms its own way of drawing (satori, resvg and the fonts loaded, one small image drawn:
   * ≈ 0.8 s of CPU) only when it will be drawing: the thread not ready after `warmHereAfterMs`, or
   * lost. Warming it at every start cost the start-up that much of the HTTP thread for the first
   * second's opens only (issue 14, start-up ≤ 1 s). Idempotent.
   */
  start(): void {
    if (this.#started) return
    this.#ensureStarted()
    this.#warmHereTimer = setTimeout(() => {
      if (!this.#ready) this.#warmInThread()
    }, this.#warmHereAfterMs)
    this.#warmHereTimer.unref()
  }

  #warmInThread(): void {
    if (this.#hereWarmStarted || this.#closed) return
    this.#hereWarmStarted = true
    const warmed = () => {
      this.#hereIsWarm = true
    }
    void this.inThread.fallbackPng('warm', { width: 40, height: 20 }).then(warmed, warmed)
  }

  /**
   * A drawing in this thread: at once when it is warm; otherwise it starts the warm-up and refuses
   * this drawing (the open answers its blank at once). A cold drawing inside an open would hold the
   * HTTP thread for the whole warm-up (≈ 0.8 s) and, charged to the draw gate, leave the opens after
   * it without drawing time.
   */
  #here<T>(draw: () => Promise<T>): Promise<T> {
    if (this.#hereIsWarm) return draw()
    this.#warmInThread()
    return Promise.reject(
      new Error('drawing is warming up (renderer and fonts loading); the open is answered without it'),
    )
  }

  renderBlockPng(markup: string, size: { width: number; height: number }, fetchImage?: ImageFetcher) {
    this.#ensureStarted()
    if (!this.#ready) return this.#here(() => this.inThread.renderBlockPng(markup, size, fetchImage))
    const inlined = fetchImage ? inlineImages(markup, fetchImage) : Promise.resolve(markup)
    return inlined.then((m) =>
      this.#call('png', [m, size], () => this.#here(() => this.inThread.renderBlockPng(m, size))),
    )
  }

  renderCountdownGif(o: { untilMs: number; nowMs: number; width: number; height: number }) {
    return this.#call('gif', [o], () => this.#here(() => this.inThread.renderCountdownGif(o)))
  }

  fallbackPng(text: string, size: { width: number; height: number }) {
    return this.#call('fallbackPng', [text, size], () =>
      this.#here(() => this.inThread.fallbackPng(text, size)),
    )
  }

  fallbackGif(text: string, size: { width: number; height: number }) {
    return this.#call('fallbackGif', [text, size], () =>
      this.#here(() => this.inThread.fallbackGif(text, size)),
    )
  }

  blankPng(width: number, height: number): Buffer {
    return this.inThread.blankPng(width, height)
  }

  /** Whether drawings go to the thread now. */
  get ready(): boolean {
    return this.#ready
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#warmHereTimer)
    const w = this.#worker
    this.#worker = undefined
    this.#ready = false
    if (w) await w.terminate()
  }

  #call(op: DrawOp, args: unknown[], here: () => Promise<Buffer>): Promise<Buffer> {
    this.#ensureStarted()
    const w = this.#worker
    if (!this.#ready || w === undefined) return here()
    const id = this.#next++
    return new Promise<Buffer>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      w.postMessage({ id, op, args } satisfies DrawMessage)
    })
  }

  #started = false

  #ensureStarted(): void {
    if (this.#started) return
    this.#started = true
    this.#start()
  }

  #start(): void {
    if (this.#closed) return
    const w = startTsWorker(WORKER, null)
    this.#worker = w
    // Never what keeps a process alive; close() ends it.
    w.unref()
    w.on('message', (m: { ready?: true; id?: number; bytes?: Uint8Array; error?: string }) => {
      if (m.ready) {
        this.#ready = true
        return
      }
      const p = m.id === undefined ? undefined : this.#pending.get(m.id)
      if (p === undefined || m.id === undefined) return
      this.#pending.delete(m.id)
      if (m.bytes) p.resolve(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength))
      else p.reject(new Error(m.error ?? 'drawing failed'))
    })
    const lost = (why: string) => {
      if (this.#worker !== w) return
      this.#ready = false
      this.#worker = undefined
      for (const p of this.#pending.values()) p.reject(new Error(why))
      this.#pending.clear()
      // Drawings go on in this thread meanwhile (warmed now); a new thread takes over once it is ready.
      this.#warmInThread()
      if (!this.#closed) setTimeout(() => this.#start(), 1_000).unref()
    }
    w.on('error', (err) => lost(`the drawing thread failed: ${err.message}`))
    w.on('exit', (code) => lost(`the drawing thread exited (${code})`))
  }
}
