/** The two analytics settings: read from the environment, defaulted and bounded. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { InkError } from '../../src/core/errors.ts'

describe('analytics settings', () => {
  test('the conversion event and window default to Order Completed and 3 days, and are read from the environment', () => {
    const d = loadConfig({})
    assert.deepEqual([d.conversionEvent, d.conversionWindowDays], ['Order Completed', 3])
    const c = loadConfig({
      INKSTREAM_CONVERSION_EVENT: 'Checkout Finished',
      INKSTREAM_CONVERSION_WINDOW_DAYS: '0.5',
    })
    assert.deepEqual([c.conversionEvent, c.conversionWindowDays], ['Checkout Finished', 0.5])
  })

  test('a window that is not a positive number of days up to 365 stops the start', () => {
    for (const bad of ['0', '-1', '366', 'week'])
      assert.throws(
        () => loadConfig({ INKSTREAM_CONVERSION_WINDOW_DAYS: bad }),
        (err: unknown) => err instanceof InkError && /INKSTREAM_CONVERSION_WINDOW_DAYS:/.test(err.message),
      )
    assert.throws(() => loadConfig({ INKSTREAM_CONVERSION_EVENT: '' }), /INKSTREAM_CONVERSION_EVENT:/)
  })
})
