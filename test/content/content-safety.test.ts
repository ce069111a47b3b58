/**
 * Guarantees a hand mutation run found unguarded: liquidjs's own-property-only lookups, the
 * connected-content cache key's template headers and credential values, and the escaping of a
 * connected-content response printed without `:save`. Each test here fails when that one line is
 * switched off. Real HTTP servers on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { compileTemplate } from '../../src/content/compile.ts'
import { HttpConnectedContent } from '../../src/content/connected-content/http-connected-content.ts'
import { createEngine, type Engine } from '../../src/content/liquid-engine.ts'
import type { TemplateVersion } from '../../src/content/template-store.ts'
import type { JsonObject } from '../../src/core/types.ts'
import { type RenderResult, renderEmail } from '../../src/render/render-email.ts'

interface Api {
  base: string
  host: string
  hits: { url: string; headers: http.IncomingHttpHeaders }[]
  close(): Promise<void>
}

/** Answers `/echo` with the request's accept-language and authorization, `/evil` with markup. */
async function startApi(): Promise<Api> {
  const hits: Api['hits'] = []
  const server = http.createServer((req, res) => {
    hits.push({ url: req.url ?? '', headers: req.headers })
    if (req.url?.startsWith('/evil')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('<script>alert(1)</script><b>deal</b>')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        lang: req.headers['accept-language'] ?? null,
        auth: req.headers.authorization ?? null,
      }),
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    base: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    hits,
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

const version = (body: string): TemplateVersion => ({
  workspaceId: 'w',
  templateId: 't',
  version: 1,
  name: 't',
  subject: 'Hi',
  preheader: '',
  format: 'html',
  body,
  text: null,
  hash: '',
  createdAt: 0,
})

let api: Api
let cc: HttpConnectedContent
let engine: Engine
/** The value of the `crm` credential's token; a test rotates it. */
let crmToken = 'token-1'

before(async () => {
  api = await startApi()
  cc = new HttpConnectedContent({
    allowHosts: () => [api.host],
    credentials: (_ws, name) => (name === 'crm' ? { authorization: `Bearer ${crmToken}` } : undefined),
  })
  engine = createEngine({ blocks: {}, connectedContent: cc })
})

after(async () => {
  await cc.close()
  await api.close()
})

async function render(body: string, traits: JsonObject = {}): Promise<RenderResult> {
  return renderEmail(
    engine,
    await compileTemplate(version(body), engine),
    { profileOutcome: 'live', traits },
    { workspaceId: 'w', deadline: Date.now() + 2_000, budgetMs: 2_000 },
  )
}

const html = (r: RenderResult): string => {
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r))
  return r.html
}

describe('own properties only', () => {
  test('a template cannot reach inherited members of the data (constructor, prototype methods)', async () => {
    const out = html(
      await render(
        '<p>[{{ profile.constructor.name }}][{{ first_name.constructor.name }}][{{ profile.hasOwnProperty }}][{{ tags.constructor.name }}]</p>',
        { first_name: 'Ann', tags: ['a'] },
      ),
    )
    assert.match(out, /<p>\[\]\[\]\[\]\[\]<\/p>/)
  })

  test('own keys are still read, including ones named like inherited members', async () => {
    const out = html(
      await render('<p>{{ profile.first_name }} / {{ profile.constructor }}</p>', {
        first_name: 'Ann',
        constructor: 'own value',
      }),
    )
    assert.match(out, /<p>Ann \/ own value<\/p>/)
  })
})

describe('the connected-content cache key', () => {
  test('template headers are part of it: a French and a German call are two requests with two answers', async () => {
    const body = (lang: string) =>
      `{% connected_content ${api.base}/echo?k=headers :save r :timeout 1000 :headers {"Accept-Language":"${lang}"} %}<p>{{ r.lang }}</p>`
    const before = api.hits.length
    assert.match(html(await render(body('fr'))), /<p>fr<\/p>/)
    assert.match(html(await render(body('de'))), /<p>de<\/p>/)
    // The same headers again are a cache hit, whatever the header name's case.
    assert.match(
      html(
        await render(
          `{% connected_content ${api.base}/echo?k=headers :save r :timeout 1000 :headers {"accept-language":"fr"} %}<p>{{ r.lang }}</p>`,
        ),
      ),
      /<p>fr<\/p>/,
    )
    assert.equal(api.hits.length - before, 2)
  })

  test('a rotated credential value misses the cache: the new token is sent, the old answer is not reused', async () => {
    const body = `{% connected_content ${api.base}/echo?k=cred :save r :timeout 1000 :auth crm %}<p>{{ r.auth }}</p>`
    const before = api.hits.length
    crmToken = 'token-1'
    assert.match(html(await render(body)), /<p>Bearer token-1<\/p>/)
    assert.match(html(await render(body)), /<p>Bearer token-1<\/p>/)
    crmToken = 'token-2'
    assert.match(html(await render(body)), /<p>Bearer token-2<\/p>/)
    assert.equal(api.hits.length - before, 2)
    assert.equal(api.hits.at(-1)?.headers.authorization, 'Bearer token-2')
  })

  test('a call with a credential does not reuse the answer of the same URL called without one', async () => {
    const before = api.hits.length
    const plain = `{% connected_content ${api.base}/echo?k=anon :save r :timeout 1000 %}<p>[{{ r.auth }}]</p>`
    const authed = `{% connected_content ${api.base}/echo?k=anon :save r :timeout 1000 :auth crm %}<p>[{{ r.auth }}]</p>`
    assert.match(html(await render(plain)), /<p>\[\]<\/p>/)
    assert.match(html(await render(authed)), /<p>\[Bearer token-\d\]<\/p>/)
    assert.equal(api.hits.length - before, 2)
  })
})

describe('connected content printed without :save', () => {
  test('is HTML-escaped in the body like any other output', async () => {
    const out = html(await render(`<div>{% connected_content ${api.base}/evil :timeout 1000 %}</div>`))
    assert.ok(out.includes('&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;deal&lt;/b&gt;'), out)
    assert.ok(!out.includes('<script>'), out)
  })
})
