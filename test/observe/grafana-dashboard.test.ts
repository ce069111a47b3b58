/**
 * The Grafana dashboard shipped in deploy/grafana/inkstream.json: a dashboard Grafana imports on any
 * instance (the data source is a variable, no uid of ours), with a sane layout, whose every query a
 * real Prometheus (Debian's `prometheus` package, the server beside promtool) evaluates against a
 * real running app scraped as the shipped rules expect (job `inkstream`, the recording rules loaded),
 * and whose panels about ingest, freshness, rendering and fallbacks show what the traffic did.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { api } from '../campaigns/campaign-api.ts'
import { basicAuth, startTestApp, type TestApp, tempDir, waitForProcessed } from '../helpers/app.ts'
import { missingService } from '../helpers/services.ts'

const ROOT = join(import.meta.dirname, '../..')
const DASHBOARD = join(ROOT, 'deploy/grafana/inkstream.json')
const RULES = join(ROOT, 'deploy/prometheus/inkstream.rules.yml')
const PROMETHEUS = process.env.PROMETHEUS ?? '/usr/bin/prometheus'
/** Grafana's reference to the dashboard's data source variable, as every panel and query must use it. */
const DATASOURCE_VAR = ['$', '{datasource}'].join('')

interface Target {
  refId: string
  expr: string
  datasource?: { type?: string; uid?: string }
  instant?: boolean
}
interface Panel {
  id: number
  type: string
  title: string
  description?: string
  gridPos: { x: number; y: number; w: number; h: number }
  datasource?: { type?: string; uid?: string }
  targets?: Target[]
  panels?: Panel[]
}
interface Dashboard {
  uid: string
  title: string
  panels: Panel[]
  templating: { list: { name: string; type: string; query: unknown; datasource?: { uid?: string } }[] }
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])
const queryPanels = panels.filter((p) => p.type !== 'row')

/**
 * A panel's query as Grafana sends it to Prometheus: the dashboard's variables replaced by what they
 * hold here (one job, every instance) and Grafana's interval variables by fixed windows.
 */
function asSent(expr: string): string {
  return expr
    .replaceAll('$job', 'inkstream')
    .replaceAll('$instance', '.*')
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '1h')
}

/** Metric names a query reads: Inkstream's own series and the recording rules' (level:metric:ops). */
function metricsIn(expr: string): string[] {
  return [...new Set(expr.match(/\b(?:[a-z_]+:)?inkstream_[a-z0-9_]+(?::[a-z0-9_]+)?\b/g) ?? [])]
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
}

describe('the Grafana dashboard in deploy/grafana', () => {
  test('it imports anywhere: the data source is a variable, ids are unique, panels fit the 24-column grid', () => {
    assert.equal(dashboard.uid, 'inkstream')
    const ds = dashboard.templating.list.find((v) => v.name === 'datasource')
    assert.deepEqual([ds?.type, ds?.query], ['datasource', 'prometheus'])
    const names = dashboard.templating.list.map((v) => v.name)
    assert.deepEqual(names, ['datasource', 'job', 'instance'])
    const ids = panels.map((p) => p.id)
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique')
    for (const p of panels) {
      const { x, w, h } = p.gridPos
      assert.ok(x >= 0 && w > 0 && h > 0 && x + w <= 24, `${p.title}: ${JSON.stringify(p.gridPos)}`)
    }
    // No two panels overlap (Grafana would move them on import).
    for (const a of panels)
      for (const b of panels) {
        if (a.id >= b.id) continue
        const apart =
          a.gridPos.x + a.gridPos.w <= b.gridPos.x ||
          b.gridPos.x + b.gridPos.w <= a.gridPos.x ||
          a.gridPos.y + a.gridPos.h <= b.gridPos.y ||
          b.gridPos.y + b.gridPos.h <= a.gridPos.y
        assert.ok(apart, `"${a.title}" and "${b.title}" overlap`)
      }
    for (const p of queryPanels) {
      assert.ok(p.description, `${p.title} says what it shows`)
      assert.equal(p.datasource?.uid, DATASOURCE_VAR, p.title)
      assert.ok(p.targets && p.targets.length > 0, `${p.title} has queries`)
      const refs = p.targets.map((t) => t.refId)
      assert.equal(new Set(refs).size, refs.length, `${p.title}: refIds are unique`)
      for (const t of p.targets) {
        assert.equal(t.datasource?.uid, DATASOURCE_VAR, `${p.title} ${t.refId}`)
        // Every per-series query is scoped to the chosen job (instances within it).
        if (metricsIn(t.expr).length > 0) assert.match(t.expr, /job=~"\$job"/, `${p.title}: ${t.expr}`)
      }
    }
  })

  test('every metric a panel reads is exported by the app or recorded by the shipped rules', async () => {
    const app = await startTestApp()
    try {
      const text = await (await fetch(`${app.url}/metrics`)).text()
      const exported = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]))
      const recorded = new Set([...readFileSync(RULES, 'utf8').matchAll(/- record: (\S+)/g)].map((m) => m[1]))
      const unknown: string[] = []
      for (const p of queryPanels)
        for (const t of p.targets ?? [])
          for (const name of metricsIn(t.expr)) {
            const base = name.replace(/_(bucket|sum|count)$/, '')
            if (!exported.has(name) && !exported.has(base) && !recorded.has(name))
              unknown.push(`${p.title}: ${name}`)
          }
      assert.deepEqual(unknown, [])
    } finally {
      await app.close()
    }
  })
})

const prometheusMissing = () =>
  missingService('prometheus', existsSync(PROMETHEUS), `${PROMETHEUS} not found (apt-get install prometheus)`)

describe('the dashboard against a real Prometheus scraping a running app', {
  skip: prometheusMissing(),
  timeout: 120_000,
}, () => {
  let app: TestApp
  let prometheus: ChildProcess | undefined
  let promUrl = ''
  let promLog = ''

  /** An instant query; the API's answer (status, result, error). */
  const query = async (expr: string) => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)
    return (await res.json()) as {
      status: string
      error?: string
      data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }
    }
  }
  /** Polls until `check` holds (scrapes are every second, rules evaluated every second). */
  const eventually = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + 30_000
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`${what}: not within 30 s\n${promLog.slice(-2000)}`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }

  before(async () => {
    app = await startTestApp()
    const dir = tempDir('inkstream-prometheus-')
    const config = join(dir, 'prometheus.yml')
    writeFileSync(
      config,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: [${JSON.stringify(RULES)}]`,
        'scrape_configs:',
        '  - job_name: inkstream',
        `    static_configs: [{ targets: [${JSON.stringify(new URL(app.url).host)}] }]`,
        '',
      ].join('\n'),
    )
    const port = await freePort()
    promUrl = `http://127.0.0.1:${port}`
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    prometheus.stdout?.on('data', (c: Buffer) => {
      promLog += c
    })
    prometheus.stderr?.on('data', (c: Buffer) => {
      promLog += c
    })
    await eventually('Prometheus ready', async () => {
      try {
        return (await fetch(`${promUrl}/-/ready`)).ok
      } catch {
        return false
      }
    })
    const put = await api(app, 'PUT', '/v1/templates/hello', {
      subject: 'Hi',
      html: '<p>Hi {{ first_name | default: "there" }}</p>',
    })
    assert.ok(put.status < 300, JSON.stringify(put.body))
    // One of each before a scrape: a labelled series first appears with its value, and a rate or a
    // quantile counts only what changed after a scrape saw it (as for any process Prometheus scrapes).
    await traffic(1, 1)
    await eventually('the first events and render scraped', async () => {
      const r = await query(
        'inkstream_ingest_events_total{job="inkstream",outcome="accepted"} >= 1 and on (job) inkstream_render_duration_seconds_count{job="inkstream",mode="pre-send"}',
      )
      return (r.data?.result.length ?? 0) > 0
    })
    await traffic(39, 3)
  })

  /** `events` tracks of 4 users (then until processed), and `renders` previews (each falls back: no first_name). */
  async function traffic(events: number, renders: number): Promise<void> {
    for (let i = 0; i < events; i++) {
      const res = await fetch(`${app.url}/v1/track`, {
        method: 'POST',
        headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
        body: JSON.stringify({ userId: `u${i % 4}`, event: 'Product Viewed', properties: { sku: `s${i}` } }),
      })
      assert.equal(res.status, 200, await res.text())
    }
    await waitForProcessed(app)
    for (let i = 0; i < renders; i++) {
      const preview = await api(app, 'POST', '/v1/templates/hello/preview', { userId: `u${i}` })
      assert.equal(preview.status, 200, JSON.stringify(preview.body))
    }
  }

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus?.once('exit', r))
      prometheus.kill('SIGTERM')
      await exited
    }
    await app?.close()
  })

  test('every query of every panel is valid PromQL that Prometheus evaluates', async () => {
    const failed: string[] = []
    for (const p of queryPanels)
      for (const t of p.targets ?? []) {
        const r = await query(asSent(t.expr))
        if (r.status !== 'success') failed.push(`${p.title} ${t.refId}: ${r.error}`)
      }
    assert.deepEqual(failed, [])
  })

  test('the ingest, freshness, rendering and process panels show the traffic, the recording rules included', async () => {
    // What the traffic above must show, by panel title; each query of those panels returns series,
    // and the figures below are what was done (40 accepted events, 3 renders, every one falling back).
    const mustShow = [
      'Events ingested /s',
      'Pipeline lag p95',
      'Fallbacks per render',
      'Inkstream alerts firing',
      'Events ingested',
      'Collector requests',
      'Pipeline lag',
      'Consumer lag',
      'Processor events',
      'Processor batches',
      'Render time p95',
      'Renders',
      'Fallbacks by reason',
      'Top fallbacks in the time range',
      'CPU',
      'Resident memory',
      'Event loop lag p99',
      'Heap used',
    ]
    const byTitle = new Map(queryPanels.map((p) => [p.title, p]))
    for (const title of mustShow) {
      const panel = byTitle.get(title)
      assert.ok(panel, `a panel "${title}"`)
      for (const t of panel.targets ?? [])
        await eventually(`"${title}" ${t.refId} shows data`, async () => {
          const r = await query(asSent(t.expr))
          return (r.data?.result.length ?? 0) > 0
        })
    }
    const values = async (title: string) => {
      const t = byTitle.get(title)?.targets?.[0]
      assert.ok(t, title)
      const r = await query(asSent(t.expr))
      return (r.data?.result ?? []).map((s) => ({ labels: s.metric, value: Number(s.value[1]) }))
    }
    // The recording rule behind the stat: events per second over 5 minutes, from the 39 events sent
    // after the first scrape (at most 39/s however short the window Prometheus extrapolates from).
    await eventually('the ingest rate recorded', async () => {
      const rate = await values('Events ingested /s')
      return rate.length === 1 && rate[0]!.value > 0 && rate[0]!.value <= 39
    })
    await eventually('the pipeline lag recorded', async () => {
      const lag = await values('Pipeline lag p95')
      return lag.length === 1 && lag[0]!.value > 0 && lag[0]!.value < 10
    })
    assert.deepEqual(
      (await values('Events ingested')).map((s) => s.labels.outcome),
      ['accepted'],
    )
    await eventually('the top fallback listed', async () => {
      const top = await values('Top fallbacks in the time range')
      return (
        JSON.stringify(top.map((s) => [s.labels.template, s.labels.placeholder, s.labels.reason])) ===
          JSON.stringify([['hello', 'first_name', 'missing']]) && top[0]!.value > 0
      )
    })
    assert.deepEqual(
      (await values('Inkstream alerts firing')).map((s) => s.value),
      [0],
    )
  })
})
