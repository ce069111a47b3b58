/**
 * Kafka consumer groups: ids scoped to the topic, so deployments sharing a broker never share a
 * group, and an upgraded consumer resumes from the offsets of the unscoped group it used before;
 * a busy member answers a rebalance without first handling the rest of its fetch.
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

describe('Kafka consumer groups', { skip }, () => {
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

  test('a member busy with a fetch hands partitions to a member that joins, before handling the rest of it', async () => {
    const topic = KafkaEventLog.uniqueTopic('inkstream-groups')
    const group = `g-${randomUUID()}`
    const logs = [
      await KafkaEventLog.open({ brokers: kafkaBrokers(), topic, partitions: 4 }),
      await KafkaEventLog.open({ brokers: kafkaBrokers(), topic }),
    ]
    const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin()
    try {
      await admin.connect()
      // 200 users over 4 partitions: one fetch brings a batch of every partition.
      await logs[0]!.append(Array.from({ length: 200 }, (_, i) => event(i)))
      const handled = logs.map(() => new Set<string>())
      let release!: () => void
      const gate = new Promise<void>((r) => {
        release = r
      })
      const first = logs[0]!.consume(group, async (records) => {
        await gate
        for (const r of records) handled[0]!.add(r.event.messageId)
      })
      await until(() => logs[0]!.health().ready, 20_000, 'the first member to join')
      // It holds every partition and waits inside its first batch; a second member joins.
      const second = logs[1]!.consume(group, async (records) => {
        for (const r of records) handled[1]!.add(r.event.messageId)
      })
      const groupId = kafkaGroupId(topic, group)
      for (const started = Date.now(); ; ) {
        const { groups } = await admin.describeGroups([groupId])
        if (groups[0]?.state === 'PreparingRebalance') break
        assert.ok(Date.now() - started < 20_000, 'the group never started rebalancing')
        await new Promise((r) => setTimeout(r, 50))
      }
      // The heartbeat interval (1 s) has passed: the next heartbeat learns of the rebalance.
      await new Promise((r) => setTimeout(r, 1_100))
      release()
      await until(() => handled[0]!.size + handled[1]!.size >= 200, 30_000, 'every event handled')
      await Promise.all([first.close(), second.close()])
      // Before rejoining, the busy member finished the batch in hand and nothing more of its fetch:
      // at least one partition's events were left to the member that joined.
      assert.ok(handled[1]!.size > 0, `the joining member handled ${handled[1]!.size} events`)
    } finally {
      await admin.disconnect()
      await Promise.all(logs.map((l) => l.close()))
    }
  })
})
