import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { GifReader } from 'omggif'
import { PNG } from 'pngjs'
import { DrawPool, inlineImages } from '../../src/opentime/draw-pool.ts'
import { openImages } from '../../src/opentime/rasterize.ts'

/** A pool over the real drawing functions that records what this thread draws. */
function recordingPool(opts: { warmHereAfterMs?: number } = {}): { pool: DrawPool; drawn: string[] } {
  const drawn: string[] = []
  const pool = new DrawPool(
    {
      ...openImages,
      fallbackPng: (text, size) => {
        drawn.push(`${text} ${size.width}x${size.height}`)
        return openImages.fallbackPng(text, size)
      },
    },
    opts,
  )
  return { pool, drawn }
}

async function untilReady(pool: DrawPool): Promise<void> {
  const end = Date.now() + 20_000
  while (!pool.ready && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  assert.equal(pool.ready, true, 'the thread is ready although nothing was asked to be drawn')
}

test('start() gets the thread ready before any open, and this thread draws nothing when it is in time', {
  timeout: 30_000,
}, async () => {
  const { pool, drawn } = recordingPool({ warmHereAfterMs: 20_000 })
  try {
    assert.equal(pool.ready, false)
    pool.start()
    pool.start()
    await untilReady(pool)
    assert.deepEqual(drawn, [], 'no warm-up drawing on the HTTP thread: the thread was ready in time')
  } finally {
    await pool.close()
  }
})

test('start() warms this thread too, once, when the thread is not ready in time', {
  timeout: 30_000,
}, async () => {
  const { pool, drawn } = recordingPool({ warmHereAfterMs: 0 })
  try {
    pool.start()
    pool.start()
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(pool.ready, false, 'the thread takes longer than 20 ms to load its fonts')
    assert.deepEqual(drawn, ['warm 40x20'], 'one warm-up drawing here, however often start() is called')
    await untilReady(pool)
    assert.deepEqual(drawn, ['warm 40x20'])
  } finally {
    await pool.close()
  }
})

describe('drawing in a worker thread', () => {
  const pool = new DrawPool()
  after(() => pool.close())

  test('once ready, images come from the thread, of the declared size', { timeout: 30_000 }, async () => {
    assert.equal(pool.ready, false, 'no thread before the first drawing')
    // The first drawing starts the thread and this thread's warm-up, and is refused meanwhile (its
    // open answers a blank at once instead of waiting for the renderer and the fonts to load).
    await assert.rejects(pool.fallbackPng('Hi', { width: 30, height: 10 }), /warming up/)
    const end = Date.now() + 20_000
    while (!pool.ready && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
    assert.equal(pool.ready, true)
    const png = PNG.sync.read(
      await pool.renderBlockPng('<div style="display:flex;width:120px;height:40px;background:#f00"></div>', {
        width: 120,
        height: 40,
      }),
    )
    assert.deepEqual([png.width, png.height, ...png.data.subarray(0, 4)], [120, 40, 255, 0, 0, 255])
    const fb = PNG.sync.read(await pool.fallbackPng('Later.', { width: 90, height: 30 }))
    assert.deepEqual([fb.width, fb.height], [90, 30])
    const gif = new GifReader(
      new Uint8Array(
        await pool.renderCountdownGif({
          untilMs: Date.now() + 3_600_000,
          nowMs: Date.now(),
          width: 200,
          height: 50,
        }),
      ),
    )
    assert.deepEqual([gif.width, gif.height], [200, 50])
  })

  test("a remote <img> reaches the thread fetched (through the caller's fetcher) and is drawn", async () => {
    assert.equal(pool.ready, true)
    const red = new PNG({ width: 20, height: 20 })
    for (let i = 0; i < red.data.length; i += 4) red.data.set([255, 0, 0, 255], i)
    const body = PNG.sync.write(red)
    const fetched: string[] = []
    const out = PNG.sync.read(
      await pool.renderBlockPng(
        '<div style="display:flex;width:60px;height:20px;background:#fff"><img src="https://cdn.example/r.png" width="20" height="20"></div>',
        { width: 60, height: 20 },
        async (url) => {
          fetched.push(url)
          return { contentType: 'image/png', body }
        },
      ),
    )
    assert.deepEqual(fetched, ['https://cdn.example/r.png'])
    assert.deepEqual([...out.data.subarray((10 * 60 + 10) * 4, (10 * 60 + 10) * 4 + 4)], [255, 0, 0, 255])
    assert.deepEqual([...out.data.subarray((10 * 60 + 50) * 4, (10 * 60 + 50) * 4 + 4)], [255, 255, 255, 255])
  })

  test('a drawing the thread refuses rejects (the open then answers its fallback)', async () => {
    await assert.rejects(pool.renderBlockPng('<div>x</div>', { width: 0, height: 10 }))
  })
})

describe('remote images are inlined before the markup leaves the main thread', () => {
  test('fetched sources become data: URIs (entities decoded for the fetch); failed ones stay', async () => {
    const asked: string[] = []
    const markup =
      '<div><img src="https://cdn.example/a.png?x=1&amp;y=2" width="10" height="10"><img src=\'https://cdn.example/missing.png\'></div>'
    const out = await inlineImages(markup, async (url) => {
      asked.push(url)
      return url.includes('missing')
        ? undefined
        : { contentType: 'image/png', body: new Uint8Array([1, 2, 3]) }
    })
    assert.deepEqual(asked.sort(), ['https://cdn.example/a.png?x=1&y=2', 'https://cdn.example/missing.png'])
    assert.equal(
      out,
      '<div><img src="data:image/png;base64,AQID" width="10" height="10"><img src=\'https://cdn.example/missing.png\'></div>',
    )
  })
})
