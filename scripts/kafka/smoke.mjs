// Smoke check of the test broker started by scripts/services.sh (not a test: the Kafka tests live
// in test/). `write` (re)creates topic inkstream-smoke with 4 partitions, produces 40 messages with
// an idempotent producer and acks=all, and consumes them back; `read` only consumes and checks that
// the 40 are still there (run it after `services.sh down` + `up` to see the data survive a restart).
// Usage: node scripts/kafka/smoke.mjs write|read
import assert from 'node:assert/strict'
import { Kafka, logLevel } from 'kafkajs'

const mode = process.argv[2]
if (mode !== 'write' && mode !== 'read') {
  console.error('usage: node scripts/kafka/smoke.mjs write|read')
  process.exit(2)
}
const topic = 'inkstream-smoke'
const count = 40
const kafka = new Kafka({
  clientId: 'inkstream-smoke',
  brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  logLevel: logLevel.WARN,
})

const admin = kafka.admin()
await admin.connect()
if (mode === 'write') {
  if ((await admin.listTopics()).includes(topic)) {
    await admin.deleteTopics({ topics: [topic] })
    // Deletion is asynchronous; creating the same name right away can fail until it is gone.
    while ((await admin.listTopics()).includes(topic)) await new Promise((r) => setTimeout(r, 200))
  }
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true })
  assert.equal(created, true, 'the topic was created')
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const messages = Array.from({ length: count }, (_, i) => ({ key: `user-${i % 7}`, value: `event-${i}` }))
  const results = await producer.send({ topic, acks: -1, messages })
  await producer.disconnect()
  console.log(
    `produced ${count} messages to partitions ${[...new Set(results.map((r) => r.partition))].sort()}`,
  )
}
const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics
assert.equal(meta?.partitions.length, 4, 'the topic has 4 partitions')
const offsets = await admin.fetchTopicOffsets(topic)
const stored = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
assert.equal(stored, count, `the topic holds ${count} messages`)
await admin.disconnect()

// A new group each run, reading from the beginning.
const consumer = kafka.consumer({ groupId: `inkstream-smoke-${Date.now()}` })
await consumer.connect()
await consumer.subscribe({ topic, fromBeginning: true })
const seen = new Map()
const done = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`consumed ${seen.size} of ${count} in 30 s`)), 30_000)
  consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.set(message.value.toString(), { key: message.key.toString(), partition })
      if (seen.size === count) {
        clearTimeout(timer)
        resolve()
      }
    },
  })
})
await done
await consumer.disconnect()
for (let i = 0; i < count; i++) assert.equal(seen.get(`event-${i}`)?.key, `user-${i % 7}`)
// Same key, same partition: the property the event log relies on for per-user order.
const partitionOf = new Map()
for (const { key, partition } of seen.values()) {
  assert.equal(partitionOf.get(key) ?? partition, partition, `key ${key} stays on one partition`)
  partitionOf.set(key, partition)
}
console.log(`consumed all ${count} messages back (${mode}); keys kept their partition`)
