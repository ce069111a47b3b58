/**
 * kafka-clients: the collector's append path (GroupCommit → one produce request in flight,
 * idempotent producer, acks=all, key = workspace + user) with each pure-JavaScript Kafka client that
 * runs on Node.js 20: kafkajs (what KafkaEventLog uses) and @platformatic/kafka 1.x. 32 concurrent
 * callers append 50-event batches to a fresh 8-partition topic for 8 s per round, 3 rounds, clients
 * alternating. Baseline: kafkajs, so `ratio` = @platformatic/kafka / kafkajs.
 * Needs the broker of `npm run services:up` (KAFKA_BROKERS overrides 127.0.0.1:9092).
 */
import { randomUUID } from 'node:crypto'
import { ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka'
import { Kafka, logLevel } from 'kafkajs'
import type { InkEvent } from '../src/core/types.ts'
import { GroupCommit } from '../src/log/group-commit.ts'
import { partitionKey } from '../src/log/kafka-event-log.ts'
import { type BenchResult, fmt } from './lib/report.ts'

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const CALLERS = 32
const BATCH = 50
const ROUND_MS = 8000
const ROUNDS = 3
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

interface Client {
  name: string
  send(events: readonly InkEvent[], topic: string): Promise<void>
  close(): Promise<void>
}

async function kafkajsClient(): Promise<Client> {
  const producer = new Kafka({ clientId: 'bench', brokers: BROKERS, logLevel: logLevel.NOTHING }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  })
  await producer.connect()
  return {
    name: 'kafkajs',
    send: async (events, topic) => {
      await producer.send({
        topic,
        acks: -1,
        messages: events.map((e) => ({ key: partitionKey(e), value: JSON.stringify(e) })),
      })
    },
    close: () => producer.disconnect(),
  }
}

async function platformaticClient(): Promise<Client> {
  const producer = new Producer({
    clientId: 'bench',
    bootstrapBrokers: BROKERS,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  })
  return {
    name: '@platformatic/kafka',
    send: async (events, topic) => {
      await producer.send({
        messages: events.map((e) => ({ topic, key: partitionKey(e), value: JSON.stringify(e) })),
      })
    },
    close: () => producer.close(),
  }
}

function events(n: number, offset: number): InkEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    type: 'track',
    event: 'Product Viewed',
    messageId: randomUUID(),
    workspaceId: 'default',
    userId: `user-${(offset + i) % 5000}`,
    properties: {
      product_id: `p-${i}`,
      name: 'Red Kettle',
      price: 49.9,
      url: 'https://shop.example.com/p/1',
    },
    context: {
      ip: '203.0.113.9',
      userAgent: 'Mozilla/5.0 (bench)',
      library: { name: 'bench', version: '1' },
    },
    timestamp: new Date().toISOString(),
    receivedAt: new Date().toISOString(),
  }))
}

async function round(client: Client, topic: string): Promise<number> {
  const commit = new GroupCommit<InkEvent>((items) => client.send(items, topic), { maxItems: 5000 })
  // Warm-up: connections, metadata, producer id.
  await Promise.all(Array.from({ length: CALLERS }, (_, c) => commit.add(events(BATCH, c))))
  let sent = 0
  const start = performance.now()
  const end = start + ROUND_MS
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, c) => {
      while (performance.now() < end) {
        await commit.add(events(BATCH, c * 1000 + sent))
        sent += BATCH
      }
    }),
  )
  return sent / ((performance.now() - start) / 1000)
}

export async function kafkaClients(): Promise<BenchResult> {
  const admin = new Kafka({ clientId: 'bench-admin', brokers: BROKERS, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  const topic = `inkstream-bench-${randomUUID()}`
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: 8, replicationFactor: 1 }],
  })
  const rates: Record<string, number[]> = { kafkajs: [], '@platformatic/kafka': [] }
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const make of [kafkajsClient, platformaticClient]) {
        const client = await make()
        try {
          process.stderr.write(`kafka-clients: round ${r + 1}/${ROUNDS} ${client.name}\n`)
          rates[client.name]!.push(await round(client, topic))
        } finally {
          await client.close()
        }
      }
    }
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {})
    await admin.disconnect()
  }
  const kafkajs = median(rates.kafkajs!)
  const platformatic = median(rates['@platformatic/kafka']!)
  const ratio = platformatic / kafkajs
  return {
    benchmark: 'kafka-clients',
    metric: `durable events/s appended (GroupCommit, idempotent, acks=all, ${BATCH}-event calls × ${CALLERS} callers), @platformatic/kafka vs kafkajs`,
    inkstream: Math.round(platformatic),
    baseline: Math.round(kafkajs),
    ratio: Math.round(ratio * 100) / 100,
    goal: 'informs the client choice (no goal)',
    met: true,
    details: { rounds: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, v.map(Math.round)])) },
    summary:
      `kafka-clients: @platformatic/kafka ${fmt(platformatic)} events/s vs kafkajs ${fmt(kafkajs)} events/s ` +
      `(ratio ${ratio.toFixed(2)}; ${BATCH}-event appends, ${CALLERS} callers, group commit, acks=all, idempotent)`,
  }
}
