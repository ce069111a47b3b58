/**
 * The drawing thread (draw-pool.ts): runs the image functions (satori + resvg, the GIF encoder) off
 * the HTTP event loop. Messages in: `{ id, op, args }`; out: `{ id, bytes }` or `{ id, error }`, and
 * `{ ready: true }` once the fonts are loaded and a first image drawn.
 */
import { parentPort } from 'node:worker_threads'
import { openImages } from './rasterize.ts'

export type DrawOp = 'png' | 'gif' | 'fallbackPng' | 'fallbackGif'

export interface DrawMessage {
  id: number
  op: DrawOp
  /** png: [markup, size]; gif: [{untilMs, nowMs, width, height}]; fallback*: [text, size]. */
  args: unknown[]
}

type Size = { width: number; height: number }

async function run(m: DrawMessage): Promise<Buffer> {
  switch (m.op) {
    case 'png':
      return openImages.renderBlockPng(String(m.args[0]), m.args[1] as Size)
    case 'gif':
      return openImages.renderCountdownGif(m.args[0] as { untilMs: number; nowMs: number } & Size)
    case 'fallbackPng':
      return openImages.fallbackPng(String(m.args[0]), m.args[1] as Size)
    case 'fallbackGif':
      return openImages.fallbackGif(String(m.args[0]), m.args[1] as Size)
  }
}

const port = parentPort
if (port) {
  port.on('message', (m: DrawMessage) => {
    run(m).then(
      (bytes) => {
        // A copy with its own ArrayBuffer (a Buffer may be a view into a shared pool), moved, not cloned.
        const own = new Uint8Array(bytes)
        port.postMessage({ id: m.id, bytes: own }, [own.buffer])
      },
      (err: unknown) =>
        port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) }),
    )
  })
  // Fonts load on the first drawing: do it now, so the first open is not the slow one.
  void openImages
    .fallbackPng('ready', { width: 40, height: 20 })
    .finally(() => port.postMessage({ ready: true }))
}
