/**
 * Anomaly detection as composed in the app (embedded mode): the process rolls up its own metrics
 * (close() writes the minute in progress, so a shutdown loses nothing), the rollups survive a restart
 * and the API serves them; the alert webhook's settings go together.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { InkError } from '../../src/core/errors.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { alertWebhookOf, composeAnomalies } from '../../src/observe/alerts/compose-anomalies.ts'
import { SqliteAlertStore } from '../../src/observe/alerts/sqlite-alert-store.ts'
import { createMetrics } from '../../src/observe/metrics.ts'
import { SqliteRollupStore } from '../../src/observe/rollups/sqlite-rollup-store.ts'
import { verifySignature } from '../../src/webhooks/signature.ts'
import { SqliteWebhookOutbox } from '../../src/webhooks/sqlite-outbox.ts'
import { basicAuth, startTestApp, tempDir } from '../helpers/app.ts'
import { openEvent } from '../webhooks/outbox-suite.ts'
import { startReceiver, until } from '../webhooks/receiver.ts'

test('the app rolls up the events it accepted, and after a restart the API still shows them', async () => {
  const dataDir = tempDir('inkstream-alerts-app-')
  try {
    const first = await startTestApp({ dataDir })
    const batch = Array.from({ length: 7 }, (_, i) => ({ type: 'track', event: 'Viewed', userId: `u${i}` }))
    const res = await fetch(`${first.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(first.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    })
    assert.equal(res.status, 200)
    const adminKey = first.workspace.adminKey
    await first.close()

    const second = await startTestApp({ dataDir })
    try {
      const got = await fetch(`${second.url}/v1/anomalies/rollups?series=ingest_rate`, {
        headers: { authorization: `Bearer ${adminKey}` },
      })
      assert.equal(got.status, 200)
      const { minutes } = (await got.json()) as { minutes: { values: { ingest_rate: number | null } }[] }
      assert.equal(minutes.length, 60)
      // The minute boundary may have passed meanwhile: the 7 events are in one minute or split over two.
      assert.equal(
        minutes.reduce((n, m) => n + (m.values.ingest_rate ?? 0), 0),
        7,
      )
      const anomalies = await fetch(`${second.url}/v1/anomalies`, {
        headers: { authorization: `Bearer ${adminKey}` },
      })
      assert.deepEqual(await anomalies.json(), { anomalies: [] })
    } finally {
      await second.close()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
})

test('INKSTREAM_ALERT_WEBHOOK_URL and _SECRET are set together, the secret at least 16 characters', () => {
  const refused = (env: Record<string, string>, message: RegExp) =>
    assert.throws(
      () => loadConfig(env),
      (err: unknown) =>
        err instanceof InkError && err.code === 'INK_ERR_INVALID_CONFIG' && message.test(err.message),
    )
  refused({ INKSTREAM_ALERT_WEBHOOK_URL: 'https://hooks.example/alerts' }, /set together/)
  refused({ INKSTREAM_ALERT_WEBHOOK_SECRET: 'x'.repeat(20) }, /set together/)
  refused(
    { INKSTREAM_ALERT_WEBHOOK_URL: 'ftp://x', INKSTREAM_ALERT_WEBHOOK_SECRET: 'x'.repeat(20) },
    /INKSTREAM_ALERT_WEBHOOK_URL: Invalid URL/,
  )
  refused(
    { INKSTREAM_ALERT_WEBHOOK_URL: 'https://h.example/a', INKSTREAM_ALERT_WEBHOOK_SECRET: 'short' },
    /at least 16/,
  )
  refused({ INKSTREAM_ROLLUP_RETENTION_DAYS: '0' }, /INKSTREAM_ROLLUP_RETENTION_DAYS/)
  const ok = loadConfig({
    INKSTREAM_ALERT_WEBHOOK_URL: 'https://hooks.example/alerts',
    INKSTREAM_ALERT_WEBHOOK_SECRET: 'x'.repeat(20),
    INKSTREAM_ROLLUP_RETENTION_DAYS: '30',
  })
  assert.deepEqual(
    [ok.alertWebhookUrl, ok.rollupRetentionDays, loadConfig({}).rollupRetentionDays],
    ['https://hooks.example/alerts', 30, 15],
  )
})

test('composed with the alert webhook, a watching process sends alert deliveries (and only those) to it, signed', async () => {
  const dir = tempDir('inkstream-alerts-compose-')
  const db = openSqlite(join(dir, 'inkstream.db'))
  const receiver = await startReceiver(() => 200)
  const silent = { warn: () => {}, info: () => {}, error: () => {} }
  try {
    const outbox = new SqliteWebhookOutbox(db)
    const secret = 's'.repeat(24)
    const parts = {
      rollups: new SqliteRollupStore(db),
      alerts: new SqliteAlertStore(db),
      registry: createMetrics({ defaultMetrics: false }).registry,
      clock: { now: () => Date.now() },
      logger: silent,
      retentionMs: 86_400_000,
    }
    const webhook = alertWebhookOf({ alertWebhookUrl: receiver.url, alertWebhookSecret: secret })
    const watching = composeAnomalies({
      ...parts,
      watch: { outbox, workspaceId: 'w', webhook, locks: undefined, deployment: 'test' },
    })
    const collectorOnly = composeAnomalies({ ...parts, watch: undefined })
    assert.equal(collectorOnly.watcher, undefined)
    assert.equal(collectorOnly.dispatcher, undefined)
    const noHook = composeAnomalies({
      ...parts,
      watch: { outbox, workspaceId: 'w', webhook: undefined, locks: undefined, deployment: 'test' },
    })
    assert.equal(noHook.dispatcher, undefined)
    assert.ok(noHook.watcher)

    await outbox.enqueue(openEvent('open-1'))
    await outbox.enqueueMessage({
      workspaceId: 'w',
      kind: 'alert',
      key: 'a:started',
      type: 'anomaly.started',
      data: { alert: { id: 'a' } },
    })
    await watching.start()
    await until(() => receiver.requests.length === 1, 'the alert delivery')
    await watching.dispatcher?.idle()
    const [req] = receiver.requests
    assert.equal(JSON.parse(req?.body ?? '{}').type, 'anomaly.started')
    assert.equal(
      verifySignature(String(req?.headers['inkstream-signature']), req?.body ?? '', secret, Date.now()).ok,
      true,
    )
    assert.deepEqual((await outbox.list('w')).map((d) => [d.kind, d.state]).sort(), [
      ['alert', 'delivered'],
      ['open', 'pending'],
    ])
    await watching.close()
    await collectorOnly.close()
    await noHook.close()
  } finally {
    await receiver.close()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
