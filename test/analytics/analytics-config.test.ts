/** The two analytics settings: read from the environment, defaulted and bounded. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { analyticsSettings } from '../../src/analytics/analytics-consumer.ts'
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

  test('message rows are kept while any of their links can still record an open or click, plus the window', () => {
    const DAY = 86_400_000
    const days = (openTimeTtlDays: number, conversionWindowDays: number) =>
      analyticsSettings({
        conversionEvent: 'Order Completed',
        conversionWindowDays,
        openTimeTtlDays,
        dedupeWindowDays: 7,
      }).messageRetentionMs / DAY
    // The open-time URLs outlive the tracking links (30 days): they decide.
    assert.equal(days(180, 3), 183)
    // Shorter open-time URLs: the 30-day tracking links still record clicks, so the rows stay that long.
    assert.equal(days(7, 3), 33)
  })
})
