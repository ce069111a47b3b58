/**
 * `npm run demo` as a new user runs it: the real command in a child process prints a URL and an
 * admin key; signing in with them works, and within a minute the demo's shoppers and recipients
 * have produced what the dashboard's overview charts (ingest, sends, opens, clicks), as counted by
 * the server itself; in Chromium, the printed URL and key sign in through the dashboard's form to
 * the overview. Ctrl-C (SIGINT) stops it with exit code 0.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { cliArgs } from '../../scripts/dist.ts'
import { SEEDED_SHOPPERS } from '../../src/cli/demo-setup.ts'
import { tempDir } from '../helpers/app.ts'
import { chromiumMissing, launchChromium } from '../helpers/browser.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const STATUS =
  /demo: (\d+) events acknowledged, (\d+) refused; (\d+) emails sent, (\d+) opened, (\d+) clicked; (\d+) orders/g

interface Status {
  acknowledged: number
  refused: number
  sent: number
  opened: number
  clicked: number
}

/** The last status line the demo printed. */
function lastStatus(output: string): Status | undefined {
  const m = [...output.matchAll(STATUS)].at(-1)
  if (!m) return undefined
  const [acknowledged, refused, sent, opened, clicked] = m.slice(1, 6).map(Number) as number[]
  return { acknowledged: acknowledged!, refused: refused!, sent: sent!, opened: opened!, clicked: clicked! }
}

/** Sum of the samples of `name` whose labels contain every `label="value"` given. */
function metric(text: string, name: string, labels: string[] = []): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (labels.every((l) => line.includes(l))) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined, output: () => string) {
  for (const end = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 200))) {
    const v = probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`${what} within ${timeoutMs} ms; output:\n${output()}`)
  }
}

describe('npm run demo', () => {
  const dir = tempDir('inkstream-demo-')
  let child: ChildProcess
  let output = ''
  let exited: Promise<number | null>
  let url: string
  let adminKey: string
  const out = () => output

  before(async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('INKSTREAM_') && !k.startsWith('NODE_TEST')),
    )
    child = spawn(
      process.execPath,
      cliArgs('demo', '--port', '0', '--data-dir', dir, '--reset', '--rate', '15', '--status-every', '1'),
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      output += s
    })
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      output += s
    })
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    url = await until(
      'no dashboard URL printed',
      60_000,
      () => /dashboard: (http:\/\/\S+?)\/?\n/.exec(output)?.[1],
      out,
    )
    adminKey = await until('no admin key printed', 1_000, () => /admin key: (\S+)/.exec(output)?.[1], out)
  })
  after(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  test('signing in with the printed key works, and within a minute the server counted ingest, sends, opens and clicks', async () => {
    // Signing in as the dashboard's form does.
    const signIn = await fetch(`${url}/ui/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ adminKey }),
    })
    assert.equal(signIn.status, 200)
    assert.equal(((await signIn.json()) as { workspace: string }).workspace, 'demo')
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
    const admin = async (path: string) => {
      const res = await fetch(`${url}${path}`, { headers: { cookie } })
      assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`)
      return res.json() as Promise<Record<string, unknown>>
    }

    // The campaign went to every seeded buyer (shoppers 1..24 but every third), exactly once each.
    const buyers = Array.from({ length: SEEDED_SHOPPERS }, (_, i) => i + 1).filter((n) => n % 3 !== 0).length
    let picks: { state: string; progress: { sent: number } } | undefined
    for (const end = Date.now() + 30_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
      picks = (await admin('/v1/campaigns/weekly-picks')) as typeof picks
      if (picks?.state === 'done') break
    }
    assert.equal(picks?.state, 'done', output)
    assert.equal(picks?.progress.sent, buyers)

    // Within a minute of starting: sends, opens and clicks, as the demo reports them …
    const status = await until(
      'no send, open and click reported',
      60_000,
      () => {
        const s = lastStatus(output)
        return s && s.sent >= 1 && s.opened >= 1 && s.clicked >= 1 ? s : undefined
      },
      out,
    )
    assert.equal(status.refused, 0, output)
    // … and as the server counted them (everything the demo saw acknowledged or answered is counted).
    const metrics = await (await fetch(`${url}/metrics`)).text()
    const counted = {
      accepted: metric(metrics, 'inkstream_ingest_events_total', ['outcome="accepted"']),
      sent: metric(metrics, 'inkstream_delivery_outcomes_total', ['kind="sent"']),
      triggerSent: metric(metrics, 'inkstream_delivery_outcomes_total', ['origin="trigger"', 'kind="sent"']),
      opens: metric(metrics, 'inkstream_email_opens_total', ['machine="false"']),
      machineOpens: metric(metrics, 'inkstream_email_opens_total', ['machine="true"']),
      clicks: metric(metrics, 'inkstream_email_clicks_total'),
      // Every outcome: on a loaded machine the 200 ms budget may make all of them fallbacks.
      recsCalls: metric(metrics, 'inkstream_connected_content_calls_total'),
    }
    const why = `${JSON.stringify(counted)} vs ${JSON.stringify(status)}\n${metrics
      .split('\n')
      .filter((l) => /^inkstream_(ingest_events|delivery_outcomes|email_|connected_content_calls)/.test(l))
      .join('\n')}`
    assert.ok(counted.accepted >= status.acknowledged, why)
    assert.ok(counted.sent >= buyers + 1, why)
    assert.ok(counted.triggerSent >= 1, why)
    assert.ok(counted.opens >= status.opened, why)
    assert.equal(counted.machineOpens, 0, why)
    assert.ok(counted.clicks >= status.clicked, why)
    assert.ok(counted.recsCalls >= 1, why)
  })

  test('a new user opens the printed URL, signs in with the printed key through the form and sees the overview', {
    skip: chromiumMissing(),
  }, async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const problems: string[] = []
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`)
      })
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
      page.on('response', (r) => {
        if (r.status() >= 400)
          problems.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`)
      })
      await page.goto(url)
      await page.getByLabel('Admin key').fill(adminKey)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('navigation', { name: 'Main' }).waitFor()
      assert.equal(await page.locator('#page-title').textContent(), 'Overview')
      // … and sees it move: the ingest chart's window total grows while the page is open (the live
      // stream's points, every 2 s), with no reload.
      const ingestTotal = async () =>
        Number(
          await page.locator('[data-chart="ingest"] [data-window-total]').getAttribute('data-window-total'),
        )
      await page.waitForFunction(
        () =>
          Number(
            document
              .querySelector('[data-chart="ingest"] [data-window-total]')
              ?.getAttribute('data-window-total'),
          ) > 0,
        undefined,
        { timeout: 30_000 },
      )
      const first = await ingestTotal()
      const drawn = await page.locator('[data-chart="ingest"] .ov-chart').getAttribute('data-drawn-points')
      await page.waitForFunction(
        (before) =>
          Number(
            document
              .querySelector('[data-chart="ingest"] [data-window-total]')
              ?.getAttribute('data-window-total'),
          ) > before,
        first,
        { timeout: 30_000 },
      )
      assert.ok((await ingestTotal()) > first)
      assert.ok(Number(drawn) > 0)
      assert.deepEqual(problems, [])
    } finally {
      await browser.close()
    }
  })

  test('Ctrl-C (SIGINT) stops the demo with exit code 0', async () => {
    child.kill('SIGINT')
    assert.equal(await exited, 0, output)
    assert.match(output, /SIGINT: stopping the demo/)
  })
})
