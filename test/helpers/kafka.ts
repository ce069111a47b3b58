/**
 * The Kafka broker for tests: the one `npm run services:up` starts (KAFKA_BROKERS overrides it).
 * `kafkaMissing()` answers a skip reason when none answers, and throws under
 * INKSTREAM_REQUIRE_SERVICES=1 (see services.ts).
 */
import { Kafka, logLevel } from 'kafkajs'
import { missingService } from './services.ts'

export const kafkaBrokers = (): string[] => (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')

let probe: Promise<string | false> | undefined

export function kafkaMissing(): Promise<string | false> {
  probe ??= (async () => {
    const admin = new Kafka({
      brokers: kafkaBrokers(),
      connectionTimeout: 1_000,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    }).admin()
    try {
      await admin.connect()
      await admin.listTopics()
      return missingService('Kafka', true, '')
    } catch (err) {
      return missingService(
        'Kafka',
        false,
        `no broker at ${kafkaBrokers().join(',')} (${(err as Error).message}); run npm run services:up`,
      )
    } finally {
      await admin.disconnect().catch(() => {})
    }
  })()
  return probe
}
