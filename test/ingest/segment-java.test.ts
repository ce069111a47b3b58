/**
 * Segment's Java library (com.segment.analytics.java:analytics, from Maven Central) against the
 * collector over a real socket: it posts its batches to /v1/import/ with Basic auth, and the events
 * must show in the profile. The jars come from scripts/segment-java/fetch.sh (.ci/run calls it).
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
const LIBS = join(ROOT, '.cache/segment-java/libs')
const PROGRAM = join(ROOT, 'scripts/segment-java/SendEvents.java')
const JAVA = '/usr/bin/java'

const skip =
  missingService('java', existsSync(JAVA), 'install a Java 17 JDK') ||
  missingService(
    'Segment Java library',
    existsSync(join(LIBS, '.fetched')),
    'run scripts/segment-java/fetch.sh',
  )

describe('Segment analytics-java posting to /v1/import', { skip }, () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
  })
  after(() => app?.close())

  test('events sent with analytics-java reach the profile with the library messageIds', async () => {
    const userId = 'java-user'
    const run = await promisify(execFile)(
      JAVA,
      ['-cp', `${LIBS}/*`, PROGRAM, app.url, app.workspace.writeKey, userId],
      {
        timeout: 90_000,
      },
    ).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      assert.fail(`SendEvents failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`)
    })
    const lines = run.stdout.trim().split('\n')
    assert.equal(lines.length, 5, run.stdout)
    assert.ok(
      lines.every((l) => l.startsWith('ok ')),
      run.stdout,
    )
    const sentIds = lines.map((l) => l.slice(3)).sort()

    await waitForProcessed(app)
    const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
    const stored = db
      .prepare("SELECT payload FROM log_events WHERE json_extract(payload, '$.userId') = ?")
      .pluck()
      .all(userId)
      .map((p) => JSON.parse(p as string) as { messageId: string; context?: { library?: { name?: string } } })
    db.close()
    assert.deepEqual(stored.map((e) => e.messageId).sort(), sentIds, 'the library messageIds are kept')
    assert.equal(stored[0]?.context?.library?.name, 'analytics-java', 'the batch context reached the events')

    const res = await fetch(`${app.url}/v1/profiles/${userId}`, {
      headers: { authorization: `Bearer ${app.workspace.adminKey}` },
    })
    const { traits } = (await res.json()) as { traits: Record<string, unknown> }
    assert.equal(traits.email, `${userId}@example.com`)
    assert.equal(traits.first_name, 'Jay')
    assert.equal(traits.plan, 'pro')
    assert.equal(traits.orders_total, 3)
    assert.equal(traits.revenue_total, 80)
    assert.deepEqual(traits.last_viewed_product, { product_id: 'p-3', name: 'Mug', price: 12 })
  })
})
