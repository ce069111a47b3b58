import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { compileTemplate, type TemplateProblem, validateTemplate } from '../../src/content/compile.ts'
import { lintTemplate } from '../../src/content/lint.ts'
import { createEngine, type Engine } from '../../src/content/liquid-engine.ts'
import type { TemplateVersion } from '../../src/content/template-store.ts'
import { type RenderResult, renderEmail } from '../../src/render/render-email.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'

const HERO = `{% live "hero" width: 600, height: 240, cache: "public" %}<div style="display:flex">Still thinking about {{ last_viewed_product.name }}?</div>{% fallback %}Our new arrivals are in &amp; waiting.{% endlive %}`
const SALE = `{% countdown "sale" until: campaign.ends_at, width: 480, height: 96, alt: "Time left" %}{% fallback %}The sale ends Sunday.{% endcountdown %}`
const BODY = `<html><body><p>Hello {{ first_name | default: "you" }}</p>\n${HERO}\n<p>More below</p>\n${SALE}\n<p><a href="{{ view_url }}">Open in browser</a></p></body></html>`

const version = (over: Partial<TemplateVersion>): TemplateVersion => ({
  workspaceId: 'w',
  templateId: 'live-t',
  version: 4,
  name: 't',
  subject: 'Hi',
  preheader: '',
  format: 'html',
  body: BODY,
  text: null,
  hash: '',
  createdAt: 0,
  ...over,
})

const noSources = {
  fetch: async () => ({ outcome: 'error' as const, message: 'no sources in this test', durationMs: 0 }),
  close: async () => {},
}

const problemsOf = async (engine: Engine, body: string): Promise<[number | null, string][]> =>
  (await validateTemplate({ name: 't', subject: 's', format: 'html', body }, engine)).map(
    (p: TemplateProblem) => [p.line, p.message],
  )

describe('live and countdown tags: syntax and save-time validation', () => {
  const engine = createEngine({ blocks: {}, connectedContent: noSources as never })

  test('a compiled template lists its live blocks with their definitions, in a map by name', async () => {
    const c = await compileTemplate(version({}), engine)
    assert.deepEqual(
      [...c.live.values()].map((t) => t.def),
      [
        { name: 'hero', kind: 'image', width: 600, height: 240, cache: 'public' },
        { name: 'sale', kind: 'countdown', width: 480, height: 96, cache: 'private', alt: 'Time left' },
      ],
    )
    assert.equal(c.openTime, true)
    const plain = await compileTemplate(version({ body: '<p>{{ a | default: "x" }}</p>' }), engine)
    assert.equal(plain.live.size, 0)
    assert.equal(plain.openTime, false)
    const viewOnly = await compileTemplate(version({ body: '<a href="{{ view_url }}">web</a>' }), engine)
    assert.equal(viewOnly.openTime, true, 'a view_url needs the open-time token too')
  })

  test('each mistake in a live block is a problem a user can act on, with its line', async () => {
    const cases: [string, string][] = [
      [
        '\n{% live "a" height: 10 %}x{% fallback %}y{% endlive %}',
        'live "a" needs width: in pixels (1-2000), e.g. {% live "a" width: 600, height: 200 %}, line:2, col:1',
      ],
      [
        '{% live "a" width: 10 %}x{% fallback %}y{% endlive %}',
        'live "a" needs height: in pixels (1-2000), e.g. {% live "a" width: 600, height: 200 %}, line:1, col:1',
      ],
      [
        '{% live "a" width: 0, height: 10 %}x{% fallback %}y{% endlive %}',
        'live "a": width must be a whole number of pixels from 1 to 2000, not 0, line:1, col:1',
      ],
      [
        '{% live "a" width: 10, height: 2001 %}x{% fallback %}y{% endlive %}',
        'live "a": height must be a whole number of pixels from 1 to 2000, not 2001, line:1, col:1',
      ],
      [
        '{% live "a" width: 10.5, height: 20 %}x{% fallback %}y{% endlive %}',
        'live "a": width must be a whole number of pixels from 1 to 2000, not 10.5, line:1, col:1',
      ],
      [
        '{% live "a" width: w, height: 20 %}x{% fallback %}y{% endlive %}',
        'live "a": width must be a whole number of pixels from 1 to 2000, not w, line:1, col:1',
      ],
      [
        '{% live "a" width: 10, height: 10 %}only a body{% endlive %}',
        'live "a" has no {% fallback %}: add one, it is shown when the block cannot render, line:1, col:1',
      ],
      [
        '{% live "Hero Image" width: 10, height: 10 %}x{% fallback %}y{% endlive %}',
        'live block name "Hero Image" is not valid: use 1-64 characters of a-z, 0-9, "_" and "-", line:1, col:1',
      ],
      [
        '{% live hero width: 10, height: 10 %}x{% fallback %}y{% endlive %}',
        '{% live %} needs a quoted name first: {% live "hero" width: 600, height: 200 %}, line:1, col:1',
      ],
      [
        '{% live "a" width: 10, height: 10, colour: "red" %}x{% fallback %}y{% endlive %}',
        'live "a" does not know the option colour: (use width, height, cache, alt), line:1, col:1',
      ],
      [
        '{% live "a" width: 10, height: 10, cache: "shared" %}x{% fallback %}y{% endlive %}',
        'live "a": cache must be "public" or "private", not "shared", line:1, col:1',
      ],
      [
        '{% live "a" width: 10, height: 10 %}x{% fallback %}y',
        'tag {% live "a" width: 10, height: 10 %} not closed: add {% endlive %}, line:1, col:1',
      ],
      [
        '{% live "a" width: 10, height: 10 %}x{% fallback %}y{% fallback %}z{% endlive %}',
        '{% live %} has two {% fallback %} tags: keep one, line:1, col:1',
      ],
      [
        '{% countdown "c" width: 10, height: 10 %}{% fallback %}y{% endcountdown %}',
        'countdown "c" needs until: (an ISO-8601 date-time or epoch ms), e.g. until: campaign.ends_at, line:1, col:1',
      ],
      [
        '{% live "a" width: 10, height: 10 %}\n\n{{ x | nosuchfilter }}{% fallback %}y{% endlive %}',
        'undefined filter: nosuchfilter, line:3, col:1',
      ],
      [
        '{% live "a" width: 10, height: 10 %}x{% fallback %}{% if %}{% endlive %}',
        'invalid value expression: "", line:1, col:57',
      ],
    ]
    for (const [body, message] of cases) {
      const problems = await problemsOf(engine, body)
      assert.equal(problems.length, 1, `${body}: ${JSON.stringify(problems)}`)
      assert.equal(problems[0]![1], message, body)
    }
  })

  test('two blocks with the same name are one problem naming both lines', async () => {
    const body = `${HERO}\n<p>x</p>\n${HERO.replace('cache: "public"', 'cache: "private"')}`
    assert.deepEqual(await problemsOf(engine, body), [
      [3, 'live block name "hero" is used 2 times (lines 1, 3): give each block its own name'],
    ])
    // A countdown and a live block share one namespace: the name is the URL path.
    assert.deepEqual(await problemsOf(engine, `${SALE}${HERO.replace('"hero"', '"sale"')}`), [
      [1, 'live block name "sale" is used 2 times (lines 1, 1): give each block its own name'],
    ])
  })

  test('lint: placeholders inside a live body have the block fallback, so no no-fallback warning', async () => {
    const problems = await lintTemplate(
      { name: 't', subject: 'Hi', format: 'html', body: `${HERO}<p>{{ last_viewed_product.name }}</p>` },
      { engine, traitNames: ['last_viewed_product'], workspaceFallbacks: {} },
    )
    assert.deepEqual(
      problems.map((p) => [p.level, p.code, p.message]),
      [
        [
          'warning',
          'no-fallback',
          '{{ last_viewed_product.name }} has no fallback: add | default: "…" or put it in a {% section %} with a fallback',
        ],
      ],
    )
  })

  test('lint: a live block in the subject is a warning: it can only show its fallback text there', async () => {
    const problems = await lintTemplate(
      {
        name: 't',
        subject: 'Hi {% live "s" width: 10, height: 10 %}x{% fallback %}there{% endlive %}',
        format: 'html',
        body: '<p>x</p>',
      },
      { engine, traitNames: [], workspaceFallbacks: {} },
    )
    assert.deepEqual(
      problems.map((p) => [p.level, p.code, p.part, p.line, p.message]),
      [
        [
          'warning',
          'live-outside-body',
          'subject',
          1,
          'live "s" in the subject shows only its fallback text: live blocks render in the body',
        ],
      ],
    )
  })

  test('a section still renders its fallback when a trait is missing (shared block parsing)', async () => {
    const c = await compileTemplate(
      version({ body: '{% section "recs" %}<p>{{ nope }}</p>{% fallback %}<p>generic</p>{% endsection %}' }),
      engine,
    )
    const r = await renderEmail(
      engine,
      c,
      { profileOutcome: 'inline', traits: {} },
      { workspaceId: 'w', deadline: Date.now() + 500, budgetMs: 500 },
    )
    assert.ok(r.ok)
    assert.equal(r.html.replace(/<div style="display:none[\s\S]*?<\/div>/, ''), '<p>generic</p>')
    assert.deepEqual(
      r.report.fallbacks.map((f) => [f.part, f.placeholder, f.reason, f.source]),
      [
        ['html', 'section recs', 'missing', 'fallback-block'],
        ['text', 'section recs', 'missing', 'fallback-block'],
      ],
    )
  })
})

describe('live blocks at send time', () => {
  const engine = createEngine({ blocks: {}, connectedContent: noSources as never })
  const opts = { workspaceId: 'w', deadline: Date.now() + 60_000, budgetMs: 500 }
  const send = async (live?: { baseUrl: string; token: string }) => {
    const c = await compileTemplate(version({}), engine)
    const r: RenderResult = await renderEmail(
      engine,
      c,
      { profileOutcome: 'inline', traits: { first_name: 'Ann', last_viewed_product: { name: 'Lamp' } } },
      { ...opts, ...(live ? { live } : {}) },
    )
    assert.ok(r.ok, r.ok ? '' : r.error?.message)
    return r
  }
  const strip = (html: string) => html.replace(/<div style="display:none[\s\S]*?<\/div>/, '')

  test('with open-time links each block is an <img> of its size on the signed URL; the text part has the fallback', async () => {
    const r = await send({ baseUrl: 'https://ink.example/', token: 'k1.TOKEN.mac' })
    assert.equal(
      strip(r.html),
      '<html><body><p>Hello Ann</p>\n' +
        '<img src="https://ink.example/o/k1.TOKEN.mac/hero.png" width="600" height="240" alt="Our new arrivals are in &amp; waiting." style="display:block;border:0">\n' +
        '<p>More below</p>\n' +
        '<img src="https://ink.example/o/k1.TOKEN.mac/sale.gif" width="480" height="96" alt="Time left" style="display:block;border:0">\n' +
        '<p><a href="https://ink.example/o/k1.TOKEN.mac/view">Open in browser</a></p></body></html>',
    )
    assert.equal(
      r.text,
      'Hello Ann\n\nOur new arrivals are in & waiting.\n\nMore below\n\nThe sale ends Sunday.\n\nOpen in browser [https://ink.example/o/k1.TOKEN.mac/view]',
    )
    assert.deepEqual(r.report.fallbacks, [], 'the body does not render at send time, so nothing falls back')
    assert.equal(r.report.amp?.included, true)
    assert.equal(r.report.amp?.bytes, Buffer.byteLength(r.amp ?? ''))
  })

  test('without open-time links (preview) the fallback renders inline and view_url is empty', async () => {
    const r = await send()
    assert.equal(
      strip(r.html),
      '<html><body><p>Hello Ann</p>\nOur new arrivals are in &amp; waiting.\n<p>More below</p>\nThe sale ends Sunday.\n<p><a href="">Open in browser</a></p></body></html>',
    )
    assert.equal(r.amp, undefined)
    assert.equal(r.report.amp, undefined)
  })

  test('an http base URL gets no AMP part, and the report says why', async () => {
    const r = await send({ baseUrl: 'http://127.0.0.1:8080', token: 'T' })
    assert.equal(r.amp, undefined)
    assert.deepEqual(r.report.amp, {
      included: false,
      bytes: 0,
      reason: 'the open-time base URL http://127.0.0.1:8080 is not https: AMP clients fetch https only',
    })
    assert.match(r.html, /<img src="http:\/\/127\.0\.0\.1:8080\/o\/T\/hero\.png"/)
  })

  test('an AMP part over 200 KB is dropped and the report gives its size', async () => {
    const c = await compileTemplate(version({ body: `<p>{{ long }}</p>${HERO}` }), engine)
    const r = await renderEmail(
      engine,
      c,
      { profileOutcome: 'inline', traits: { long: 'x'.repeat(210_000) } },
      { ...opts, live: { baseUrl: 'https://ink.example', token: 'T' } },
    )
    assert.ok(r.ok)
    assert.equal(r.amp, undefined)
    assert.equal(r.report.amp?.included, false)
    assert.ok((r.report.amp?.bytes ?? 0) > 200_000)
    assert.match(
      r.report.amp?.reason ?? '',
      /^the AMP part would be \d+ bytes, over the 200000-byte AMP for Email limit$/,
    )
    assert.equal(r.text, `${'x'.repeat(210_000)}\n\nOur new arrivals are in & waiting.`)
  })
})

describe('templates API: live blocks are validated on save', () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
  })
  after(() => app.close())

  test('a live block without a size or a fallback is a 422 INK_ERR_TEMPLATE_INVALID, and nothing is saved', async () => {
    const put = (html: string) =>
      app.server.inject({
        method: 'PUT',
        url: '/v1/templates/live-bad',
        headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ subject: 'x', html }),
      })
    const res = await put('<p>hi</p>\n{% live "hero" width: 600 %}x{% fallback %}y{% endlive %}')
    assert.equal(res.statusCode, 422)
    const body = res.json()
    assert.equal(body.code, 'INK_ERR_TEMPLATE_INVALID')
    assert.deepEqual(body.problems, [
      {
        part: 'body',
        kind: 'liquid',
        line: 2,
        message:
          'live "hero" needs height: in pixels (1-2000), e.g. {% live "hero" width: 600, height: 200 %}, line:2, col:1',
      },
    ])
    const ok = await put('<p>hi</p>\n{% live "hero" width: 600, height: 200 %}x{% fallback %}y{% endlive %}')
    assert.equal(ok.statusCode, 201, ok.body)
  })
})
