import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { createTokenCodec, type TokenPayload } from '../../src/delivery/tokens.ts'
import { trackMessage, unsubscribeHeaders, unsubscribeUrl } from '../../src/delivery/tracking.ts'

const T0 = 1_800_000_000_000
const codec = createTokenCodec({
  keys: { k1: Buffer.alloc(32, 7) },
  currentKid: 'k1',
  clock: { now: () => T0 },
})
const BASE = 'https://t.example'
const opts = {
  baseUrl: `${BASE}/`,
  codec,
  ttlMs: 30 * 86_400_000,
  workspaceId: 'ws-a',
  campaignId: 'spring-sale',
  recipient: 'user-1',
  messageId: 'msg-1',
}

const TRACKED = /https:\/\/t\.example\/c\/([A-Za-z0-9_.-]+)/g

/** The payloads of the click tokens in the HTML, in document order. */
function clicks(html: string): TokenPayload[] {
  return [...html.matchAll(TRACKED)].map(([, token]) => {
    const result = codec.verify(token ?? '')
    assert.ok(result.ok, `token in ${html} does not verify`)
    return result.payload
  })
}

const pixelOf = (html: string) =>
  /<img src="https:\/\/t\.example\/p\/([^"]+)" width="1" height="1" alt="" style="display:none">/.exec(html)

describe('trackMessage', () => {
  test('each http(s) link becomes a click URL whose token carries the original URL and the message ids', () => {
    const html = `<p><a href="https://shop.example/a?x=1">A</a> <a href='http://shop.example/b'>B</a> <a href=https://shop.example/c>C</a></p>`
    const out = trackMessage(html, opts)
    assert.deepEqual(out.links, [
      'https://shop.example/a?x=1',
      'http://shop.example/b',
      'https://shop.example/c',
    ])
    assert.deepEqual(
      clicks(out.html).map((p) => p.url),
      out.links,
    )
    assert.deepEqual(clicks(out.html)[0], {
      kind: 'click',
      workspaceId: 'ws-a',
      campaignId: 'spring-sale',
      recipient: 'user-1',
      messageId: 'msg-1',
      url: 'https://shop.example/a?x=1',
    })
    assert.doesNotMatch(out.html, /shop\.example/, 'no original URL is left in an href')
    assert.doesNotMatch(out.html, /[?&]url=/, 'the destination never travels as a parameter')
  })

  test('entity-encoded URLs are decoded before signing, so the redirect goes where the browser would', () => {
    const out = trackMessage('<a href="https://shop.example/?a=1&amp;b=2&#38;c=3">x</a>', opts)
    assert.deepEqual(out.links, ['https://shop.example/?a=1&b=2&c=3'])
    assert.equal(clicks(out.html)[0]?.url, 'https://shop.example/?a=1&b=2&c=3')
  })

  test('other attributes, text and markup outside the rewritten hrefs stay byte for byte', () => {
    const html = `<!doctype html><html><head><style>a{color:red}</style></head><body>
<a class="btn" HREF = "HTTPS://Shop.Example/x" target=_blank data-x='1'>Go &amp; see</a>
</body></html>`
    const out = trackMessage(html, opts)
    const withoutPixel = out.html.replace(pixelOf(out.html)?.[0] ?? '', '')
    assert.equal(
      withoutPixel.replace(/href="[^"]*"/, 'HREF = "HTTPS://Shop.Example/x"'),
      html,
      'only the href changed',
    )
    assert.deepEqual(out.links, ['https://shop.example/x'])
  })

  test('mailto:, tel:, anchors, relative links and links marked data-ink-notrack are left alone', () => {
    const html = `<body><a href="mailto:help@shop.example">m</a><a href="tel:+441234">t</a><a href="#top">a</a>
<a href="/relative">r</a><a href="javascript:alert(1)">j</a><a name="x">n</a>
<a href="https://shop.example/keep" data-ink-notrack>k</a><a data-ink-notrack="" href='https://shop.example/k2'>k</a></body>`
    const out = trackMessage(html, opts)
    assert.deepEqual(out.links, [])
    assert.equal(out.html.replace(pixelOf(out.html)?.[0] ?? '', ''), html)
  })

  test('links inside comments, such as Outlook conditional blocks, are not rewritten', () => {
    const html =
      '<body><!--[if mso]><a href="https://shop.example/mso">o</a><![endif]--><a href="https://shop.example/x">x</a></body>'
    const out = trackMessage(html, opts)
    assert.deepEqual(out.links, ['https://shop.example/x'])
    assert.match(out.html, /<!--\[if mso\]><a href="https:\/\/shop\.example\/mso">o<\/a><!\[endif\]-->/)
  })

  test('link-like text inside <style>, <script>, <title>, <textarea> and <xmp> is text, not a link', () => {
    const inner = '<a href="https://shop.example/inside">i</a>'
    for (const el of ['style', 'script', 'title', 'textarea', 'xmp', 'noframes']) {
      const html = `<html><head></head><body><${el}>${inner}</${el}><a href="https://shop.example/after">a</a></body></html>`
      const out = trackMessage(html, opts)
      assert.deepEqual(out.links, ['https://shop.example/after'], el)
      assert.ok(out.html.includes(`<${el}>${inner}</${el}>`), el)
    }
  })

  test('inside <svg>, <title> and <style> are elements, and an SVG link is wrapped like any other', () => {
    const html =
      '<body><svg><title>t</title><a href="https://shop.example/svg"><text>s</text></a></svg><a href="https://shop.example/html">h</a></body>'
    assert.deepEqual(trackMessage(html, opts).links, [
      'https://shop.example/svg',
      'https://shop.example/html',
    ])
  })

  test('a duplicated href attribute: the first one counts, as in a browser, and only it is rewritten', () => {
    const html = '<body><a href="https://shop.example/first" href="https://shop.example/second">x</a></body>'
    const out = trackMessage(html, opts)
    assert.deepEqual(out.links, ['https://shop.example/first'])
    assert.ok(out.html.includes('href="https://shop.example/second"'))
  })

  test('our own tracking and unsubscribe URLs are not wrapped again', () => {
    const unsub = unsubscribeUrl(opts)
    const html = `<a href="${unsub}">unsubscribe</a>`
    const out = trackMessage(html, opts)
    assert.deepEqual(out.links, [])
    assert.ok(out.html.startsWith(html))
  })

  test('the open pixel goes just before </body> and carries an open token for the message', () => {
    const out = trackMessage('<html><body><p>Hi</p></body></html>', opts)
    const pixel = pixelOf(out.html)
    assert.ok(pixel, out.html)
    assert.ok(out.html.endsWith(`${pixel[0]}</body></html>`))
    const result = codec.verify(pixel[1] ?? '')
    assert.deepEqual(result.ok && result.payload, {
      kind: 'open',
      workspaceId: 'ws-a',
      campaignId: 'spring-sale',
      recipient: 'user-1',
      messageId: 'msg-1',
    })
  })

  test('without </body> the pixel goes before </html>, and without either at the end', () => {
    const noBody = trackMessage('<html><body><p>Hi</p></html>', opts).html
    assert.match(noBody, /<p>Hi<\/p><img [^>]+><\/html>$/)
    const fragment = trackMessage('<p>Hi <!-- </body> --><script>"</body>"</script>', opts).html
    assert.match(
      fragment,
      /<script>"<\/body>"<\/script><img [^>]+>$/,
      'a </body> in a comment or script is not the end',
    )
  })

  test('a link the parser reparents (misnested markup) is rewritten once', () => {
    const out = trackMessage(
      '<a href="https://x.example/"><b>bold<a href="https://y.example/">y</a></b></a>',
      opts,
    )
    assert.deepEqual(out.links, ['https://x.example/', 'https://y.example/'])
    assert.equal(clicks(out.html).length, 2)
  })

  test('any set of links round-trips: each is wrapped and its token names it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.webUrl({ withQueryParameters: true, withFragments: true }), { maxLength: 8 }),
        fc.constantFrom('"', "'"),
        (urls, q) => {
          const html = urls
            .map(
              (u) =>
                `<a href=${q}${u.replaceAll('&', '&amp;').replaceAll(q, q === '"' ? '&quot;' : '&#39;')}${q}>l</a>`,
            )
            .join('\n')
          const out = trackMessage(html, opts)
          const expected = urls.map((u) => new URL(u).href)
          assert.deepEqual(out.links, expected)
          assert.deepEqual(
            clicks(out.html).map((p) => p.url),
            expected,
          )
        },
      ),
    )
  })

  test('a base URL that is not an absolute http(s) URL is refused', () => {
    for (const baseUrl of ['t.example', 'ftp://t.example', 'https://t.example/?q=1'])
      assert.throws(() => trackMessage('<p>x</p>', { ...opts, baseUrl }), TypeError)
  })
})

describe('unsubscribeHeaders', () => {
  test('they name the signed one-click URL and announce RFC 8058 one-click', () => {
    const headers = unsubscribeHeaders(opts)
    assert.equal(headers['List-Unsubscribe-Post'], 'List-Unsubscribe=One-Click')
    const m = /^<https:\/\/t\.example\/u\/([A-Za-z0-9_.-]+)>$/.exec(headers['List-Unsubscribe'])
    assert.ok(m, headers['List-Unsubscribe'])
    const result = codec.verify(m[1] ?? '')
    assert.equal(result.ok && result.payload.kind, 'unsubscribe')
    assert.equal(result.ok && result.payload.recipient, 'user-1')
  })

  test('an address given for the token travels in it, and a mailto: follows the URL', () => {
    const headers = unsubscribeHeaders({
      ...opts,
      email: 'jane@shop.example',
      mailto: 'mailto:unsub@t.example',
    })
    const m = /^<https:\/\/t\.example\/u\/([^>]+)>, <mailto:unsub@t\.example>$/.exec(
      headers['List-Unsubscribe'],
    )
    assert.ok(m, headers['List-Unsubscribe'])
    const result = codec.verify(m[1] ?? '')
    assert.equal(result.ok && result.payload.email, 'jane@shop.example')
  })

  test('a mailto: that could inject a header, or an address that is not one, is refused', () => {
    assert.throws(
      () => unsubscribeHeaders({ ...opts, mailto: 'mailto:a@b.example\r\nBcc: x@y.example' }),
      TypeError,
    )
    assert.throws(() => unsubscribeHeaders({ ...opts, mailto: 'https://x.example' }), TypeError)
    assert.throws(() => unsubscribeHeaders({ ...opts, email: 'not an address' }), TypeError)
  })
})
