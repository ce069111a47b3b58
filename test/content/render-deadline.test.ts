/**
 * liquidjs's render-time limit counts Liquid's own work only: time spent waiting for a
 * connected-content source (before the render, or mid-render in the asynchronous path) is not
 * charged to it, so a late source is a fallback and never a failed render. A real slow HTTP source
 * on 127.0.0.1; the engine's render limit is set below the source's delay, as it was under load.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { compileTemplate } from '../../src/content/compile.ts'
import { HttpConnectedContent } from '../../src/content/connected-content/http-connected-content.ts'
import { createEngine, type Engine } from '../../src/content/liquid-engine.ts'
import type { TemplateVersion } from '../../src/content/template-store.ts'
import { type RenderResult, renderEmail } from '../../src/render/render-email.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'

/** Liquid may work 100 ms per render; the source answers after 250 ms. */
const RENDER_LIMIT_MS = 100
const SOURCE_DELAY_MS = 250

let server: http.Server
let base: string
let cc: HttpConnectedContent
let engine: Engine

before(async () => {
  server = http.createServer((req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({ title: `Picked for ${new URL(req.url ?? '/', 'http://x').searchParams.get('u')}` }),
      )
    }, SOURCE_DELAY_MS)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  cc = new HttpConnectedContent({ allowHosts: () => [base.slice('http://'.length)] })
  engine = createEngine({
    blocks: {},
    connectedContent: cc,
    limits: { parseLimit: 1e6, renderLimit: RENDER_LIMIT_MS, memoryLimit: 1e7 },
  })
})

after(async () => {
  await cc.close()
  server.closeAllConnections()
  await new Promise<void>((r) => server.close(() => r()))
})

const version = (body: string): TemplateVersion => ({
  workspaceId: 'w',
  templateId: 't',
  version: 1,
  name: 't',
  subject: '{{ recs.title | default: "Our bestsellers" }}',
  preheader: '',
  format: 'html',
  body,
  text: null,
  hash: '',
  createdAt: 0,
})

async function render(body: string, budgetMs: number): Promise<RenderResult> {
  return renderEmail(
    engine,
    await compileTemplate(version(body), engine),
    { profileOutcome: 'live', userId: 'u1', traits: { first_name: 'Ann' } },
    { workspaceId: 'w', deadline: Date.now() + budgetMs, budgetMs },
  )
}

const ok = (r: RenderResult) => {
  assert.ok(r.ok, r.ok ? '' : `${r.error?.code ?? ''} ${r.error?.message ?? r.skip?.reason}`)
  return r
}

describe('waiting for sources is not Liquid work', () => {
  test('a source that answers after the render limit but inside the deadline is rendered', async () => {
    const r = ok(
      await render(
        `{% connected_content ${base}/recs?u={{ user_id }} :save recs :timeout 1000 %}<h2>{{ recs.title }}</h2>`,
        1_000,
      ),
    )
    assert.match(r.html, /<h2>Picked for u1<\/h2>/)
    assert.equal(r.subject, 'Picked for u1')
    assert.equal(r.report.sources[0]?.outcome, 'success')
  })

  test('a source that times out after the render limit falls back instead of failing the render', async () => {
    const r = ok(
      await render(
        `{% connected_content ${base}/recs?u={{ user_id }}&late=1 :save recs :timeout 180 %}<h2>{{ recs.title | default: "Our bestsellers" }}</h2>`,
        1_000,
      ),
    )
    assert.match(r.html, /<h2>Our bestsellers<\/h2>/)
    assert.equal(r.report.sources[0]?.outcome, 'timeout')
    assert.deepEqual(
      r.report.fallbacks.filter((f) => f.part === 'html').map((f) => [f.placeholder, f.reason, f.source]),
      [['recs.title', 'timeout', 'default-filter']],
    )
  })

  test('a source called mid-render (its URL uses an assigned variable) is waited for outside the limit', async () => {
    const r = ok(
      await render(
        `{% assign who = first_name | downcase %}{% connected_content ${base}/recs?u={{ who }} :save recs :timeout 1000 %}<h2>{{ recs.title }}</h2>`,
        1_000,
      ),
    )
    assert.match(r.html, /<h2>Picked for ann<\/h2>/)
  })

  test('200 concurrent renders waiting on the slow source all answer: none fails', async () => {
    const compiled = await compileTemplate(
      version(
        `{% connected_content ${base}/recs?u={{ user_id }}&load=1 :save recs :timeout 1000 %}<h2>{{ recs.title | default: "Our bestsellers" }}</h2>`,
      ),
      engine,
    )
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        renderEmail(
          engine,
          compiled,
          { profileOutcome: 'live', userId: `u${i}`, traits: {} },
          { workspaceId: 'w', deadline: Date.now() + 2_000, budgetMs: 2_000 },
        ),
      ),
    )
    const failed = results.filter((r) => !r.ok).map((r) => r.error?.message)
    assert.deepEqual(failed, [])
    assert.match(results[7]?.ok ? results[7].html : '', /<h2>(Picked for u7|Our bestsellers)<\/h2>/)
  })

  test('Liquid that itself runs past the limit still fails, with INK_ERR_RENDER_LIMIT', async () => {
    const r = await render('{% for i in (1..1000000) %}{% for j in (1..10) %}{% endfor %}{% endfor %}', 1_000)
    assert.equal(r.ok, false)
    assert.equal(r.error?.code, 'INK_ERR_RENDER_LIMIT')
    assert.match(r.error?.message ?? '', /template render limit exceeded/)
  })
})

describe('preview with the default 1 s render limit', () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
  })
  after(async () => {
    await app.close()
  })

  test('a source 1.2 s late with a 1.5 s deadline shows the section fallback, not 422', async () => {
    const headers = { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' }
    const put = await app.server.inject({
      method: 'PUT',
      url: '/v1/templates/slow',
      headers,
      payload: JSON.stringify({
        subject: 'Hi',
        html: '{% section "recs" %}{% connected_content https://recs.example.com/r :save recs :timeout 1400 %}<h2>{{ recs.title }}</h2>{% fallback %}<h2>Our bestsellers</h2>{% endsection %}',
      }),
    })
    assert.equal(put.statusCode, 201, put.body)
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/templates/slow/preview',
      headers,
      payload: JSON.stringify({ profile: {}, deadlineMs: 1_500, faults: { delaySources: { recs: 1_200 } } }),
    })
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json() as { html: string; report: { fallbacks: { placeholder: string }[] } }
    assert.match(body.html, /<h2>Our bestsellers<\/h2>/)
    assert.equal(body.report.fallbacks[0]?.placeholder, 'section recs')
  })
})
