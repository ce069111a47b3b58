import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
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
