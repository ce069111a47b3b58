/**
 * kafkajs's own log entries become ECS fields: its fields namespaced under `kafka.`, its error
 * string as `error.message` (a top-level `error` string is refused by an index that maps ECS's
 * `error` as an object), its stack as `error.stack_trace`, its timestamp and logger left out.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { kafkaLogFields } from '../../src/log/kafka-event-log.ts'

test("a kafkajs entry's fields are namespaced, its error is ECS's", () => {
  // The `log` kafkajs hands a logCreator (its level and label come beside it, not in it).
  const entry = {
    timestamp: '2026-12-02T04:00:00.000Z',
    logger: 'kafkajs',
    message: 'Connection error: connect ECONNREFUSED 127.0.0.1:9092',
    broker: '127.0.0.1:9092',
    clientId: 'inkstream',
    error: 'connect ECONNREFUSED 127.0.0.1:9092',
    stack: 'Error: connect ECONNREFUSED\n    at TCPConnectWrap.afterConnect',
    retryCount: 2,
  }
  assert.deepEqual(kafkaLogFields(entry), {
    'kafka.broker': '127.0.0.1:9092',
    'kafka.clientId': 'inkstream',
    'kafka.retryCount': 2,
    'error.message': 'connect ECONNREFUSED 127.0.0.1:9092',
    'error.stack_trace': 'Error: connect ECONNREFUSED\n    at TCPConnectWrap.afterConnect',
  })
  assert.deepEqual(kafkaLogFields({ message: 'x', timestamp: 't', logger: 'kafkajs' }), {})
})
