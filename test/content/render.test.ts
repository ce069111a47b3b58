import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { compileTemplate } from '../../src/content/compile.ts'
import { HttpConnectedContent } from '../../src/content/connected-content/http-connected-content.ts'
import { createEngine, type Engine } from '../../src/content/liquid-engine.ts'
import type { FallbackRecord } from '../../src/content/render-state.ts'
import type { TemplateVersion } from '../../src/content/template-store.ts'
import { type RecipientData, type RenderResult, renderEmail } from '../../src/render/render-email.ts'

/** A local recommendations API: /recs answers JSON, /hang never answers, /fail answers 500. */
function startApi(): Promise<{ server: Server; base: string; hits: () => number }> {
  let hits = 0
  const server = createServer((req, res) => {
    hits++
    if (req.url?.startsWith('/hang')) return
    if (req.url?.startsWith('/fail')) {
      res.writeHead(500).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ title: 'Picked for you', items: [{ name: 'Lamp' }, { name: 'Desk' }] }))
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      resolve({ server, base: `http://127.0.0.1:${port}`, hits: () => hits })
    }),
  )
}

/** The body's fallbacks; the text part (derived from the body) repeats them with part "text". */
const htmlFallbacks = (r: { report: { fallbacks: FallbackRecord[] } }) =>
  r.report.fallbacks.filter((f) => f.part === 'html')

const version = (over: Partial<TemplateVersion>): TemplateVersion => ({
  workspaceId: 'w',
  templateId: 't',
  version: 1,
  name: 't',
  subject: 'Hi',
  preheader: '',
  format: 'html',
  body: '',
  text: null,
  hash: '',
  createdAt: 0,
  ...over,
})

describe('rendering with fallbacks', () => {
  let api: Awaited<ReturnType<typeof startApi>>
  let cc: HttpConnectedContent
  let engine: Engine
  before(async () => {
    api = await startApi()
    const host = new URL(api.base).host
    cc = new HttpConnectedContent({
      allowHosts: () => [host],
      allowedPorts: [Number(new URL(api.base).port)],
    })
    engine = createEngine({
      blocks: { footer: '<p>Bye {{ first_name | default: "friend" }}</p>' },
      connectedContent: cc,
    })
  })
  after(async () => {
    await cc.close()
    api.server.close()
  })

  const render = async (
    over: Partial<TemplateVersion>,
    recipient: Partial<RecipientData> = {},
    budgetMs = 500,
    faults = {},
  ) => {
    const compiled = await compileTemplate(version(over), engine)
    return renderEmail(
      engine,
      compiled,
      { profileOutcome: 'live', ...recipient },
      {
        workspaceId: 'w',
        deadline: Date.now() + budgetMs,
        budgetMs,
        faults,
        workspaceFallbacks: { city: 'your city' },
      },
    )
  }
  const ok = (r: RenderResult) => {
    assert.ok(r.ok, r.ok ? '' : (r.error?.message ?? r.skip?.reason))
    return r
  }

  test('{{first_name}} with no filter renders the trait, as the simplest placeholders do everywhere', async () => {
    const r = ok(await render({ body: '<p>Hi {{first_name}}</p>' }, { traits: { first_name: 'Ann' } }))
    assert.match(r.html, /<p>Hi Ann<\/p>/)
    assert.deepEqual(r.report.fallbacks, [])
  })

  test('a missing trait falls back to its default filter, then to the workspace fallback, and both are reported as missing', async () => {
    const r = ok(
      await render({ body: '<p>{{ first_name | default: "there" }} in {{ city }}</p>' }, { traits: {} }),
    )
    assert.match(r.html, /<p>there in your city<\/p>/)
    assert.deepEqual(
      htmlFallbacks(r).map((f) => [f.placeholder, f.reason, f.source, f.value]),
      [
        ['first_name', 'missing', 'default-filter', 'there'],
        ['city', 'missing', 'workspace-fallback', 'your city'],
      ],
    )
  })

  test('a value that cannot be printed falls back as invalid', async () => {
    const r = ok(
      await render({ body: '<p>{{ tier | default: "member" }}</p>' }, { traits: { tier: { level: 3 } } }),
    )
    assert.match(r.html, /<p>member<\/p>/)
    assert.equal(r.report.fallbacks[0]?.reason, 'invalid')
  })

  test('an object printed in the HTML body falls back like in the subject and text, not as [object Object]', async () => {
    const r = ok(
      await render(
        { subject: 'Deals in {{ city }}', body: '<p>{{ city }}</p>' },
        { traits: { city: { name: 'Paris' } } },
      ),
    )
    assert.match(r.html, /<p>your city<\/p>/)
    assert.doesNotMatch(r.html, /object Object/)
    assert.equal(r.subject, 'Deals in your city')
    assert.match(r.text, /your city/)
    assert.deepEqual(
      r.report.fallbacks.map((f) => [f.part, f.placeholder, f.reason, f.source, f.value]),
      [
        ['html', 'city', 'invalid', 'workspace-fallback', 'your city'],
        ['subject', 'city', 'invalid', 'workspace-fallback', 'your city'],
        ['text', 'city', 'invalid', 'workspace-fallback', 'your city'],
      ],
    )
  })

  test("in the HTML body, an object left by the author's filters prints nothing and is reported; a string they leave is still escaped", async () => {
    const r = ok(
      await render(
        {
          body: "<p>{{ book | property_accessor: 'author' }}|{{ book | property_accessor: 'title' }}</p>",
        },
        { traits: { book: { author: { first: 'Frank' }, title: '<Dune>' } } },
      ),
    )
    assert.match(r.html, /<p>\|&lt;Dune&gt;<\/p>/)
    assert.deepEqual(
      htmlFallbacks(r).map((f) => [f.placeholder, f.reason, f.source, f.value]),
      [['book', 'invalid', 'none', null]],
    )
  })

  test("the preheader is escaped with the same entities as the body's outputs", async () => {
    const r = ok(
      await render(
        { preheader: 'Say "hi" & <bye>', body: '<p>{{ quote }}</p>' },
        { traits: { quote: '"x"' } },
      ),
    )
    assert.match(r.html, /<p>&#34;x&#34;<\/p>/)
    assert.ok(r.html.includes('Say &#34;hi&#34; &amp; &lt;bye&gt;'), r.html)
  })

  test('a source that hangs falls back as timeout and the render still answers within the deadline', {
    timeout: 10_000,
  }, async () => {
    // /hang never answers and the source allows itself 60 s: only the render's 200 ms deadline can
    // end the call before the test's timeout, and the call's message names the time it was given.
    const r = ok(
      await render(
        {
          body: `{% connected_content ${api.base}/hang :save recs :timeout 60000 %}<h2>{{ recs.title | default: "Our bestsellers" }}</h2>`,
        },
        {},
        200,
      ),
    )
    assert.match(r.html, /<h2>Our bestsellers<\/h2>/)
    assert.equal(r.report.sources[0]?.outcome, 'timeout')
    const given = Number(/no answer within (\d+) ms/.exec(r.report.sources[0]?.message ?? '')?.[1])
    assert.ok(given > 0 && given <= 200, `the call was given ${given} ms: ${r.report.sources[0]?.message}`)
    assert.deepEqual(
      htmlFallbacks(r).map((f) => [f.placeholder, f.reason]),
      [['recs.title', 'timeout']],
    )
  })

  test('a source that fails falls back as error; one that answers fills the placeholders', async () => {
    const r = ok(
      await render(
        {
          body: `{% connected_content ${api.base}/fail :save bad :timeout 300 %}{% connected_content ${api.base}/recs?u={{ user_id }} :save recs :timeout 300 %}<h2>{{ recs.title }}</h2>{% for i in recs.items %}<li>{{ i.name }}</li>{% endfor %}<p>{{ bad.title | default: "x" }}</p>`,
        },
        { userId: 'u&1' },
      ),
    )
    assert.match(r.html, /<h2>Picked for you<\/h2><li>Lamp<\/li><li>Desk<\/li>/)
    assert.equal(
      r.report.sources.find((s) => s.name === 'recs')?.url,
      `${api.base}/recs?u=u%261`,
      'interpolated values are URL-encoded',
    )
    assert.deepEqual(
      htmlFallbacks(r).map((f) => [f.placeholder, f.reason]),
      [['bad.title', 'error']],
    )
  })

  test('a section whose data is missing renders its fallback block and is reported once', async () => {
    const r = ok(
      await render({
        body: '{% section "recs" %}<h2>Because you viewed {{ last_viewed_product.name }}</h2>{% fallback %}<h2>Bestsellers</h2>{% endsection %}',
      }),
    )
    assert.match(r.html, /<h2>Bestsellers<\/h2>/)
    assert.doesNotMatch(r.html, /Because you viewed/)
    assert.deepEqual(
      htmlFallbacks(r).map((f) => [f.placeholder, f.reason, f.source]),
      [['section recs', 'missing', 'fallback-block']],
    )
  })

  test('hostile profile data is HTML-escaped in the body and kept plain in the subject and text', async () => {
    const evil = '<script>alert(1)</script>'
    const r = ok(
      await render(
        { subject: 'For {{ first_name }}', body: '<p>{{ first_name }}</p><a href="{{ url }}">x</a>' },
        { traits: { first_name: evil, url: '" onmouseover="x' } },
      ),
    )
    assert.ok(r.html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'))
    assert.ok(!r.html.includes('<script>alert'))
    assert.ok(
      r.html.includes('href="&#34; onmouseover=&#34;x"') ||
        r.html.includes('href="&quot; onmouseover=&quot;x"'),
    )
    assert.equal(r.subject, `For ${evil}`)
    assert.ok(r.text.includes(evil))
  })

  test('a runaway loop is stopped by the render limit and the render fails instead of hanging', {
    timeout: 30_000,
  }, async () => {
    const limited = createEngine({
      blocks: {},
      connectedContent: cc,
      limits: { parseLimit: 1e6, renderLimit: 100, memoryLimit: 1e7 },
    })
    const compiled = await compileTemplate(
      version({ body: '{% for i in (1..1000000) %}{{ i }}{% endfor %}' }),
      limited,
    )
    const r = await renderEmail(
      limited,
      compiled,
      { profileOutcome: 'live' },
      { workspaceId: 'w', deadline: Date.now() + 500, budgetMs: 500 },
    )
    assert.equal(r.ok, false)
    assert.equal(r.ok === false && r.error?.code, 'INK_ERR_RENDER_LIMIT')
  })

  test('memory-doubling templates are stopped by the memory limit', async () => {
    const limited = createEngine({
      blocks: {},
      connectedContent: cc,
      limits: { parseLimit: 1e6, renderLimit: 1000, memoryLimit: 1e6 },
    })
    const body =
      '{% assign a = "1,2,3" | split: "," %}{% for i in (1..40) %}{% assign a = a | concat: a %}{% endfor %}{{ a | size }}'
    const r = await renderEmail(
      limited,
      await compileTemplate(version({ body }), limited),
      { profileOutcome: 'live' },
      {
        workspaceId: 'w',
        deadline: Date.now() + 500,
        budgetMs: 500,
      },
    )
    assert.equal(r.ok, false)
  })

  test('injected faults: a delayed source and dropped traits show the degraded email', async () => {
    const r = ok(
      await render(
        {
          body: `{% connected_content ${api.base}/recs :save recs :timeout 100 %}<h2>{{ recs.title | default: "Bestsellers" }}</h2><p>{{ first_name | default: "there" }}</p>`,
        },
        { traits: { first_name: 'Ann' } },
        500,
        { delaySources: { recs: 400 }, dropTraits: ['first_name'] },
      ),
    )
    assert.match(r.html, /<h2>Bestsellers<\/h2><p>there<\/p>/)
    assert.equal(r.report.sources[0]?.outcome, 'timeout')
  })

  test('MJML is compiled once into HTML with a hidden preheader, and the text part is derived from it', async () => {
    const body = `<mjml><mj-body><mj-section><mj-column>
<mj-text><h1>Hello {{ first_name | default: "there" }}</h1></mj-text>
<mj-raw>{% for p in recent_products %}</mj-raw><mj-text><a href="{{ p.url }}">{{ p.name }}</a></mj-text><mj-raw>{% endfor %}</mj-raw>
</mj-column></mj-section></mj-body></mjml>`
    const r = ok(
      await render(
        { format: 'mjml', body, preheader: 'Hand-picked for {{ first_name }}' },
        {
          traits: {
            first_name: 'Ann',
            recent_products: [{ name: 'Lamp', url: 'https://shop.example/lamp' }],
          },
        },
      ),
    )
    assert.match(r.html, /<!doctype html>/i)
    assert.match(r.html, /aria-hidden="true">Hand-picked for Ann<\/div>/)
    assert.match(r.html, /<a href="https:\/\/shop.example\/lamp">Lamp<\/a>/)
    assert.match(r.text, /Hello Ann/)
    assert.match(r.text, /Lamp \[https:\/\/shop.example\/lamp\]/)
    assert.doesNotMatch(r.text, /Hand-picked/)
  })

  test('concurrent renders calling the same source make one outgoing request, then the TTL cache answers', async () => {
    const before = api.hits()
    const body = `{% connected_content ${api.base}/recs?campaign=c1 :save recs :timeout 300 :cache_max_age 30 %}<h2>{{ recs.title }}</h2>`
    const results = await Promise.all(Array.from({ length: 20 }, () => render({ body })))
    for (const r of results) assert.match(ok(r).html, /<h2>Picked for you<\/h2>/)
    assert.equal(api.hits() - before, 1)
    const again = ok(await render({ body }))
    assert.equal(again.report.sources[0]?.fromCache, true)
    assert.equal(api.hits() - before, 1)
  })

  test('a cached source answers the render at once, and a preview that delays or fails it still sees the fallback', async () => {
    const body = `{% connected_content ${api.base}/recs?campaign=c2 :save recs :timeout 300 :cache_max_age 30 %}<h2>{{ recs.title | default: "Bestsellers" }}</h2>`
    // The first successful call fills the cache (a loaded machine may make a first try late).
    for (let i = 0; i < 10; i++)
      if (ok(await render({ body })).report.sources[0]?.outcome === 'success') break
    const before = api.hits()
    const cached = ok(await render({ body }))
    assert.match(cached.html, /<h2>Picked for you<\/h2>/)
    assert.deepEqual(
      [cached.report.sources[0]?.outcome, cached.report.sources[0]?.fromCache, cached.report.fallbacks],
      ['success', true, []],
    )
    const failed = ok(await render({ body }, {}, 500, { failSources: ['recs'] }))
    assert.match(failed.html, /<h2>Bestsellers<\/h2>/)
    assert.deepEqual(
      [failed.report.sources[0]?.outcome, failed.report.sources[0]?.message],
      ['error', 'injected failure'],
    )
    const late = ok(await render({ body }, {}, 500, { delaySources: { recs: 1_000 } }))
    assert.match(late.html, /<h2>Bestsellers<\/h2>/)
    assert.equal(late.report.sources[0]?.outcome, 'timeout')
    assert.equal(api.hits(), before, 'all from the cache or the injected faults')
  })

  test('a source whose URL uses a variable the template assigns is called once, with the assigned value', async () => {
    const seen: string[] = []
    const probe = createServer((req, res) => {
      seen.push(req.url ?? '')
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"title":"Assigned"}')
    })
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const { port } = probe.address() as AddressInfo
    const local = new HttpConnectedContent({ allowHosts: () => [`127.0.0.1:${port}`] })
    try {
      const e = createEngine({ blocks: {}, connectedContent: local })
      const body = `{% assign who = first_name | downcase %}{% connected_content http://127.0.0.1:${port}/r?u={{ who }} :save r :timeout 300 %}<h2>{{ r.title }}</h2>`
      const compiled = await compileTemplate(version({ body }), e)
      const r = ok(
        await renderEmail(
          e,
          compiled,
          { profileOutcome: 'live', traits: { first_name: 'ADA' } },
          {
            workspaceId: 'w',
            deadline: Date.now() + 500,
            budgetMs: 500,
          },
        ),
      )
      assert.match(r.html, /<h2>Assigned<\/h2>/)
      assert.deepEqual(seen, ['/r?u=ada'])
    } finally {
      await local.close()
      probe.close()
    }
  })

  test('blocks are shared partials', async () => {
    const r = ok(
      await render(
        { body: '{% render "footer", first_name: first_name %}' },
        { traits: { first_name: 'Bo' } },
      ),
    )
    assert.match(r.html, /<p>Bye Bo<\/p>/)
  })
})
