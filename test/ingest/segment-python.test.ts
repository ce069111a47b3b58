/**
 * Segment's Python library (analytics-python 2.3.4, vendored unmodified in
 * test/clients/vendor/analytics-python: PyPI is out of reach here and in CI) against the collector
 * over a real socket. It posts its batches to /v1/batch (not /v1/import like the other server
 * libraries; see request.py) with the write key in the body as "writeKey" and no Authorization
 * header, and the events must show in the profile. Debian's python3 runs it from source
 * (PYTHONPATH) with Debian's python3-requests, -backoff, -dateutil and -jwt (.ci/run installs them).
 */
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { LOG_FILE } from '../../src/app.ts'
import { startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { missingService } from '../helpers/services.ts'

const ROOT = join(import.meta.dirname, '../..')
const LIBRARY = join(ROOT, 'test/clients/vendor/analytics-python')
const PROGRAM = join(ROOT, 'scripts/segment-python/send_events.py')
const PYTHON = '/usr/bin/python3'
const DEPS = 'import requests, backoff, dateutil, jwt'

const skip =
  missingService('python3', existsSync(PYTHON), 'apt-get install python3') ||
  missingService(
    'a dependency of analytics-python',
    spawnSync(PYTHON, ['-c', DEPS]).status === 0,
    'apt-get install python3-requests python3-backoff python3-dateutil python3-jwt',
  )

/** The collector's requests by route and status, from GET /metrics: { "/v1/batch 200": 1 }. */
async function requestsByRoute(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const counts: Record<string, number> = {}
  for (const m of text.matchAll(
    /^inkstream_ingest_requests_total\{route="([^"]*)",status="(\d+)"\} (\d+)$/gm,
  ))
    counts[`${m[1]} ${m[2]}`] = Number(m[3])
  return counts
}

describe('Segment analytics-python posting to /v1/batch', { skip }, () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
  })
  after(() => app?.close())

  test('events sent with analytics-python reach the profile with the library messageIds', async () => {
    const userId = 'python-user'
    const run = await promisify(execFile)(PYTHON, [PROGRAM, app.url, app.workspace.writeKey, userId], {
      timeout: 90_000,
      // No __pycache__ in the vendored tree.
      env: { ...process.env, PYTHONPATH: LIBRARY, PYTHONDONTWRITEBYTECODE: '1' },
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      assert.fail(`send_events.py failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`)
    })
    const lines = run.stdout.trim().split('\n')
    assert.equal(lines.length, 6, run.stdout)
    assert.ok(
      lines.every((l) => /^ok [0-9a-f-]{36}$/.test(l)),
      run.stdout,
    )
    const sentIds = lines.map((l) => l.slice(3)).sort()

    await waitForProcessed(app)
    // The library batches on a timer (upload_interval), so how many requests it makes may vary;
    // which path, what status and how many events were accepted may not.
    assert.deepEqual(Object.keys(await requestsByRoute(app.url)), ['/v1/batch 200'])
    const text = await (await fetch(`${app.url}/metrics`)).text()
    assert.match(text, /^inkstream_ingest_events_total\{outcome="accepted"\} 6$/m)

    const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
    const stored = db
      .prepare("SELECT payload FROM log_events WHERE json_extract(payload, '$.userId') = ?")
      .pluck()
      .all(userId)
      .map(
        (p) =>
          JSON.parse(p as string) as {
            messageId: string
            type: string
            context?: { library?: { name?: string; version?: string } }
          },
      )
    db.close()
    assert.deepEqual(stored.map((e) => e.messageId).sort(), sentIds, 'the library messageIds are kept')
    assert.deepEqual(stored.map((e) => e.type).sort(), [
      'group',
      'identify',
      'page',
      'track',
      'track',
      'track',
    ])
    assert.deepEqual(
      stored.map((e) => e.context?.library),
      Array(6).fill({ name: 'analytics-python', version: '2.3.4' }),
      "each event's context names the library",
    )

    const res = await fetch(`${app.url}/v1/profiles/${userId}`, {
      headers: { authorization: `Bearer ${app.workspace.adminKey}` },
    })
    const { traits } = (await res.json()) as { traits: Record<string, unknown> }
    assert.deepEqual(traits, {
      email: `${userId}@example.com`,
      firstName: 'Py',
      plan: 'pro',
      first_name: 'Py',
      last_name: null,
      last_viewed_product: { product_id: 'p-7', name: 'Teapot', price: 30 },
      recent_products: [{ product_id: 'p-7', name: 'Teapot', price: 30 }],
      last_cart_product: null,
      first_order_id: `${userId}-0`,
      orders_30d: 2,
      revenue_30d: 55,
      largest_order_30d: 35,
      orders_total: 2,
      revenue_total: 55,
      products_viewed_7d: 1,
      carts_7d: 0,
      pages_viewed_7d: 1,
      location: null,
      email_opens_30d: 0,
      email_clicks_30d: 0,
      last_email_clicked: null,
    })
  })
})
