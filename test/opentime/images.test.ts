/**
 * Open-time PNGs: a live block's HTML laid out into a PNG of exactly the block's size, decoded with
 * pngjs and checked pixel by pixel; remote resources are never fetched behind the caller's back;
 * markup that cannot be laid out and sizes out of range are typed errors; blank and fallback PNGs.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { PNG } from 'pngjs'
import {
  blankPng,
  fallbackPng,
  ImageRenderError,
  MAX_IMAGE_SIDE,
  renderBlockPng,
} from '../../src/opentime/images.ts'

interface Decoded {
  width: number
  height: number
  data: Buffer
}
const decode = (png: Buffer): Decoded => PNG.sync.read(png)

const px = (img: Decoded, x: number, y: number) => {
  const i = (y * img.width + x) * 4
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!, img.data[i + 3]!] as const
}

/** Counts the pixels in [x0,x1)×[y0,y1) for which pred holds. */
function count(
  img: Decoded,
  [x0, y0, x1, y1]: [number, number, number, number],
  pred: (p: readonly [number, number, number, number]) => boolean,
): number {
  let n = 0
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (pred(px(img, x, y))) n++
  return n
}
const dark = ([r, g, b, a]: readonly number[]) => a === 255 && r! < 80 && g! < 80 && b! < 80
const white = ([r, g, b, a]: readonly number[]) => r === 255 && g === 255 && b === 255 && a === 255
const red = ([r, g, b, a]: readonly number[]) => a === 255 && r! > 200 && g! < 40 && b! < 40

/** A 4×4 opaque red PNG. */
function redPng(): Buffer {
  const png = new PNG({ width: 4, height: 4 })
  for (let i = 0; i < 16; i++) png.data.set([255, 0, 0, 255], i * 4)
  return PNG.sync.write(png)
}

const card = (text: string, extra = '') =>
  `<div style="display:flex;flex-direction:column;width:300px;height:120px;background:#ffffff">` +
  `<span style="font-size:40px;color:#000000">${text}</span>${extra}</div>`

describe('renderBlockPng', () => {
  test('dark text on white: the PNG is exactly the block size, dark where the text is, white elsewhere', async () => {
    const img = decode(await renderBlockPng(card('HELLO'), { width: 300, height: 120 }))
    assert.equal(img.width, 300)
    assert.equal(img.height, 120)
    // The text line is the top ~50 px; below it the card is plain white.
    const inText = count(img, [0, 0, 150, 50], dark)
    assert.ok(inText > 200, `expected the text's dark pixels in the top-left region, got ${inText}`)
    assert.equal(count(img, [0, 60, 300, 120], white), 300 * 60)
    assert.equal(count(img, [160, 0, 300, 120], white), 140 * 120)
    // The same card without text has no dark pixel at all.
    const empty = decode(await renderBlockPng(card(''), { width: 300, height: 120 }))
    assert.equal(count(empty, [0, 0, 300, 120], white), 300 * 120)
  })

  test("the contract's example block renders: its text drawn, its remote product image an empty box", async () => {
    const markup =
      '<div style="display:flex;flex-direction:column;width:600px;height:240px;background:#fff">\n' +
      '  <span style="font-size:28px">Still thinking about Brass Desk Lamp?</span>\n' +
      '  <img src="https://shop.example/lamp.jpg" width="200" height="150">\n</div>'
    const img = decode(await renderBlockPng(markup, { width: 600, height: 240 }))
    assert.deepEqual([img.width, img.height], [600, 240])
    assert.ok(count(img, [0, 0, 600, 40], dark) > 500)
    assert.equal(count(img, [0, 45, 600, 240], white), 600 * 195)
  })

  test('odd sizes come out exactly, the box outside the markup transparent', async () => {
    for (const [w, h] of [
      [1, 1],
      [333, 77],
      [17, 600],
    ] as const) {
      const img = decode(await renderBlockPng('<div style="display:flex">x</div>', { width: w, height: h }))
      assert.deepEqual([img.width, img.height], [w, h])
    }
    const img = decode(
      await renderBlockPng('<div style="display:flex;width:10px;height:10px;background:#000"></div>', {
        width: 40,
        height: 20,
      }),
    )
    assert.equal(count(img, [0, 0, 10, 10], dark), 100)
    assert.equal(
      count(img, [0, 0, 40, 20], (p) => p[3] === 0),
      40 * 20 - 100,
    )
  })

  test("Liquid's escaped output is decoded: &amp; and &#38; draw the same as &, &amp;amp; does not", async () => {
    const size = { width: 200, height: 60 }
    const a = await renderBlockPng(card('A&amp;B'), size)
    assert.deepEqual(await renderBlockPng(card('A&#38;B'), size), a)
    assert.deepEqual(await renderBlockPng(card('A&#x26;B'), size), a)
    assert.notDeepEqual(await renderBlockPng(card('A&amp;amp;B'), size), a)
  })

  test('Latin Extended, Cyrillic and Greek letters are drawn; a script Inter lacks draws the missing-glyph box', async () => {
    const size = { width: 60, height: 60 }
    const glyph = (ch: string) => renderBlockPng(card(ch), size)
    // Two different letters draw different pixels, unless both are the same missing-glyph box.
    for (const [a, b] of [
      ['Ł', 'Ś'],
      ['Ж', 'Щ'],
      ['Ω', 'Σ'],
    ]) {
      assert.notDeepEqual(await glyph(a!), await glyph(b!), `${a} and ${b} drew the same pixels`)
    }
    assert.deepEqual(await glyph('日'), await glyph('本'))
  })

  test('a data: image is drawn where the <img> is', async () => {
    const src = `data:image/png;base64,${redPng().toString('base64')}`
    const img = decode(
      await renderBlockPng(`<div style="display:flex"><img src="${src}" width="20" height="20"></div>`, {
        width: 40,
        height: 40,
      }),
    )
    assert.equal(count(img, [0, 0, 20, 20], red), 400)
    assert.equal(
      count(img, [0, 0, 40, 40], (p) => p[3] === 0),
      1600 - 400,
    )
  })

  describe('remote resources', () => {
    let server: Server
    let hits = 0
    let base = ''
    before(async () => {
      const body = redPng()
      server = createServer((_req, res) => {
        hits++
        res.writeHead(200, { 'content-type': 'image/png' }).end(body)
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    })
    after(() => new Promise<void>((r) => server.close(() => r())))

    const withRemote = (b: string) =>
      `<div style="display:flex"><img src="${b}/p.png" width="20" height="20">` +
      `<div style="display:flex;width:20px;height:20px;background-image:url(${b}/bg.png)"></div></div>`
    const boxes =
      '<div style="display:flex"><div style="display:flex;width:20px;height:20px"></div>' +
      '<div style="display:flex;width:20px;height:20px"></div></div>'
    const size = { width: 40, height: 20 }

    test('without a fetcher nothing is fetched: a remote <img> is an empty box of its size, a CSS url() is dropped', async () => {
      hits = 0
      const png = await renderBlockPng(withRemote(base), size)
      assert.equal(hits, 0)
      assert.deepEqual(png, await renderBlockPng(boxes, size))
    })

    test('an inline SVG <image> that is not data: is dropped: no request, no file read, the rest of the SVG drawn', async () => {
      hits = 0
      const svg = (images: string) =>
        `<div style="display:flex"><svg width="20" height="20" viewBox="0 0 20 20">${images}` +
        '<rect width="5" height="5" fill="#ff0000"/></svg></div>'
      const png = await renderBlockPng(
        svg(
          `<image href="${base}/svg.png" width="20" height="20"/>` +
            '<image href="/etc/hostname" width="20" height="20"/><image xlink:href="file:///etc/hostname"/>',
        ),
        size,
      )
      assert.equal(hits, 0)
      assert.deepEqual(png, await renderBlockPng(svg(''), size))
      assert.equal(count(decode(png), [0, 0, 5, 5], red), 25)
    })

    test("with a fetcher, remote images go through it (once per URL) and are drawn; the server sees only the fetcher's requests", async () => {
      hits = 0
      const asked: string[] = []
      const fetchImage = async (url: string) => {
        asked.push(url)
        const res = await fetch(url)
        return {
          contentType: res.headers.get('content-type') ?? '',
          body: new Uint8Array(await res.arrayBuffer()),
        }
      }
      const markup =
        `<div style="display:flex"><img src="${base}/p.png" width="20" height="20">` +
        `<img src="${base}/p.png" width="20" height="20"></div>`
      const img = decode(await renderBlockPng(markup, size, { fetchImage }))
      assert.deepEqual(asked, [`${base}/p.png`])
      assert.equal(hits, 1)
      assert.equal(count(img, [0, 0, 40, 20], red), 800)
    })

    test('a fetcher that fails, answers nothing or answers a non-image leaves the empty box', async () => {
      const empty = await renderBlockPng(boxes, size)
      for (const fetchImage of [
        async () => {
          throw new Error('timeout')
        },
        async () => undefined,
        async () => ({ contentType: 'text/html', body: new Uint8Array([60, 104]) }),
      ]) {
        const markup = `<div style="display:flex"><img src="${base}/p.png" width="20" height="20"><div style="display:flex;width:20px;height:20px"></div></div>`
        assert.deepEqual(await renderBlockPng(markup, size, { fetchImage }), empty)
      }
    })
  })

  test('markup satori cannot lay out is an ImageRenderError (layout, INK_ERR_RENDER_FAILED, 422)', async () => {
    await assert.rejects(
      renderBlockPng('<div style="display:flex;transform:rotate(foo)">a</div>', { width: 10, height: 10 }),
      (err: unknown) => {
        assert.ok(err instanceof ImageRenderError)
        assert.equal(err.reason, 'layout')
        assert.equal(err.code, 'INK_ERR_RENDER_FAILED')
        assert.equal(err.statusCode, 422)
        assert.match(err.message, /cannot be laid out: Invalid value "foo"/)
        return true
      },
    )
  })

  test('markup over the limits is an ImageRenderError (markup, INK_ERR_RENDER_LIMIT)', async () => {
    for (const markup of ['x'.repeat(1_000_001), '<div style="display:flex"><b>x</b></div>'.repeat(3000)]) {
      await assert.rejects(renderBlockPng(markup, { width: 10, height: 10 }), (err: unknown) => {
        assert.ok(err instanceof ImageRenderError)
        assert.equal(err.reason, 'markup')
        assert.equal(err.code, 'INK_ERR_RENDER_LIMIT')
        return true
      })
    }
  })
})

describe('sizes', () => {
  const bad = [
    [2001, 10],
    [10, 2001],
    [2001, 2001],
    [0, 10],
    [10, -1],
    [10.5, 10],
    [Number.NaN, 10],
  ] as const
  const isSize = (err: unknown) => {
    assert.ok(err instanceof ImageRenderError)
    assert.equal(err.reason, 'size')
    assert.equal(err.code, 'INK_ERR_RENDER_LIMIT')
    return true
  }
  test('a size outside 1..2000 (or not an integer) is refused by every image function', async () => {
    for (const [width, height] of bad) {
      await assert.rejects(renderBlockPng('<div>x</div>', { width, height }), isSize)
      await assert.rejects(fallbackPng('x', { width, height }), isSize)
      assert.throws(() => blankPng(width, height), isSize)
    }
  })
  test('2000×2000 is allowed', async () => {
    assert.equal(MAX_IMAGE_SIDE, 2000)
    const img = decode(blankPng(2000, 2000))
    assert.deepEqual([img.width, img.height], [2000, 2000])
  })
})

describe('blankPng', () => {
  test('is a valid PNG of the declared size, transparent everywhere, cached by size', () => {
    for (const [w, h] of [
      [1, 1],
      [600, 240],
      [3, 1999],
    ] as const) {
      const img = decode(blankPng(w, h))
      assert.deepEqual([img.width, img.height], [w, h])
      assert.equal(
        count(img, [0, 0, w, h], (p) => p[3] === 0),
        w * h,
      )
    }
    assert.equal(blankPng(600, 240), blankPng(600, 240))
  })
})

describe('fallbackPng', () => {
  test('draws the text centred: dark pixels in the middle band, white at the edges', async () => {
    const img = decode(await fallbackPng('Our new arrivals are in.', { width: 600, height: 240 }))
    assert.deepEqual([img.width, img.height], [600, 240])
    assert.ok(count(img, [0, 90, 600, 150], dark) > 500)
    assert.equal(count(img, [0, 0, 600, 60], white), 600 * 60)
    assert.equal(count(img, [0, 180, 600, 240], white), 600 * 60)
    assert.equal(count(img, [0, 0, 15, 240], white), 15 * 240)
    assert.equal(count(img, [585, 0, 600, 240], white), 15 * 240)
    // A short word sits in the middle both ways: nothing in the outer thirds or the top and bottom bands.
    const word = decode(await fallbackPng('Sale', { width: 600, height: 240 }))
    assert.ok(count(word, [200, 80, 400, 160], dark) > 300)
    assert.equal(count(word, [0, 0, 200, 240], white), 200 * 240)
    assert.equal(count(word, [400, 0, 600, 240], white), 200 * 240)
    assert.equal(count(word, [0, 0, 600, 70], white), 600 * 70)
    assert.equal(count(word, [0, 170, 600, 240], white), 600 * 70)
  })
})
