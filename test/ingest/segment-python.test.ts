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
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { assertLibraryDelivered } from '../helpers/segment-library.ts'
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

    // The library batches on a timer (upload_interval), so how many requests it makes may vary;
    // which path, what status and how many events were accepted may not.
    await assertLibraryDelivered(app, {
      userId,
      sentIds,
      route: '/v1/batch 200',
      library: { name: 'analytics-python', version: '2.3.4' },
      firstName: 'Py',
      product: { product_id: 'p-7', name: 'Teapot', price: 30 },
      orders: [35, 20],
    })
  })
})
