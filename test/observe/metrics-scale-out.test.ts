/**
 * GET /metrics of a scale-out process (real Kafka, PostgreSQL, Redis; every role): the exposition
 * passes `promtool check metrics`, and after ingest the pipeline series (consumer lag, batches,
 * commits) and the send queue read from PostgreSQL hold exactly what happened.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { createScaleOutApp } from '../../src/app-scale-out.ts'
import { loadConfig } from '../../src/config.ts'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { basicAuth, tempDir } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { REDIS_URL, redisMissing } from '../helpers/redis.ts'
import { testKey } from '../helpers/server-process.ts'
import { promtool, promtoolMissing, sample, samples } from './prom.ts'

const skip = promtoolMissing() || (await kafkaMissing()) || (await pgSkip()) || (await redisMissing())

describe('/metrics of a scale-out process', { skip, timeout: 300_000 }, () => {
  let database: { url: string; drop(): Promise<void> } | undefined
  let app: Awaited<ReturnType<typeof createScaleOutApp>> | undefined
  let url = ''
  const dataDir = tempDir('inkstream-metrics-scale-out-')
  const writeKey = testKey('wk')

  before(async () => {
    database = await freshDatabase('ink_metrics')
    const config = loadConfig(
      {},
      {
        port: 0,
        host: '127.0.0.1',
        logLevel: 'silent',
        dataDir,
        writeKey,
        adminKey: testKey('ak'),
        roles: 'all',
        kafkaBrokers: kafkaBrokers().join(','),
        kafkaTopic: KafkaEventLog.uniqueTopic('inkstream-metrics'),
        kafkaPartitions: 2,
        databaseUrl: database.url,
        redisUrl: REDIS_URL,
      },
    )
    app = await createScaleOutApp(config)
    url = await app.listen()
  })
  after(async () => {
    await app?.close()
    await database?.drop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  test('after ingest: promtool finds no problem, lag 0, every event in a batch, nothing due to send', async () => {
    const res = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: Array.from({ length: 25 }, (_, i) => ({
          type: 'track',
          event: 'Product Viewed',
          userId: `u${i % 5}`,
          messageId: `m${i}`,
        })),
      }),
    })
    assert.equal(res.status, 200, await res.text())
    // Applied means committed by the processor: wait for all 25, then for both groups' lag read at scrape.
    const deadline = Date.now() + 60_000
    let text = ''
    for (;;) {
      text = await (await fetch(`${url}/metrics`)).text()
      const applied = sample(text, 'inkstream_pipeline_events_total', { outcome: 'applied' })
      const caughtUp = (group: string) => sample(text, 'inkstream_log_consumer_lag', { group }) === 0
      if (applied === 25 && caughtUp('profiles') && caughtUp('analytics')) break
      if (Date.now() > deadline) {
        const health = await (await fetch(`${url}/healthz`)).text()
        const lines = text.split('\n').filter((l) => /^inkstream_(ingest|log|pipeline_events)/.test(l))
        assert.fail(`not caught up; /healthz ${health}; ${lines.join(' | ')}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }

    assert.deepEqual(promtool(['check', 'metrics'], text), { status: 0, output: '' })
    assert.equal(sample(text, 'inkstream_ingest_events_total', { outcome: 'accepted' }), 25)
    assert.equal(sample(text, 'inkstream_processor_batch_size_sum'), 25)
    const batches = sample(text, 'inkstream_processor_batch_size_count') ?? 0
    assert.ok(batches >= 1 && batches <= 25, `${batches} batches`)
    assert.equal(sample(text, 'inkstream_processor_commit_duration_seconds_count'), batches)
    assert.equal(sample(text, 'inkstream_pipeline_lag_seconds_count'), 25)
    // Read from PostgreSQL's trigger_jobs (countDue) and from this process's campaigns.
    assert.deepEqual(samples(text, 'inkstream_send_queue_depth'), {
      'queue=trigger_jobs': 0,
      'queue=campaign_recipients': 0,
    })
    assert.deepEqual(samples(text, 'inkstream_log_consumer_lag'), {
      'group=analytics': 0,
      'group=profiles': 0,
    })
  })
})
