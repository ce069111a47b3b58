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
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { assertLibraryDelivered } from '../helpers/segment-library.ts'
import { missingService } from '../helpers/services.ts'

const ROOT = join(import.meta.dirname, '../..')
const LIBRARY = join(ROOT, 'test/clients/vendor/analytics-ruby/lib')
const PROGRAM = join(ROOT, 'scripts/segment-ruby/send_events.rb')
const RUBY = '/usr/bin/ruby'

const skip = missingService('ruby', existsSync(RUBY), 'apt-get install ruby')

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

    // The library's worker thread starts on the first message and sends what the queue holds, so
    // how many requests it makes may vary; which path, what status and how many events may not.
    await assertLibraryDelivered(app, {
      userId,
      sentIds,
      route: '/v1/import 200',
      library: { name: 'analytics-ruby', version: '2.5.0' },
      firstName: 'Ruby',
      product: { product_id: 'p-9', name: 'Kettle', price: 45 },
      orders: [60],
    })
  })
})
