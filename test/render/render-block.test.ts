import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { compileTemplate } from '../../src/content/compile.ts'
import { HttpConnectedContent } from '../../src/content/connected-content/http-connected-content.ts'
import { createEngine, type Engine } from '../../src/content/liquid-engine.ts'
import type { TemplateVersion } from '../../src/content/template-store.ts'
import { type BlockRender, fallbackMarkup, renderBlock } from '../../src/render/render-block.ts'
import { type RecipientData, renderEmail } from '../../src/render/render-email.ts'

/** A local API: /stock answers JSON, /hang never answers, /fail answers 500. */
let server: Server
let base: string
let hits: string[] = []
let cc: HttpConnectedContent
let engine: Engine

before(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '')
    if (req.url?.startsWith('/hang')) return
    if (req.url?.startsWith('/fail')) {
      res.writeHead(500).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ left: 7, label: 'Lamp' }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  base = `http://127.0.0.1:${port}`
  cc = new HttpConnectedContent({ allowHosts: () => [`127.0.0.1:${port}`], allowedPorts: [port] })
  engine = createEngine({ blocks: {}, connectedContent: cc })
})

after(async () => {
  await cc.close()
  server.closeAllConnections()
  await new Promise<void>((r) => server.close(() => r()))
})

const version = (body: string): TemplateVersion => ({
  workspaceId: 'w',
  templateId: 't',
  version: 2,
  name: 't',
  subject: 'Hi',
  preheader: '',
  format: 'html',
  body,
  text: null,
  hash: '',
  createdAt: 0,
})

const FALLBACK = 'Our new arrivals are in.'
const live = (inner: string, size = 'width: 300, height: 100') =>
  `<p>{{ first_name | default: "you" }}</p>{% live "hero" ${size} %}${inner}{% fallback %}${FALLBACK}{% endlive %}`

async function block(
  body: string,
  recipient: Partial<RecipientData> = {},
  name = 'hero',
  budgetMs = 300,
): Promise<BlockRender> {
  const compiled = await compileTemplate(version(body), engine)
  const r = await renderBlock(
    engine,
    compiled,
    name,
    { profileOutcome: 'live', ...recipient },
    { workspaceId: 'w', deadline: Date.now() + budgetMs, budgetMs },
  )
  assert.ok(r, `block ${name} exists`)
  return r
}

const fallbacks = (r: BlockRender) =>
  r.report.fallbacks.map((f) => [f.part, f.placeholder, f.reason, f.source])

describe('renderBlock: one live block at open time', () => {
  test('the body renders with the recipient traits; nothing falls back', async () => {
    const r = await block(live('<div style="display:flex">Still into {{ product.name }}?</div>'), {
      traits: { product: { name: 'Desk' } },
    })
    assert.equal(r.fellBack, false)
    assert.equal(r.markup, '<div style="display:flex">Still into Desk?</div>')
    assert.equal(r.text, 'Still into Desk?')
    assert.deepEqual(r.def, { name: 'hero', kind: 'image', width: 300, height: 100, cache: 'private' })
    assert.deepEqual(r.report.fallbacks, [])
    assert.equal(r.report.templateId, 't')
    assert.equal(r.report.version, 2)
    assert.deepEqual(r.report.profile, { outcome: 'live' })
  })

  test('a missing trait gives the fallback, sized to the block, and the report says missing', async () => {
    const r = await block(live('<div>Still into {{ product.name }}?</div>'), { traits: {} })
    assert.equal(r.fellBack, true)
    assert.equal(r.markup, fallbackMarkup(r.def, FALLBACK))
    assert.match(r.markup, /width:300px;height:100px/)
    assert.equal(r.text, FALLBACK)
    assert.deepEqual(fallbacks(r), [['html', 'live hero', 'missing', 'fallback-block']])
  })

  test('a profile read that timed out makes a missing trait fall back as timeout', async () => {
    const r = await block(live('<div>{{ product.name }}</div>'), { profileOutcome: 'timeout' })
    assert.equal(r.fellBack, true)
    assert.deepEqual(fallbacks(r), [['html', 'live hero', 'timeout', 'fallback-block']])
  })

  test('a connected-content call inside the block feeds it; a failing one gives the fallback with reason error', async () => {
    hits = []
    const ok = await block(
      live(
        `{% connected_content ${base}/stock?u={{ user_id }} :save stock :timeout 200 %}<div>{{ stock.left }} left</div>`,
      ),
      { userId: 'u1' },
    )
    assert.equal(ok.fellBack, false)
    assert.equal(ok.markup, '<div>7 left</div>')
    assert.deepEqual(hits, ['/stock?u=u1'], 'prefetched once, not called again by the render')
    assert.deepEqual(
      ok.report.sources.map((s) => [s.name, s.outcome]),
      [['stock', 'success']],
    )
    const failed = await block(
      live(`{% connected_content ${base}/fail :save stock :timeout 200 %}<div>{{ stock.left }} left</div>`),
    )
    assert.equal(failed.fellBack, true)
    assert.equal(failed.text, FALLBACK)
    assert.deepEqual(fallbacks(failed), [['html', 'live hero', 'error', 'fallback-block']])
    assert.deepEqual(
      failed.report.sources.map((s) => [s.name, s.outcome]),
      [['stock', 'error']],
    )
  })

  test('a source still pending at the deadline gives the fallback with reason timeout', async () => {
    const r = await block(
      live(`{% connected_content ${base}/hang :save stock :timeout 5000 %}<div>{{ stock.left }}</div>`),
      {},
      'hero',
      80,
    )
    assert.equal(r.fellBack, true)
    assert.deepEqual(fallbacks(r), [['html', 'live hero', 'timeout', 'fallback-block']])
    assert.deepEqual(
      r.report.sources.map((s) => [s.name, s.outcome]),
      [['stock', 'timeout']],
    )
  })

  test('a top-level connected_content :save outside the block is data the block reads', async () => {
    hits = []
    const r = await block(
      `{% connected_content ${base}/stock?top=1 :save shop :timeout 200 %}<p>{{ shop.label }}</p>` +
        live('<div>{{ shop.label }}: {{ shop.left }}</div>'),
    )
    assert.equal(r.fellBack, false)
    assert.equal(r.markup, '<div>Lamp: 7</div>')
    assert.deepEqual(hits, ['/stock?top=1'])
  })

  test('a Liquid error while rendering the body gives the fallback with reason error', async () => {
    const r = await block(live("<div>{% include 'no-such-block' %}</div>"))
    assert.equal(r.fellBack, true)
    assert.equal(r.text, FALLBACK)
    assert.deepEqual(fallbacks(r), [['html', 'live hero', 'error', 'fallback-block']])
  })

  test('an abort_message inside the body is not a skipped open: the block falls back', async () => {
    const r = await block(live("{% abort_message('nope') %}<div>x</div>"))
    assert.equal(r.fellBack, true)
    assert.equal(r.markup, fallbackMarkup(r.def, FALLBACK))
    assert.deepEqual(fallbacks(r), [['html', 'live hero', 'error', 'fallback-block']])
  })

  test('a block name the version does not have is undefined, not an error', async () => {
    const compiled = await compileTemplate(version(live('<div>x</div>')), engine)
    const r = await renderBlock(
      engine,
      compiled,
      'other',
      { profileOutcome: 'none' },
      { workspaceId: 'w', deadline: Date.now() + 100, budgetMs: 100 },
    )
    assert.equal(r, undefined)
  })
})

describe('send time', () => {
  test('a source inside a live body is not called when the message is sent, only one outside it', async () => {
    hits = []
    const body =
      `{% connected_content ${base}/stock?where=top :save top :timeout 200 %}` +
      live(
        `{% connected_content ${base}/stock?where=block :save stock :timeout 200 %}<div>{{ stock.left }}</div>`,
      )
    const compiled = await compileTemplate(version(body), engine)
    const r = await renderEmail(
      engine,
      compiled,
      { profileOutcome: 'live' },
      { workspaceId: 'w', deadline: Date.now() + 300, budgetMs: 300 },
    )
    assert.ok(r.ok)
    assert.deepEqual(hits, ['/stock?where=top'])
    assert.deepEqual(
      compiled.sources.map((s) => s.args.url),
      [`${base}/stock?where=top`],
    )
  })
})

describe('renderBlock: countdown', () => {
  const countdown = `{% countdown "sale" until: campaign.ends_at, width: 480, height: 96 %}{% fallback %}Ends Sunday.{% endcountdown %}`
  const at = (endsAt: unknown) => block(countdown, { campaign: { ends_at: endsAt as string } }, 'sale')

  test('until as an ISO-8601 string, epoch ms or a numeric string gives the instant', async () => {
    for (const [value, ms] of [
      ['2026-12-01T18:30:00Z', Date.UTC(2026, 11, 1, 18, 30)],
      ['2026-12-01T18:30:00+02:00', Date.UTC(2026, 11, 1, 16, 30)],
      [1_796_150_000_000, 1_796_150_000_000],
      ['1796150000000', 1_796_150_000_000],
    ] as const) {
      const r = await at(value)
      assert.equal(r.fellBack, false, String(value))
      assert.equal(r.untilMs, ms, String(value))
      assert.equal(r.text, 'Ends Sunday.')
      assert.deepEqual(r.report.fallbacks, [])
    }
  })

  test('an unparsable until falls back as invalid, a missing one as missing, with no instant', async () => {
    for (const [value, reason] of [
      ['next sunday', 'invalid'],
      ['2026-13-45', 'invalid'],
      [{ when: 1 }, 'invalid'],
      [undefined, 'missing'],
    ] as const) {
      const r = await at(value)
      assert.equal(r.fellBack, true, String(value))
      assert.equal(r.untilMs, undefined)
      assert.equal(r.markup, fallbackMarkup(r.def, 'Ends Sunday.'))
      assert.deepEqual(fallbacks(r), [['html', 'countdown sale', reason, 'fallback-block']], String(value))
    }
  })
})
