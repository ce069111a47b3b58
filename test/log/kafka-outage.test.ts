/**
 * The Kafka log with the broker really down (`scripts/services.sh down`, then `up`): appends answer
 * 503 within their deadline counted from their arrival, also behind a produce request in flight;
 * a collector and a processor started during the outage come up, say "not ready" on /healthz, and
 * work once the broker is back. Stops the shared test broker: only the log engineer's tests may.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { rmSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createScaleOutApp, type ScaleOutApp } from '../../src/app-scale-out.ts'
import { loadConfig } from '../../src/config.ts'
import type { InkEvent } from '../../src/core/types.ts'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { basicAuth, tempDir } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { testKey } from '../helpers/server-process.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const broker = (action: 'up' | 'down') => run('bash', ['scripts/services.sh', action], { cwd: ROOT })
const skip = (await kafkaMissing()) || (await pgSkip())

/** The deadline under test; short so the test is quick, the ordering arguments hold for any value. */
const DEADLINE_MS = 1_500
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

const event = (i: number): InkEvent => ({
  type: 'track',
  event: 'Tested',
  messageId: `outage-${i}`,
  workspaceId: 'w',
  userId: `u${i}`,
  timestamp: new Date().toISOString(),
  receivedAt: new Date().toISOString(),
})

/**
 * Which settles first: `p`, or a timer of `ms` started now (timers fire in order of expiry, so
 * this is an ordering of two deadlines measured from the same instant, not a wall-clock bound).
 */
async function settlesBefore(
  p: Promise<unknown>,
  ms: number,
): Promise<{ first: 'promise' | 'timer'; reason?: unknown }> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<{ first: 'timer' }>((r) => {
    timer = setTimeout(() => r({ first: 'timer' }), ms)
  })
  const settled = p.then(
    () => ({ first: 'promise' as const }),
    (reason: unknown) => ({ first: 'promise' as const, reason }),
  )
  try {
    return await Promise.race([settled, timeout])
  } finally {
    clearTimeout(timer)
  }
}

describe('Kafka event log while the broker is down', { skip, timeout: 300_000 }, () => {
  const topic = KafkaEventLog.uniqueTopic('inkstream-outage')
  let before_: KafkaEventLog | undefined
  let app: ScaleOutApp | undefined
  let database: { url: string; drop(): Promise<void> } | undefined
  const dataDir = tempDir('inkstream-outage-')
  const writeKey = testKey('wk')

  before(async () => {
    // Opened (and the topic created) while the broker is up; then the broker goes away.
    before_ = await KafkaEventLog.open({
      brokers: kafkaBrokers(),
      topic,
      partitions: 2,
      appendTimeoutMs: DEADLINE_MS,
    })
    database = await freshDatabase('ink_outage')
    await broker('down')
  })

  after(async () => {
    await broker('up')
    await app?.close()
    await before_?.close()
    await database?.drop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  test('an append queued behind a produce request in flight is answered 503 within its own deadline from arrival', async () => {
    const log = before_!
    const first = log.append([event(1)])
    first.catch(() => {})
    // The first request's produce is in flight (and hanging): the second waits behind it.
    await sleep(100)
    const second = log.append([event(2)])
    // Before the fix the second one was only sent when the first timed out, and rejected a
    // deadline after that: about 2 × DEADLINE_MS after its arrival.
    const outcome = await settlesBefore(second, DEADLINE_MS * 1.4)
    assert.equal(
      outcome.first,
      'promise',
      'the second append was still pending 1.4 deadlines after it arrived',
    )
    assert.equal((outcome.reason as { code?: string } | undefined)?.code, 'INK_ERR_LOG_UNAVAILABLE')
    await assert.rejects(first, { code: 'INK_ERR_LOG_UNAVAILABLE' })
  })

  test('a collector and processor started during the outage answer 503 in time and are not ready, then work when the broker is back', async () => {
    app = await createScaleOutApp(
      loadConfig(
        {},
        {
          port: 0,
          host: '127.0.0.1',
          logLevel: 'silent',
          dataDir,
          writeKey,
          adminKey: testKey('ak'),
          roles: 'collector,processor',
          kafkaBrokers: kafkaBrokers().join(','),
          // A topic of its own, created when the broker is back: the first log's abandoned
          // produce request may still land in its topic after the outage.
          kafkaTopic: `${topic}-app`,
          kafkaPartitions: 2,
          kafkaAppendTimeoutMs: DEADLINE_MS,
          databaseUrl: database!.url,
        },
      ),
    )
    const url = await app.listen()
    const health = await fetch(`${url}/healthz`)
    assert.equal(health.status, 503)
    const body = (await health.json()) as { status: string; reason: string }
    assert.equal(body.status, 'unavailable')
    assert.match(body.reason, /not connected to Kafka/)

    const track = (i: number, timeoutMs: number) =>
      fetch(`${url}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
        body: JSON.stringify({ userId: `user-${i}`, event: 'Outage', messageId: `http-${i}` }),
        // A client that gives up 1.4 deadlines after sending: it must get its 503 before that.
        signal: AbortSignal.timeout(timeoutMs),
      })
    const first = track(1, DEADLINE_MS * 3)
    await sleep(100)
    const res = await track(2, DEADLINE_MS * 1.4)
    assert.equal(res.status, 503)
    assert.equal(((await res.json()) as { code: string }).code, 'INK_ERR_LOG_UNAVAILABLE')
    assert.equal(res.headers.get('retry-after'), '1')
    assert.equal((await first).status, 503)

    await broker('up')
    // Ready once the producer connected and the processor joined its group.
    for (let i = 0; ; i++) {
      const h = await fetch(`${url}/healthz`)
      if (h.status === 200) break
      assert.ok(i < 1200, `still not ready after the broker came back: ${await h.text()}`)
      await sleep(100)
    }
    const ok = await track(3, 30_000)
    assert.equal(ok.status, 200)
    // The processor started during the outage applies it.
    let applied = 0
    for (let i = 0; applied < 1; i++) {
      const text = await app.metrics.registry.metrics()
      const m = /inkstream_pipeline_events_total\{outcome="applied"\} (\d+)/.exec(text)
      applied = m ? Number(m[1]) : 0
      assert.ok(i < 600, 'the processor started during the outage never applied the event')
      if (applied < 1) await sleep(100)
    }
    // Only the acknowledged event: the two answered 503 were never sent (dropped when their
    // deadline passed, not produced once the broker came back).
    await sleep(500)
    assert.equal(
      /inkstream_pipeline_events_total\{outcome="applied"\} (\d+)/.exec(
        await app.metrics.registry.metrics(),
      )?.[1],
      '1',
    )
  })
})
