/**
 * render: emails rendered per second on one core through renderEmail (tracked fallbacks, deadline,
 * report, one cached connected-content call), against plain liquidjs rendering the same compiled
 * HTML with the same data in the same run. Also the MJML compile cost per template version.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Liquid } from 'liquidjs'
import mjml2html from 'mjml'
import { compileTemplate } from '../src/content/compile.ts'
import { HttpConnectedContent } from '../src/content/connected-content/http-connected-content.ts'
import { createEngine } from '../src/content/liquid-engine.ts'
import type { TemplateVersion } from '../src/content/template-store.ts'
import { renderEmail } from '../src/render/render-email.ts'
import { type BenchResult, fmt } from './lib/report.ts'

const RECS = {
  title: 'Picked for you',
  items: [{ name: 'Desk lamp', url: 'https://shop.example/p/1', price: 49 }],
}

/** ~8 placeholders, a loop over recent products, one connected-content call, a section with a fallback. */
const mjmlBody = (recsUrl: string) => `<mjml>
<mj-head><mj-title>{{ first_name | default: "Hello" }}</mj-title></mj-head>
<mj-body>
<mj-raw>{% connected_content ${recsUrl}?u={{ user_id }} :save recs :timeout 200 :cache_max_age 60 %}</mj-raw>
<mj-section><mj-column>
<mj-text><h1>Hi {{ first_name | default: "there" }},</h1></mj-text>
<mj-text>You left {{ last_cart_product.name | default: "something" }} ({{ last_cart_product.price | default: "" }} EUR) in your cart.</mj-text>
<mj-text>Orders in the last 30 days: {{ orders_30d | default: 0 }}. Shipping to {{ location.city | default: "you" }}.</mj-text>
</mj-column></mj-section>
<mj-raw>{% for p in recent_products %}</mj-raw>
<mj-section><mj-column><mj-text><a href="{{ p.url }}">{{ p.name }}</a> — {{ p.price }} EUR</mj-text></mj-column></mj-section>
<mj-raw>{% endfor %}</mj-raw>
<mj-raw>{% section "recs" %}</mj-raw>
<mj-section><mj-column><mj-text><h2>{{ recs.title }}</h2></mj-text></mj-column></mj-section>
<mj-raw>{% fallback %}</mj-raw>
<mj-section><mj-column><mj-text><h2>Bestsellers</h2></mj-text></mj-column></mj-section>
<mj-raw>{% endsection %}</mj-raw>
<mj-section><mj-column><mj-text>{{ email | default: "" }} · <a href="https://shop.example/u">Unsubscribe</a></mj-text></mj-column></mj-section>
</mj-body></mjml>`

const profile = {
  first_name: 'Ada',
  email: 'ada@example.com',
  orders_30d: 3,
  location: { city: 'Lyon' },
  last_cart_product: { name: 'Desk lamp', price: 49 },
  recent_products: Array.from({ length: 5 }, (_, i) => ({
    name: `Product ${i}`,
    url: `https://shop.example/p/${i}`,
    price: 10 + i,
  })),
}

/** Calls fn back to back for ms milliseconds; returns calls per second. */
async function rate(fn: () => Promise<unknown>, ms: number): Promise<number> {
  const end = performance.now() + ms
  let n = 0
  const start = performance.now()
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) await fn()
    n += 100
  }
  return n / ((performance.now() - start) / 1000)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function render(): Promise<BenchResult> {
  let hits = 0
  const server = createServer((_req, res) => {
    hits++
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(RECS))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  const cc = new HttpConnectedContent({ allowHosts: () => [`127.0.0.1:${port}`] })
  try {
    const engine = createEngine({ blocks: {}, connectedContent: cc })
    const version: TemplateVersion = {
      workspaceId: 'w',
      templateId: 'bench',
      version: 1,
      name: 'bench',
      subject:
        '{{ first_name | default: "Hi" }}, your {{ last_cart_product.name | default: "cart" }} is waiting',
      preheader: 'Still thinking about {{ last_cart_product.name | default: "it" }}?',
      format: 'mjml',
      body: mjmlBody(`http://127.0.0.1:${port}/recs`),
      text: null,
      hash: '',
      createdAt: 0,
    }
    // MJML compile cost per template version: MJML alone, and everything compileTemplate does.
    const mjmlTimes: number[] = []
    const compileTimes: number[] = []
    for (let i = 0; i < 15; i++) {
      let t = performance.now()
      await mjml2html(version.body, { validationLevel: 'soft' })
      mjmlTimes.push(performance.now() - t)
      t = performance.now()
      await compileTemplate({ ...version, version: i + 2 }, engine)
      compileTimes.push(performance.now() - t)
    }
    const compiled = await compileTemplate(version, engine)
    const opts = () => ({ workspaceId: 'w', deadline: Date.now() + 500, budgetMs: 500 })
    const recipient = { userId: 'ada', traits: profile, profileOutcome: 'live' as const }
    const first = await renderEmail(engine, compiled, recipient, opts())
    if (!first.ok || first.report.fallbacks.length > 0 || !first.html.includes('Picked for you')) {
      throw new Error(`the benchmark template does not render cleanly: ${JSON.stringify(first.report)}`)
    }

    // Baseline: plain liquidjs over the same compiled layout and data; what it cannot do (fetch
    // the source, the fallback block) is taken out: the source's data is put in the scope.
    const plain = new Liquid({ outputEscape: 'escape' })
    const plainBody = version.body
      .replace(/<mj-raw>\{% connected_content[^<]*<\/mj-raw>/, '')
      .replace('<mj-raw>{% section "recs" %}</mj-raw>', '')
      .replace(/<mj-raw>\{% fallback %\}[\s\S]*?\{% endsection %\}<\/mj-raw>/, '')
    const plainHtml = plain.parse((await mjml2html(plainBody, {})).html)
    const plainSubject = plain.parse(version.subject)
    const plainScope = { ...profile, user_id: 'ada', recs: RECS }
    const baselineOnce = async () => {
      await plain.render(plainSubject, plainScope)
      return plain.render(plainHtml, plainScope)
    }
    if (!(await baselineOnce()).includes('Picked for you'))
      throw new Error('the baseline template does not render')
    const inkOnce = () => renderEmail(engine, compiled, recipient, opts())
    // For reference: liquidjs's synchronous API, which cannot call a source mid-render.
    const plainSync = async () => {
      plain.renderSync(plainSubject, plainScope)
      return plain.renderSync(plainHtml, plainScope)
    }

    const inkRates: number[] = []
    const baseRates: number[] = []
    const syncRates: number[] = []
    for (let round = 0; round < 3; round++) {
      baseRates.push(await rate(baselineOnce, 1500))
      inkRates.push(await rate(inkOnce, 1500))
      syncRates.push(await rate(plainSync, 1000))
    }
    const inkstream = median(inkRates)
    const baseline = median(baseRates)
    const ratio = inkstream / baseline
    const met = ratio >= 0.5 && inkstream >= 10_000
    const mjmlMs = median(mjmlTimes)
    const compileMs = median(compileTimes)
    return {
      benchmark: 'render',
      metric:
        'emails rendered per second on one core (subject + preheader + HTML + text), renderEmail vs plain liquidjs',
      inkstream: Math.round(inkstream),
      baseline: Math.round(baseline),
      ratio: Math.round(ratio * 1000) / 1000,
      goal: '>= 0.5 of plain liquidjs and >= 10,000 emails/s',
      met,
      details: {
        rounds: { inkstream: inkRates.map(Math.round), baseline: baseRates.map(Math.round) },
        plainLiquidSyncPerSecond: Math.round(median(syncRates)),
        sourceRequests: hits,
        htmlBytes: first.html.length,
        mjmlCompileMsMedian: Math.round(mjmlMs * 100) / 100,
        compileTemplateMsMedian: Math.round(compileMs * 100) / 100,
        note:
          'baseline = liquid.render (async, the documented API) of subject + HTML; renderEmail also renders ' +
          'preheader and text, tracks fallbacks and builds the report. plainLiquidSyncPerSecond = liquid.renderSync.',
      },
      summary:
        `render: ${fmt(inkstream)} emails/s via renderEmail vs ${fmt(baseline)}/s plain liquidjs ` +
        `(ratio ${ratio.toFixed(2)}; goal >= 0.5 and >= 10,000/s: ${met ? 'met' : 'NOT met'}); ` +
        `MJML compile ${mjmlMs.toFixed(1)} ms, whole compile ${compileMs.toFixed(1)} ms per version`,
    }
  } finally {
    await cc.close()
    server.close()
  }
}
