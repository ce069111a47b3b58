/**
 * Segment's Ruby library (analytics-ruby 2.5.0, vendored unmodified in
 * test/clients/vendor/analytics-ruby: RubyGems is out of reach here and in CI) against the
 * collector over a real socket. It posts its batches to /v1/import (Defaults::Request::PATH) with
 * the write key as the Basic auth username, and the events must show in the profile. Debian's ruby
 * runs it from source (-I lib); it needs only Ruby's standard library (.ci/run installs ruby).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { LOG_FILE } from '../../src/app.ts'
import { startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { missingService } from '../helpers/services.ts'

const ROOT = join(import.meta.dirname, '../..')
const LIBRARY = join(ROOT, 'test/clients/vendor/analytics-ruby/lib')
const PROGRAM = join(ROOT, 'scripts/segment-ruby/send_events.rb')
const RUBY = '/usr/bin/ruby'

const skip = missingService('ruby', existsSync(RUBY), 'apt-get install ruby')

/** The collector's requests by route and status, from GET /metrics: { "/v1/import 200": 1 }. */
async function requestsByRoute(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const counts: Record<string, number> = {}
  for (const m of text.matchAll(
    /^inkstream_ingest_requests_total\{route="([^"]*)",status="(\d+)"\} (\d+)$/gm,
  ))
    counts[`${m[1]} ${m[2]}`] = Number(m[3])
  return counts
}

describe('Segment analytics-ruby posting to /v1/import', { skip }, () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
  })
  after(() => app?.close())

  test('events sent with analytics-ruby reach the profile with the library messageIds', async () => {
    const userId = 'ruby-user'
    const run = await promisify(execFile)(
      RUBY,
      ['-I', LIBRARY, PROGRAM, app.url, app.workspace.writeKey, userId],
      { timeout: 90_000 },
    ).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      assert.fail(`send_events.rb failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`)
    })
    const lines = run.stdout.trim().split('\n')
    assert.equal(lines.length, 5, run.stdout)
    assert.ok(
      lines.every((l) => /^ok [0-9a-f-]{36}$/.test(l)),
      run.stdout,
    )
    const sentIds = lines.map((l) => l.slice(3)).sort()

    await waitForProcessed(app)
    // The library's worker thread starts on the first message and sends what the queue holds, so
    // how many requests it makes may vary; which path, what status and how many events may not.
    assert.deepEqual(Object.keys(await requestsByRoute(app.url)), ['/v1/import 200'])
    const text = await (await fetch(`${app.url}/metrics`)).text()
    assert.match(text, /^inkstream_ingest_events_total\{outcome="accepted"\} 5$/m)

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
    assert.deepEqual(stored.map((e) => e.type).sort(), ['group', 'identify', 'page', 'track', 'track'])
    assert.deepEqual(
      stored.map((e) => e.context?.library),
      Array(5).fill({ name: 'analytics-ruby', version: '2.5.0' }),
      "each event's context names the library",
    )

    const res = await fetch(`${app.url}/v1/profiles/${userId}`, {
      headers: { authorization: `Bearer ${app.workspace.adminKey}` },
    })
    const { traits } = (await res.json()) as { traits: Record<string, unknown> }
    assert.deepEqual(traits, {
      email: `${userId}@example.com`,
      firstName: 'Ruby',
      plan: 'pro',
      first_name: 'Ruby',
      last_name: null,
      last_viewed_product: { product_id: 'p-9', name: 'Kettle', price: 45 },
      recent_products: [{ product_id: 'p-9', name: 'Kettle', price: 45 }],
      last_cart_product: null,
      first_order_id: `${userId}-0`,
      orders_30d: 1,
      revenue_30d: 60,
      largest_order_30d: 60,
      orders_total: 1,
      revenue_total: 60,
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
