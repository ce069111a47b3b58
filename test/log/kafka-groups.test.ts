/**
 * Kafka consumer group ids: scoped to the topic, so deployments sharing a broker never share a
 * group, and an upgraded consumer resumes from the offsets of the unscoped group it used before.
 * Against the broker of `npm run services:up`; skipped when there is none (unless
 * INKSTREAM_REQUIRE_SERVICES=1).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import { KafkaEventLog, kafkaGroupId } from '../../src/log/kafka-event-log.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'

const skip = await kafkaMissing()

const event = (i: number): InkEvent => ({
  type: 'track',
  event: 'Tested',
  messageId: `m${i}`,
  workspaceId: 'w',
  userId: `u${i}`,
  properties: { i },
  timestamp: new Date(1_800_000_000_000 + i).toISOString(),
  receivedAt: new Date(1_800_000_000_000 + i).toISOString(),
})

const until = (check: () => boolean, ms: number, what: string) =>
  new Promise<void>((resolve, reject) => {
    const started = Date.now()
    const timer = setInterval(() => {
      if (check()) {
        clearInterval(timer)
        resolve()
      } else if (Date.now() - started > ms) {
        clearInterval(timer)
        reject(new Error(`timed out waiting for ${what}`))
      }
    }, 50)
  })

describe('Kafka consumer group ids', { skip }, () => {
  test('two topics consumed under the same group name on one broker each get all of their events', async () => {
    const group = `g-${randomUUID()}`
    const logs: KafkaEventLog[] = []
    try {
      for (let i = 0; i < 2; i++)
        logs.push(
          await KafkaEventLog.open({
            brokers: kafkaBrokers(),
            topic: KafkaEventLog.uniqueTopic('inkstream-groups'),
            partitions: 4,
          }),
        )
      const seen = logs.map(() => new Set<string>())
      const consumers = logs.map((log, i) =>
        log.consume(group, async (records) => {
          for (const r of records) seen[i]!.add(r.event.messageId)
        }),
      )
      // Both are members before anything is appended: under one shared group each would be dealt
      // half of the other's partitions, which it never reads.
      await until(() => logs.every((l) => l.health().ready), 20_000, 'both consumers to join')
      await Promise.all(logs.map((log) => log.append(Array.from({ length: 40 }, (_, i) => event(i)))))
      await until(() => seen.every((s) => s.size === 40), 20_000, 'every event of both topics')
      await Promise.all(consumers.map((c) => c.close()))
      for (const log of logs) assert.equal(await log.lag(group), 0)
    } finally {
      await Promise.all(logs.map((l) => l.close()))
    }
  })

  test('a consumer of a group that committed under its unscoped id resumes after those offsets', async () => {
    const topic = KafkaEventLog.uniqueTopic('inkstream-groups')
    const group = `g-${randomUUID()}`
    const log = await KafkaEventLog.open({ brokers: kafkaBrokers(), topic, partitions: 1 })
    const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin()
    try {
      await admin.connect()
      await log.append(Array.from({ length: 10 }, (_, i) => event(i)))
      // What a processor of the previous version left: the group, unscoped, past the first 6 records.
      await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '6' }] })
      assert.equal(await log.lag(group), 10, 'the scoped group has committed nothing yet')

      const seen: LogRecord[] = []
      const consumer = log.consume(group, async (records) => {
        seen.push(...records)
      })
      await until(() => seen.length >= 4, 20_000, 'the records after the old offset')
      await consumer.close()
      assert.deepEqual(
        seen.map((r) => r.event.messageId),
        ['m6', 'm7', 'm8', 'm9'],
      )
      assert.equal(await log.lag(group), 0)
      const scoped = await admin.fetchOffsets({ groupId: kafkaGroupId(topic, group), topics: [topic] })
      assert.equal(scoped[0]?.partitions[0]?.offset, '10')
    } finally {
      await admin.disconnect()
      await log.close()
    }
  })
})
