/**
 * render: emails rendered per second on one core through renderEmail, against liquidjs rendering
 * the same four parts (subject, preheader, HTML, text) synchronously, with the same engine options
 * and pre-parsed templates, in the same run, in interleaved rounds (bench/lib/ab.ts).
 *
 * Two cases, each against its own baseline:
 * - plain: an MJML template with ~10 placeholders (with and without `default`), a loop and a
 *   derived text part. The baseline renders exactly the compiled sources renderEmail renders.
 * - cached connected content: the same template plus one `{% connected_content %}` call answered
 *   from the response cache and a `{% section %}` with a fallback. Plain liquidjs cannot call a
 *   source, so its copy has the tag and the section's fallback taken out and the source's data in
 *   the scope: renderEmail's extra work (the cache lookup, the request key, the allow-list, the
 *   fallback bookkeeping) is what the ratio measures.
 *
 * The source answers from a child process (real socket), once: every later call is a cache hit.
 * That child is the "server" cpuMeter watches, so otherCores is the rest of the machine.
 * BENCH_ROUNDS (default 3), BENCH_RENDER_MS (ms per side per round, default 1500); each side is first
 * warmed up for 1 s. Renders per second of this process's CPU time are recorded beside the
 * wall-clock rates (`perCpuSecond`, `cpuTimeRatio`): on a machine others load, they move less.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { Liquid, type Template } from 'liquidjs'
import mjml2html from 'mjml'
import {
  type CompiledTemplate,
  compileTemplate,
  htmlToTextTemplate,
  PREHEADER_MARKER,
  withPreheaderSlot,
} from '../src/content/compile.ts'
import { HttpConnectedContent } from '../src/content/connected-content/http-connected-content.ts'
import { escapeHtml } from '../src/content/escape-html.ts'
import { createEngine, DEFAULT_LIMITS, type Engine } from '../src/content/liquid-engine.ts'
import type { TemplateVersion } from '../src/content/template-store.ts'
import { type RecipientData, renderEmail } from '../src/render/render-email.ts'
import { fmtSpread, interleaved, ratioPerRound, roundsFromEnv, type Sample, spread } from './lib/ab.ts'
import { cpuMeter, round } from './lib/children.ts'
import { type BenchResult, fmt, noiseWarning } from './lib/report.ts'

const GOAL = 0.8
const SIDE_MS = Number(process.env.BENCH_RENDER_MS ?? 1500)
const WARM_UP_MS = 1000

const RECS = {
  title: 'Picked for you',
  items: [{ name: 'Desk lamp', url: 'https://shop.example/p/1', price: 49 }],
}

const CC_LINE = (url: string) =>
  `<mj-raw>{% connected_content ${url}?u={{ user_id }} :save recs :timeout 200 :cache_max_age 60 %}</mj-raw>`
const SECTION = `<mj-raw>{% section "recs" %}</mj-raw>
<mj-section><mj-column><mj-text><h2>{{ recs.title }}</h2></mj-text></mj-column></mj-section>
<mj-raw>{% fallback %}</mj-raw>
<mj-section><mj-column><mj-text><h2>Bestsellers</h2></mj-text></mj-column></mj-section>
<mj-raw>{% endsection %}</mj-raw>`
/**
 * Plain liquidjs's copy of the compiled HTML: the call taken out (its data goes in the scope) and
 * the section reduced to its body, which is what renderEmail renders when the source answered.
 */
const withoutOurTags = (html: string) =>
  html
    .replace(/\{% connected_content [^%]*%\}/, '')
    .replace('{% section "recs" %}', '')
    .replace(/\{% fallback %\}[\s\S]*?\{% endsection %\}/, '')

/** ~10 placeholders, a loop over recent products, optionally a source and a section with a fallback. */
const mjmlBody = (head: string, middle: string) => `<mjml>
<mj-head><mj-title>{{ first_name | default: "Hello" }}</mj-title></mj-head>
<mj-body>
${head}
<mj-section><mj-column>
<mj-text><h1>Hi {{ first_name | default: "there" }},</h1></mj-text>
<mj-text>You left {{ last_cart_product.name | default: "something" }} ({{ last_cart_product.price | default: "" }} EUR) in your cart.</mj-text>
<mj-text>Orders in the last 30 days: {{ orders_30d | default: 0 }}. Shipping to {{ location.city }}.</mj-text>
</mj-column></mj-section>
<mj-raw>{% for p in recent_products %}</mj-raw>
<mj-section><mj-column><mj-text><a href="{{ p.url }}">{{ p.name }}</a> — {{ p.price }} EUR</mj-text></mj-column></mj-section>
<mj-raw>{% endfor %}</mj-raw>
${middle}
<mj-section><mj-column><mj-text>{{ email }} · <a href="https://shop.example/u">Unsubscribe</a></mj-text></mj-column></mj-section>
</mj-body></mjml>`

const SUBJECT =
  '{{ first_name | default: "Hi" }}, your {{ last_cart_product.name | default: "cart" }} is waiting'
const PREHEADER = 'Still thinking about {{ last_cart_product.name | default: "it" }}?'

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

const version = (body: string): TemplateVersion => ({
  workspaceId: 'w',
  templateId: 'bench',
  version: 1,
  name: 'bench',
  subject: SUBJECT,
  preheader: PREHEADER,
  format: 'mjml',
  body,
  text: null,
  hash: '',
  createdAt: 0,
})

/** liquidjs with the engine's options (liquid-engine.ts) and nothing of ours: no tags, no tracking. */
function plainLiquid(escaped: boolean): Liquid {
  return new Liquid({
    ownPropertyOnly: true,
    strictFilters: true,
    strictVariables: false,
    ...(escaped ? { outputEscape: 'escape' as const } : {}),
    parseLimit: DEFAULT_LIMITS.parseLimit,
    renderLimit: DEFAULT_LIMITS.renderLimit,
    memoryLimit: DEFAULT_LIMITS.memoryLimit,
    cache: 200,
  })
}

interface PlainParts {
  subject: Template[]
  preheader: Template[]
  html: Template[]
  text: Template[]
}

/** The four parts parsed once, from the sources compileTemplate renders (MJML compiled, text derived). */
async function plainParts(
  body: string,
  html: Liquid,
  text: Liquid,
  edit = (s: string) => s,
): Promise<PlainParts> {
  const compiled = (await mjml2html(body, { validationLevel: 'soft', keepComments: false })).html
  return {
    subject: text.parse(SUBJECT),
    preheader: text.parse(PREHEADER),
    html: html.parse(edit(withPreheaderSlot(compiled))),
    text: text.parse(edit(htmlToTextTemplate(compiled))),
  }
}

/** One message the way renderEmail makes it: the four parts, synchronously, then the same finishing. */
function plainRender(html: Liquid, text: Liquid, parts: PlainParts, scope: object) {
  const body = html.renderSync(parts.html, scope) as string
  const subject = text.renderSync(parts.subject, scope) as string
  const preheader = (text.renderSync(parts.preheader, scope) as string).trim()
  return {
    subject: subject.replace(/[\r\n]+/g, ' ').trim(),
    preheader,
    html: body.replace(PREHEADER_MARKER, escapeHtml(preheader)),
    text: text.renderSync(parts.text, scope) as string,
  }
}

/** A source in a child process: answers RECS to every request and prints its port. */
async function startSource(): Promise<{ child: ChildProcess; url: string; hits: () => Promise<number> }> {
  const script = `
    let hits = 0
    const server = require('node:http').createServer((req, res) => {
      if (req.url === '/hits') return res.end(String(hits))
      hits++
      res.writeHead(200, { 'content-type': 'application/json' }).end(${JSON.stringify(JSON.stringify(RECS))})
    })
    server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port))`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the source exited (code ${code})`)))
    child.stdout!.on('data', (chunk: Buffer) => {
      const m = /port (\d+)/.exec(chunk.toString())
      if (m) resolve(Number(m[1]))
    })
  })
  const url = `http://127.0.0.1:${port}`
  return { child, url, hits: async () => Number(await (await fetch(`${url}/hits`)).text()) }
}

/** Calls fn back to back for ms milliseconds (checking the clock every 50 calls); calls per second. */
async function rate(fn: () => unknown, ms: number, pid: number): Promise<Sample> {
  const meter = cpuMeter(pid)
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  const end = start + ms
  let n = 0
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) await fn()
    n += 50
  }
  const value = n / ((performance.now() - start) / 1000)
  const used = process.cpuUsage(cpu0)
  // Per second of this process's CPU time too: what one core does, whatever else runs on the machine.
  const perCpuSecond = round(n / ((used.user + used.system) / 1e6))
  return { value: round(value), cpu: meter(), details: { perCpuSecond } }
}

export interface RenderBench {
  engine: Engine
  compiled: { plain: CompiledTemplate; cached: CompiledTemplate }
  /** One renderEmail of the plain template, and of the one with a cached source. */
  inkPlain: () => ReturnType<typeof renderEmail>
  inkCached: () => ReturnType<typeof renderEmail>
  basePlain: () => ReturnType<typeof plainRender>
  baseCached: () => ReturnType<typeof plainRender>
  sourcePid: number
  sourceHits: () => Promise<number>
  close: () => Promise<void>
}

/** Everything both sides need, checked: each renders cleanly and both sides make the same message. */
export async function setUp(): Promise<RenderBench> {
  const source = await startSource()
  // The config's list, as in production: the same array on every call.
  const allowHosts = [new URL(source.url).host]
  const cc = new HttpConnectedContent({ allowHosts: () => allowHosts })
  try {
    const engine = createEngine({ blocks: {}, connectedContent: cc })
    const plainBody = mjmlBody('', '')
    const cachedBody = mjmlBody(CC_LINE(`${source.url}/recs`), SECTION)
    const plain = await compileTemplate(version(plainBody), engine)
    const cached = await compileTemplate(version(cachedBody), engine)
    const recipient: RecipientData = { userId: 'ada', traits: profile, profileOutcome: 'live' }
    const opts = () => ({ workspaceId: 'w', deadline: Date.now() + 500, budgetMs: 500 })
    const inkPlain = () => renderEmail(engine, plain, recipient, opts())
    const inkCached = () => renderEmail(engine, cached, recipient, opts())

    const html = plainLiquid(true)
    const text = plainLiquid(false)
    const basePlainParts = await plainParts(plainBody, html, text)
    const baseCachedParts = await plainParts(cachedBody, html, text, withoutOurTags)
    const scope = { ...profile, user_id: 'ada', profile, event: {}, campaign: {}, view_url: '' }
    const cachedScope = { ...scope, recs: RECS }
    const basePlain = () => plainRender(html, text, basePlainParts, scope)
    const baseCached = () => plainRender(html, text, baseCachedParts, cachedScope)

    // The first call fetches (the source child may still be warming up); later ones hit the cache.
    for (let i = 0; i < 20; i++) {
      const r = await inkCached()
      if (r.ok && r.report.sources[0]?.outcome === 'success') break
    }
    for (const [name, ink, base] of [
      ['plain', inkPlain, basePlain],
      ['cached', inkCached, baseCached],
    ] as const) {
      const r = await ink()
      // One placeholder (location.city) has no default but is present; none may fall back.
      if (!r.ok || r.report.fallbacks.length > 0)
        throw new Error(`the ${name} template does not render cleanly: ${JSON.stringify(r.report)}`)
      const b = base()
      for (const part of ['subject', 'preheader', 'html', 'text'] as const)
        if (r[part] !== b[part])
          throw new Error(`the ${name} baseline's ${part} differs from renderEmail's: not the same work`)
    }
    const second = await inkCached()
    if (!second.ok || second.report.sources[0]?.fromCache !== true)
      throw new Error(`the source is not answered from the cache: ${JSON.stringify(second.report)}`)
    return {
      engine,
      compiled: { plain, cached },
      inkPlain,
      inkCached,
      basePlain,
      baseCached,
      sourcePid: source.child.pid!,
      sourceHits: source.hits,
      close: async () => {
        await cc.close()
        source.child.kill()
      },
    }
  } catch (err) {
    await cc.close()
    source.child.kill()
    throw err
  }
}

export async function render(): Promise<BenchResult> {
  const b = await setUp()
  try {
    const pid = b.sourcePid
    // Every side warmed up first (JIT, caches): the first round measured a cold renderEmail at a
    // tenth of its rate.
    for (const fn of [b.inkPlain, b.basePlain, b.inkCached, b.baseCached]) await rate(fn, WARM_UP_MS, pid)
    const ab = await interleaved(
      {
        inkPlain: () => rate(b.inkPlain, SIDE_MS, pid),
        basePlain: () => rate(b.basePlain, SIDE_MS, pid),
        inkCached: () => rate(b.inkCached, SIDE_MS, pid),
        baseCached: () => rate(b.baseCached, SIDE_MS, pid),
      },
      roundsFromEnv(),
    )
    const plainRatio = ratioPerRound(ab.sides.inkPlain, ab.sides.basePlain)
    const cachedRatio = ratioPerRound(ab.sides.inkCached, ab.sides.baseCached)
    const met = plainRatio.median >= GOAL && cachedRatio.median >= GOAL
    // The same ratios from CPU time (renders per second of this process's CPU): less disturbed by
    // other processes taking the cores, for reading next to the wall-clock ones that decide `met`.
    const perCpu = (side: keyof typeof ab.sides) =>
      ab.sides[side].samples.map((x) => x.details!.perCpuSecond as number)
    const cpuRatio = (num: keyof typeof ab.sides, den: keyof typeof ab.sides) =>
      spread(perCpu(num).map((v, i) => round(v / perCpu(den)[i]!, 4)))
    const hits = await b.sourceHits()
    const cpus = Object.values(ab.sides).flatMap((s) => s.samples.map((x) => x.cpu!))
    return {
      benchmark: 'render',
      metric:
        'emails rendered per second on one core (subject + preheader + HTML + text): renderEmail vs liquidjs renderSync of the same parts',
      inkstream: ab.sides.inkCached.spread.median,
      baseline: ab.sides.baseCached.spread.median,
      ratio: cachedRatio.median,
      goal: `>= ${GOAL} of liquidjs sync on the same parts, with and without a cached source (median of per-round ratios)`,
      met,
      details: {
        rounds: ab.rounds,
        msPerSide: SIDE_MS,
        ratio: { plain: plainRatio, cachedSource: cachedRatio },
        perSecond: Object.fromEntries(Object.entries(ab.sides).map(([k, s]) => [k, s.spread])),
        perCpuSecond: Object.fromEntries(
          (Object.keys(ab.sides) as (keyof typeof ab.sides)[]).map((k) => [k, spread(perCpu(k))]),
        ),
        cpuTimeRatio: {
          plain: cpuRatio('inkPlain', 'basePlain'),
          cachedSource: cpuRatio('inkCached', 'baseCached'),
        },
        loadAverages: ab.loadAverages,
        otherCores: cpus.map((c) => c.otherCores),
        worstOtherCores: ab.worstOtherCores,
        loadGenCores: cpus.map((c) => c.loadGenCores),
        sourceRequests: hits,
        note:
          'baseline = liquidjs (same options: ownPropertyOnly, strictFilters, escaping, limits, cache) rendering the ' +
          "compiled subject, preheader, HTML and text with renderSync, pre-parsed, plus renderEmail's finishing " +
          '(preheader into the HTML, subject on one line); for the cached case its copy has the source data in the scope.',
      },
      summary:
        `render: plain ${fmt(ab.sides.inkPlain.spread.median)} vs ${fmt(ab.sides.basePlain.spread.median)}/s, ratio ` +
        `${fmtSpread(plainRatio)}; cached source ${fmt(ab.sides.inkCached.spread.median)} vs ` +
        `${fmt(ab.sides.baseCached.spread.median)}/s, ratio ${fmtSpread(cachedRatio)} ` +
        `(goal >= ${GOAL} of liquidjs sync: ${met ? 'met' : 'NOT met'}); per CPU second: plain ` +
        `${fmtSpread(cpuRatio('inkPlain', 'basePlain'))}, cached ${fmtSpread(cpuRatio('inkCached', 'baseCached'))}` +
        noiseWarning(...cpus),
    }
  } finally {
    await b.close()
  }
}
