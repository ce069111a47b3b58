/**
 * A crash at each commit boundary of the log and the processor, placed by a failpoint
 * (INKSTREAM_FAILPOINTS=<point>=kill: the server SIGKILLs itself at that exact step), on both
 * backends: the embedded server (SQLite) and a scale-out collector+processor (Kafka + PostgreSQL).
 * After the restart, every acknowledged event is applied exactly once. No timer decides where the
 * crash lands.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { describe, test } from 'node:test'
import type { FailpointName } from '../../src/core/failpoints.ts'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { basicAuth, tempDir } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { type ServerProcess, startServerProcess, testKey } from '../helpers/server-process.ts'

const POINTS: FailpointName[] = [
  'log.append.before-commit',
  'log.append.after-commit',
  'processor.before-commit',
  'processor.after-commit',
  'log.consume.before-offset-commit',
]

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

interface Backend {
  name: string
  skip: string | false
  /** Settings of one run (a fresh store and log), shared by the crashed and the restarted process. */
  setup(): Promise<{ env: Record<string, string>; args: string[]; cleanup(): Promise<void> }>
}

const embedded: Backend = {
  name: 'embedded (SQLite)',
  skip: false,
  setup: async () => ({ env: {}, args: [], cleanup: async () => {} }),
}

const kafkaSkip = (await kafkaMissing()) || (await pgSkip())
const scaleOut: Backend = {
  name: 'scale-out (Kafka + PostgreSQL)',
  skip: kafkaSkip,
  async setup() {
    const database = await freshDatabase('ink_fp')
    return {
      env: {
        INKSTREAM_KAFKA_BROKERS: kafkaBrokers().join(','),
        INKSTREAM_KAFKA_TOPIC: KafkaEventLog.uniqueTopic('inkstream-fp'),
        INKSTREAM_KAFKA_PARTITIONS: '2',
        INKSTREAM_DATABASE_URL: database.url,
      },
      args: ['--role', 'collector,processor,api'],
      cleanup: () => database.drop(),
    }
  },
}

/** One order; the same messageId on every try, as an SDK retrying it would send. */
async function sendOrder(url: string, writeKey: string, n: number): Promise<number> {
  const res = await fetch(`${url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
    body: JSON.stringify({
      userId: 'buyer',
      event: 'Order Completed',
      messageId: `order-${n}`,
      properties: { order_id: `o-${n}`, revenue: 10 },
    }),
  })
  await res.text()
  return res.status
}

async function orders(url: string, adminKey: string): Promise<unknown> {
  const res = await fetch(`${url}/v1/profiles/buyer`, { headers: { authorization: `Bearer ${adminKey}` } })
  if (res.status === 404) return undefined
  return ((await res.json()) as { traits: Record<string, unknown> }).traits.orders_total
}

for (const backend of [embedded, scaleOut]) {
  describe(`a crash at each commit boundary: ${backend.name}`, {
    skip: backend.skip,
    timeout: 600_000,
  }, () => {
    for (const point of POINTS) {
      test(`killed at ${point}: after the restart every acknowledged order counts once`, async () => {
        const run = await backend.setup()
        const dataDir = tempDir('inkstream-fp-')
        const writeKey = testKey('wk')
        const adminKey = testKey('ak')
        const start = (failpoints?: string) =>
          startServerProcess({
            dataDir,
            writeKey,
            adminKey,
            args: run.args,
            env: { ...run.env, ...(failpoints ? { INKSTREAM_FAILPOINTS: failpoints } : {}) },
            timeoutMs: 60_000,
          })
        let server: ServerProcess | undefined
        try {
          // Order 1 goes through a healthy server first: it must still count once after the crash.
          server = await start()
          assert.equal(await sendOrder(server.url, writeKey, 1), 200)
          for (let i = 0; (await orders(server.url, adminKey)) !== 1; i++) {
            assert.ok(i < 600, 'order 1 was never applied')
            await sleep(50)
          }
          server.child.kill('SIGTERM')
          await server.exited

          server = await start(`${point}=kill`)
          // Order 2 reaches the failpoint: during its append, or when the processor handles it.
          const status = await sendOrder(server.url, writeKey, 2).catch(() => 'no answer' as const)
          const ended = await server.exited
          assert.equal(ended.signal, 'SIGKILL', `the server did not reach ${point}:\n${server.output()}`)
          // An append killed before it answered gives the client nothing: it retries (same messageId).
          if (point.startsWith('log.append')) assert.equal(status, 'no answer')

          server = await start()
          if (status !== 200) assert.equal(await sendOrder(server.url, writeKey, 2), 200)
          // Order 3 after the restart: once it is applied, everything before it in its partition is.
          assert.equal(await sendOrder(server.url, writeKey, 3), 200)
          for (let i = 0; ; i++) {
            const count = await orders(server.url, adminKey)
            if (count === 3) break
            assert.ok(typeof count !== 'number' || count < 3, `orders_total ${count}: an order counted twice`)
            assert.ok(i < 600, `orders_total stuck at ${count}`)
            await sleep(50)
          }
          // Still 3 after the processor went idle: nothing redelivered is applied late.
          await sleep(500)
          assert.equal(await orders(server.url, adminKey), 3)
        } finally {
          if (server && server.child.exitCode === null && server.child.signalCode === null) {
            server.child.kill('SIGKILL')
            await server.exited
          }
          await run.cleanup()
          rmSync(dataDir, { recursive: true, force: true })
        }
      })
    }
  })
}
