import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { loadConfig, parseRoles } from '../../src/config.ts'
import { ErrorCodes, InkError } from '../../src/core/errors.ts'

describe('error codes', () => {
  test('every code is prefixed INK_ERR_, carries a 4xx/5xx status and is documented in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    for (const [code, status] of Object.entries(ErrorCodes)) {
      assert.match(code, /^INK_ERR_[A-Z0-9_]+$/)
      assert.ok(status >= 400 && status < 600, `${code} has status ${status}`)
      assert.ok(doc.includes(`\`${code}\``), `${code} is missing from docs/errors.md`)
    }
  })

  test('an InkError takes its status from the code table and keeps its cause', () => {
    const cause = new Error('disk full')
    const err = new InkError('INK_ERR_LOG_UNAVAILABLE', 'retry', { cause })
    assert.equal(err.statusCode, 503)
    assert.equal(err.cause, cause)
  })
})

describe('configuration', () => {
  test('the embedded default needs no settings', () => {
    const config = loadConfig({})
    assert.equal(config.port, 8080)
    assert.equal(config.maxEventBytes, 32 * 1024)
    assert.equal(config.maxBatchBytes, 500 * 1024)
    assert.ok(Object.isFrozen(config))
  })

  test('roles and the scale-out backends: separate roles need Kafka and PostgreSQL, which go together', () => {
    const scale = { INKSTREAM_KAFKA_BROKERS: '127.0.0.1:9092', INKSTREAM_DATABASE_URL: 'postgres://u@h/db' }
    assert.deepEqual([...parseRoles('processor, collector')].sort(), ['collector', 'processor'])
    assert.equal(parseRoles('all').size, 4)
    assert.equal(loadConfig({ ...scale, INKSTREAM_ROLES: 'collector' }).roles, 'collector')
    const refused = (env: Record<string, string>, message: RegExp) =>
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof InkError && message.test(err.message),
      )
    refused({ INKSTREAM_ROLES: 'collector' }, /INKSTREAM_ROLES: separate roles need the scale-out backends/)
    refused({ ...scale, INKSTREAM_ROLES: 'collector,mailer' }, /unknown role "mailer"/)
    refused({ INKSTREAM_KAFKA_BROKERS: '127.0.0.1:9092' }, /INKSTREAM_DATABASE_URL: .*set together/)
    refused({ ...scale, INKSTREAM_KAFKA_BROKERS: 'localhost' }, /INKSTREAM_KAFKA_BROKERS: host:port/)
  })

  test('environment variables set values and every problem is reported at once', () => {
    assert.equal(loadConfig({ INKSTREAM_PORT: '9000' }).port, 9000)
    assert.throws(
      () => loadConfig({ INKSTREAM_PORT: 'eighty', INKSTREAM_PROT: '1', INKSTREAM_DEDUPE_WINDOW_DAYS: '1' }),
      (err: unknown) => {
        assert.ok(err instanceof InkError)
        assert.equal(err.code, 'INK_ERR_INVALID_CONFIG')
        assert.match(err.message, /INKSTREAM_PROT is not a known setting/)
        assert.match(err.message, /INKSTREAM_PORT:/)
        assert.match(err.message, /at least 7 days/)
        return true
      },
    )
  })

  test('keys that are too short to be secret are refused', () => {
    assert.throws(() => loadConfig({ INKSTREAM_WRITE_KEY: 'short' }), /INKSTREAM_WRITE_KEY/)
  })
})
