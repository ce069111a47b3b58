/**
 * Segment's .NET library (Analytics.NET 3.8.1, vendored unmodified in
 * test/clients/vendor/analytics-dotnet: NuGet and the .NET SDK are out of reach here and in CI)
 * against the collector over a real socket. It posts its batches to /v1/import (Host + "/v1/import",
 * no trailing slash) with the write key as the Basic auth username and the library in each event's
 * context, and the events must show in the profile. Debian's Mono compiles the library's sources with
 * scripts/segment-dotnet/SendEvents.cs (mcs, against Debian's Newtonsoft.Json and System.Net.Http)
 * and runs the result (mono); .ci/run installs them.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { startTestApp, type TestApp, tempDir } from '../helpers/app.ts'
import { assertLibraryDelivered } from '../helpers/segment-library.ts'
import { missingService } from '../helpers/services.ts'

const ROOT = join(import.meta.dirname, '../..')
const LIBRARY = join(ROOT, 'test/clients/vendor/analytics-dotnet/Analytics')
const PROGRAM = join(ROOT, 'scripts/segment-dotnet/SendEvents.cs')
const MCS = '/usr/bin/mcs'
const MONO = '/usr/bin/mono'
const NEWTONSOFT = '/usr/lib/cli/Newtonsoft.Json-5.0/Newtonsoft.Json.dll'
const SYSTEM_NET_HTTP = '/usr/lib/mono/4.5/System.Net.Http.dll'

const skip =
  missingService('mono', existsSync(MONO), 'apt-get install mono-runtime') ||
  missingService('mcs', existsSync(MCS), 'apt-get install mono-mcs') ||
  missingService(
    'System.Net.Http for Mono',
    existsSync(SYSTEM_NET_HTTP),
    'apt-get install libmono-system-net-http4.0-cil',
  ) ||
  missingService('Newtonsoft.Json', existsSync(NEWTONSOFT), 'apt-get install libnewtonsoft-json-cil-dev')

/** The library's .cs files, every one under Analytics/ (none needs a define or a NuGet package). */
function librarySources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.cs'))
    .sort()
    .map((f) => join(dir, f))
}

/** The driver and the library compiled into one executable in `dir`. */
async function buildDriver(dir: string): Promise<string> {
  const binary = join(dir, 'send_events.exe')
  await promisify(execFile)(
    MCS,
    [
      '-nologo',
      '-nowarn:1998,0414,0169',
      `-out:${binary}`,
      '-r:System.Net.Http',
      `-r:${NEWTONSOFT}`,
      PROGRAM,
      ...librarySources(LIBRARY),
    ],
    { timeout: 120_000 },
  ).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    assert.fail(`mcs failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`)
  })
  return binary
}

describe('Segment Analytics.NET posting to /v1/import', { skip }, () => {
  let app: TestApp
  let buildDir: string
  before(async () => {
    buildDir = tempDir('inkstream-dotnet-')
    app = await startTestApp()
  })
  after(async () => {
    await app?.close()
    if (buildDir) rmSync(buildDir, { recursive: true, force: true })
  })

  test('events sent with Analytics.NET reach the profile with the library messageIds', async () => {
    const userId = 'dotnet-user'
    const binary = await buildDriver(buildDir)
    const run = await promisify(execFile)(MONO, [binary, app.url, app.workspace.writeKey, userId], {
      timeout: 90_000,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      assert.fail(`SendEvents.cs failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`)
    })
    const lines = run.stdout.trim().split('\n')
    assert.equal(lines.length, 6, run.stdout)
    assert.ok(
      lines.every((l) => /^ok [0-9a-f-]{36}$/.test(l)),
      run.stdout,
    )
    const sentIds = lines.map((l) => l.slice(3)).sort()

    // Flush() sends the queue in batches of up to 20 (flushAt), and the library's 10 s timer may
    // send part of it first, so how many requests it makes may vary; which path, what status and how
    // many events may not.
    await assertLibraryDelivered(app, {
      userId,
      sentIds,
      route: '/v1/import 200',
      library: { name: 'Analytics.NET', version: '3.8.1' },
      firstName: 'Net',
      product: { product_id: 'p-3', name: 'Mug', price: 12 },
      orders: [40, 15],
    })
  })
})
