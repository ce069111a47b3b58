// Waits until the Kafka broker on KAFKA_BROKERS (default 127.0.0.1:9092) answers a metadata
// request and lists at least one live broker; scripts/services.sh runs it after starting one.
// Usage: node scripts/kafka/wait-ready.mjs [--timeout SECONDS] [--pid PID]
// Exits 0 once ready; 1 on timeout, or at once if the process PID (the broker we started) died.
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'

const { values } = parseArgs({ options: { timeout: { type: 'string' }, pid: { type: 'string' } } })
const timeoutMs = Number(values.timeout ?? 60) * 1000
const pid = values.pid === undefined ? undefined : Number(values.pid)
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')

const alive = (p) => {
  try {
    process.kill(p, 0)
    return true
  } catch {
    return false
  }
}

/**
 * On a new cluster the group coordinator (and its __consumer_offsets topic) and the producer-id
 * manager come up on first use, answering "coordinator not available / loading" meanwhile. Asking
 * each once here makes the first test's consumer group and idempotent producer start at once.
 */
async function warmUp(admin) {
  await admin.describeGroups(['inkstream-wait-ready'])
  // An idempotent producer refuses a client without retries; a failure still lands in our loop.
  const kafka = new Kafka({
    clientId: 'inkstream-wait-ready',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 500 },
  })
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect() // an idempotent producer asks for its producer id here
  await producer.disconnect()
}

const deadline = Date.now() + timeoutMs
let lastError = 'no attempt made'
while (Date.now() < deadline) {
  if (pid !== undefined && !alive(pid)) {
    console.error(`the broker process ${pid} exited before it was ready`)
    process.exit(1)
  }
  // A fresh client per attempt, without retries: we do the retrying, with our own deadline.
  const kafka = new Kafka({
    clientId: 'inkstream-wait-ready',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
  })
  const admin = kafka.admin()
  try {
    await admin.connect()
    const cluster = await admin.describeCluster()
    await admin.listTopics()
    if (cluster.brokers.length > 0) {
      await warmUp(admin)
      console.log(
        `kafka ready: cluster ${cluster.clusterId}, broker(s) ${cluster.brokers.map((b) => `${b.host}:${b.port}`).join(', ')}`,
      )
      await admin.disconnect()
      process.exit(0)
    }
    lastError = 'the cluster lists no live broker yet'
  } catch (err) {
    lastError = err instanceof Error ? err.message : String(err)
  }
  await admin.disconnect().catch(() => {})
  await sleep(500)
}
console.error(`kafka did not answer on ${brokers.join(',')} within ${timeoutMs / 1000} s: ${lastError}`)
process.exit(1)
