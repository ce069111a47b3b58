/**
 * Segment's Go library (analytics-go v3 at v3.3.0+1, vendored unmodified in
 * test/clients/vendor/analytics-go with its backoff package test/clients/vendor/backo-go: the Go
 * module proxy is out of reach here and in CI) against the collector over a real socket. It posts
 * its batches to /v1/batch (client.upload) with the write key as the Basic auth username and the
 * library in the batch's shared context, and the events must show in the profile. Debian's go
 * builds scripts/segment-go/send_events.go in GOPATH mode, with Debian's golang-github-google-uuid-dev
 * for github.com/google/uuid (.ci/run installs both).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { startTestApp, type TestApp, tempDir } from '../helpers/app.ts'
import { assertLibraryDelivered } from '../helpers/segment-library.ts'
import { missingService } from '../helpers/services.ts'

const ROOT = join(import.meta.dirname, '../..')
const VENDOR = join(ROOT, 'test/clients/vendor')
const PROGRAM = join(ROOT, 'scripts/segment-go/send_events.go')
const GO = '/usr/bin/go'
const DEBIAN_GOPATH = '/usr/share/gocode'

const skip =
  missingService('go', existsSync(GO), 'apt-get install golang-go') ||
  missingService(
    'github.com/google/uuid',
    existsSync(join(DEBIAN_GOPATH, 'src/github.com/google/uuid')),
    'apt-get install golang-github-google-uuid-dev',
  )

/** A GOPATH whose src/ links the vendored packages under their import paths; the driver built in it. */
async function buildDriver(dir: string): Promise<string> {
  const segmentio = join(dir, 'src/github.com/segmentio')
  mkdirSync(join(segmentio, 'analytics-go'), { recursive: true })
  symlinkSync(join(VENDOR, 'analytics-go'), join(segmentio, 'analytics-go/v3'))
  symlinkSync(join(VENDOR, 'backo-go'), join(segmentio, 'backo-go'))
  const binary = join(dir, 'send_events')
  await promisify(execFile)(GO, ['build', '-o', binary, PROGRAM], {
    timeout: 300_000,
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${dir}:${DEBIAN_GOPATH}`,
      GOFLAGS: '',
      GOPROXY: 'off',
    },
  }).catch((err: { stderr?: string; message: string }) => {
    assert.fail(`go build failed: ${err.message}\n${err.stderr ?? ''}`)
  })
  return binary
}

describe('Segment analytics-go posting to /v1/batch', { skip }, () => {
  let app: TestApp
  let gopath: string
  before(async () => {
    gopath = tempDir('inkstream-go-')
    app = await startTestApp()
  })
  after(async () => {
    await app?.close()
    if (gopath) rmSync(gopath, { recursive: true, force: true })
  })

  test('events sent with analytics-go reach the profile with the library messageIds', async () => {
    const userId = 'go-user'
    const binary = await buildDriver(gopath)
    const run = await promisify(execFile)(binary, [app.url, app.workspace.writeKey, userId], {
      timeout: 90_000,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      assert.fail(`send_events.go failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`)
    })
    const lines = run.stdout.trim().split('\n')
    assert.equal(lines.length, 6, run.stdout)
    assert.ok(
      lines.every((l) => /^ok [0-9a-f-]{36}$/.test(l)),
      run.stdout,
    )
    const sentIds = lines.map((l) => l.slice(3)).sort()

    // The library sends a batch when it is full (BatchSize: 6 here), on a timer or on Close, so
    // how many requests it makes may vary; which path, what status and how many events may not.
    await assertLibraryDelivered(app, {
      userId,
      sentIds,
      route: '/v1/batch 200',
      // The library names itself in the batch's shared context only; its Version constant still
      // says 3.0.0 at v3.3.0.
      library: { name: 'analytics-go', version: '3.0.0' },
      firstName: 'Go',
      product: { product_id: 'p-5', name: 'Cup', price: 8 },
      orders: [70, 5],
    })
  })
})
