import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { basicAuth, startTestApp, type TestApp, tempDir, waitForProcessed } from '../helpers/app.ts'

const MJML = `<mjml><mj-body><mj-section><mj-column>
<mj-text>Hello {{ first_name | default: "there" }}</mj-text>
<mj-text>You looked at {{ last_viewed_product.name | default: "our bestsellers" }}</mj-text>
</mj-column></mj-section></mj-body></mjml>`

describe('templates API', () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
  })
  after(() => app.close())

  const call = (method: string, url: string, payload?: unknown) =>
    app.server.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    })

  test('saving makes immutable versions; identical content does not make a new one', async () => {
    const first = await call('PUT', '/v1/templates/welcome', {
      subject: 'Hi {{ first_name | default: "there" }}',
      mjml: MJML,
    })
    assert.equal(first.statusCode, 201, first.body)
    assert.equal(first.json().version, 1)
    const same = await call('PUT', '/v1/templates/welcome', {
      subject: 'Hi {{ first_name | default: "there" }}',
      mjml: MJML,
    })
    assert.equal(same.statusCode, 200)
    assert.equal(same.json().created, false)
    const second = await call('PUT', '/v1/templates/welcome', {
      subject: 'Welcome {{ first_name | default: "friend" }}',
      mjml: MJML,
    })
    assert.equal(second.json().version, 2)
    const v1 = (await call('GET', '/v1/templates/welcome?version=1')).json()
    assert.equal(v1.subject, 'Hi {{ first_name | default: "there" }}')
    assert.equal((await call('GET', '/v1/templates/welcome')).json().version, 2)
    assert.deepEqual(
      (await call('GET', '/v1/templates/welcome/versions'))
        .json()
        .versions.map((v: { version: number }) => v.version),
      [1, 2],
    )
  })

  test('MJML errors are reported with line numbers when a template is saved, and nothing is saved', async () => {
    const res = await call('PUT', '/v1/templates/broken', {
      subject: 'x',
      mjml: '<mjml>\n<mj-body>\n<mj-section>\n<mj-text>not in a column</mj-text>\n</mj-section>\n</mj-body>\n</mjml>',
    })
    assert.equal(res.statusCode, 422)
    const body = res.json()
    assert.equal(body.code, 'INK_ERR_TEMPLATE_INVALID')
    assert.deepEqual(
      body.problems.map((p: { kind: string; line: number }) => [p.kind, p.line]),
      [['mjml', 4]],
    )
    assert.equal((await call('GET', '/v1/templates/broken')).statusCode, 404)
  })

  test('Liquid syntax errors are reported with the part and line', async () => {
    const res = await call('PUT', '/v1/templates/broken2', {
      subject: 'Hi {% if %}',
      html: '<p>\n{{ a | nosuchfilter }}</p>',
    })
    assert.equal(res.statusCode, 422)
    const parts = res
      .json()
      .problems.map((p: { part: string; kind: string; line: number }) => [p.part, p.kind, p.line])
    assert.deepEqual(parts, [
      ['body', 'liquid', 2],
      ['subject', 'liquid', 1],
    ])
  })

  test('a request missing the body or with both mjml and html is a 400 that says so', async () => {
    const res = await call('PUT', '/v1/templates/x', { subject: 'x', mjml: MJML, html: '<p/>' })
    assert.equal(res.statusCode, 400)
    assert.match(res.json().message, /exactly one of "mjml" or "html"/)
    assert.equal((await call('PUT', '/v1/templates/Bad Id', { subject: 'x', html: '<p/>' })).statusCode, 400)
  })

  test('preview renders a real profile, and injected faults show the degraded email with its report', async () => {
    await call('PUT', '/v1/templates/promo', {
      subject: 'For {{ first_name | default: "you" }}',
      html: '<p>{{ first_name | default: "there" }}: {{ last_viewed_product.name | default: "bestsellers" }}</p>',
    })
    const ingest = await app.server.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      payload: JSON.stringify({
        batch: [
          { type: 'identify', userId: 'ann', traits: { firstName: 'Ann' } },
          {
            type: 'track',
            userId: 'ann',
            event: 'Product Viewed',
            properties: { product_id: 'p1', name: 'Desk lamp' },
          },
        ],
      }),
    })
    assert.equal(ingest.statusCode, 200)
    await waitForProcessed(app)
    const live = (await call('POST', '/v1/templates/promo/preview', { userId: 'ann' })).json()
    assert.equal(live.subject, 'For Ann')
    assert.match(live.html, /<p>Ann: Desk lamp<\/p>/)
    assert.equal(live.report.profile.outcome, 'live')
    assert.deepEqual(live.report.fallbacks, [])

    const degraded = (
      await call('POST', '/v1/templates/promo/preview', {
        userId: 'ann',
        faults: { dropTraits: ['last_viewed_product'] },
      })
    ).json()
    assert.match(degraded.html, /<p>Ann: bestsellers<\/p>/)
    assert.deepEqual(
      degraded.report.fallbacks
        .filter((f: { part: string }) => f.part === 'html')
        .map((f: { placeholder: string }) => f.placeholder),
      ['last_viewed_product.name'],
    )

    const slow = (
      await call('POST', '/v1/templates/promo/preview', {
        userId: 'nobody-cached',
        faults: { profileDelayMs: 1000 },
        deadlineMs: 200,
      })
    ).json()
    assert.equal(slow.report.profile.outcome, 'timeout')
    assert.match(slow.html, /<p>there: bestsellers<\/p>/)
    assert.equal(slow.report.fallbacks[0].reason, 'timeout')
    assert.ok(
      slow.report.durationMs < 1000,
      `preview waited for the 1 s profile: ${slow.report.durationMs} ms`,
    )
  })

  test('preview with an inline profile needs no stored profile', async () => {
    const res = await call('POST', '/v1/templates/promo/preview', { profile: { first_name: 'Zoe' } })
    assert.equal(res.statusCode, 200)
    assert.equal(res.json().subject, 'For Zoe')
    assert.equal(res.json().report.profile.outcome, 'inline')
  })

  test('preview renders an unsaved draft for the editor, saves nothing, and reports its problems', async () => {
    const before = (await call('GET', '/v1/templates/promo/versions')).json().versions.length
    const res = await call('POST', '/v1/templates/promo/preview', {
      profile: { first_name: 'Zoe' },
      draft: { subject: 'Draft for {{ first_name }}', html: '<p>Draft body {{ first_name }}</p>' },
    })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().subject, 'Draft for Zoe')
    assert.match(res.json().html, /<p>Draft body Zoe<\/p>/)
    assert.equal(res.json().report.version, 0)
    assert.equal((await call('GET', '/v1/templates/promo/versions')).json().versions.length, before)
    assert.equal(
      (await call('GET', '/v1/templates/promo')).json().subject,
      'For {{ first_name | default: "you" }}',
    )

    // A template not saved yet can be previewed too (the editor of a new template).
    const fresh = await call('POST', '/v1/templates/not-saved-yet/preview', {
      profile: {},
      draft: { subject: 'New', html: '<p>new</p>' },
    })
    assert.equal(fresh.statusCode, 200, fresh.body)
    assert.equal((await call('GET', '/v1/templates/not-saved-yet')).statusCode, 404)

    const broken = await call('POST', '/v1/templates/promo/preview', {
      profile: {},
      draft: { subject: 'x', html: '<p>\n{% if %}</p>' },
    })
    assert.equal(broken.statusCode, 422)
    assert.equal(broken.json().code, 'INK_ERR_TEMPLATE_INVALID')
    assert.deepEqual(
      broken.json().problems.map((p: { part: string; line: number }) => [p.part, p.line]),
      [['body', 2]],
    )
    const both = await call('POST', '/v1/templates/promo/preview', {
      profile: {},
      draft: { subject: 'x', html: '<p/>', mjml: MJML },
    })
    assert.equal(both.statusCode, 400)
  })

  test('lint lists placeholders without fallback, unknown traits and sources without timeout', async () => {
    const res = await call('POST', '/v1/lint', {
      subject: 'Hi {{ first_name }}',
      html: '{% connected_content https://recs.example.com/x :save recs %}<p>{{ last_name }} {{ shoe_size | default: "?" }}</p>',
    })
    assert.equal(res.statusCode, 200)
    const codes = res
      .json()
      .problems.map((p: { code: string; message: string }) => `${p.code}: ${p.message.split(';')[0]}`)
    assert.ok(
      codes.some((c: string) => c.startsWith('no-fallback: {{ last_name }}')),
      codes.join('\n'),
    )
    assert.ok(
      !codes.some((c: string) => c.includes('{{ first_name }}')),
      'first_name has a workspace fallback',
    )
    assert.ok(codes.some((c: string) => c.startsWith('unknown-trait: "shoe_size"')))
    assert.ok(codes.some((c: string) => c.startsWith('source-without-timeout')))
  })

  test('blocks are shared by templates and a change applies to the next render', async () => {
    assert.equal((await call('PUT', '/v1/blocks/footer', { source: '<footer>v1</footer>' })).statusCode, 200)
    await call('PUT', '/v1/templates/with-footer', { subject: 's', html: '<p>x</p>{% render "footer" %}' })
    assert.match(
      (await call('POST', '/v1/templates/with-footer/preview', { profile: {} })).json().html,
      /<footer>v1<\/footer>/,
    )
    await call('PUT', '/v1/blocks/footer', { source: '<footer>v2</footer>' })
    assert.match(
      (await call('POST', '/v1/templates/with-footer/preview', { profile: {} })).json().html,
      /<footer>v2<\/footer>/,
    )
  })

  test('template routes need the admin key', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/v1/templates' })
    assert.equal(res.statusCode, 401)
  })
})

describe('templates from a folder', () => {
  test('files with front matter are loaded at start, unchanged files make no new version', async () => {
    const dir = tempDir('inkstream-templates-')
    mkdirSync(join(dir, 'blocks'))
    writeFileSync(join(dir, 'blocks', 'footer.liquid'), '<p class="footer">Unsubscribe anytime</p>')
    writeFileSync(
      join(dir, 'cart.mjml'),
      `---\nsubject: 'You left something, {{ first_name | default: "friend" }}'\n---\n${MJML.replace('</mj-column>', '</mj-column></mj-section><mj-raw>{% render "footer" %}</mj-raw><mj-section><mj-column>')}`,
    )
    const dataDir = tempDir()
    let app = await startTestApp({ templatesDir: dir, dataDir })
    const preview = await app.server.inject({
      method: 'POST',
      url: '/v1/templates/cart/preview',
      headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ profile: {} }),
    })
    assert.equal(preview.json().subject, 'You left something, friend')
    assert.match(preview.json().html, /<p class="footer">Unsubscribe anytime<\/p>/)
    await app.close()
    app = await startTestApp({ templatesDir: dir, dataDir })
    const versions = await app.server.inject({
      method: 'GET',
      url: '/v1/templates/cart/versions',
      headers: { authorization: `Bearer ${app.workspace.adminKey}` },
    })
    assert.equal(versions.json().versions.length, 1)
    await app.close()
  })

  test('an invalid template file stops the start with the file and line', async () => {
    const dir = tempDir('inkstream-templates-')
    writeFileSync(
      join(dir, 'bad.mjml'),
      '---\nsubject: x\n---\n<mjml>\n<mj-body>\n<mj-text>x</mj-text>\n</mj-body>\n</mjml>',
    )
    await assert.rejects(startTestApp({ templatesDir: dir }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'INK_ERR_INVALID_CONFIG')
      assert.match(err.message, /bad\.mjml: body line 3: mj-text cannot be used inside mj-body/)
      return true
    })
  })
})
