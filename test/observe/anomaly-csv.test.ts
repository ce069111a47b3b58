import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { parseSeriesCsv, parseTimestamp } from '../../src/observe/anomaly/series-csv.ts'

const T = Date.UTC(2026, 0, 5, 12, 30)

describe('series CSV', () => {
  it('reads ISO-8601 with a zone, a date alone, epoch seconds and epoch milliseconds', () => {
    assert.equal(parseTimestamp('2026-01-05T12:30:00Z'), T)
    assert.equal(parseTimestamp('2026-01-05T12:30Z'), T)
    assert.equal(parseTimestamp('2026-01-05T14:30:00.000+02:00'), T)
    assert.equal(parseTimestamp('2026-01-05'), Date.UTC(2026, 0, 5))
    assert.equal(parseTimestamp(String(T / 1000)), T)
    assert.equal(parseTimestamp(String(T)), T)
    assert.equal(parseTimestamp('99999999999'), 99_999_999_999_000)
    assert.equal(parseTimestamp('100000000000'), 100_000_000_000)
    assert.match(String(parseTimestamp('2026-01-05T12:30:00')), /no time zone/)
    assert.match(String(parseTimestamp('2026-13-45T12:30:00Z')), /not a valid date/)
    assert.match(String(parseTimestamp('-5')), /neither ISO-8601 nor epoch/)
    // Numbers a Date cannot hold, up to one that reads as Infinity, are errors, not times.
    assert.equal(parseTimestamp('8640000000000000'), 8.64e15)
    assert.match(String(parseTimestamp('8640000000000001')), /past the year 275760/)
    assert.match(String(parseTimestamp('9'.repeat(400))), /past the year 275760/)
    const { rows, errors } = parseSeriesCsv(`1767616200,1\n${'9'.repeat(400)},2\n`)
    assert.equal(rows.length, 1)
    assert.deepEqual(
      errors.map((e) => e.line),
      [2],
    )
  })

  it('skips a header and blank lines, reads an empty value as missing', () => {
    const { rows, errors } = parseSeriesCsv(
      'time , value\n\n1767616200,1.5\n1767616260,\n 1767616320 , -2e3 \n',
    )
    assert.deepEqual(errors, [])
    assert.deepEqual(rows, [
      { line: 3, timestamp: '1767616200', t: 1767616200000, value: 1.5 },
      { line: 4, timestamp: '1767616260', t: 1767616260000, value: null },
      { line: 5, timestamp: '1767616320', t: 1767616320000, value: -2000 },
    ])
  })

  it('a header is only allowed on the first line, and a bad first row is not taken for one', () => {
    assert.deepEqual(parseSeriesCsv('1767616200,1\ntimestamp,value\n').errors, [
      { line: 2, message: 'timestamp "timestamp" is neither ISO-8601 nor epoch seconds/milliseconds' },
    ])
    assert.deepEqual(parseSeriesCsv('soon,1\n').errors, [
      { line: 1, message: 'timestamp "soon" is neither ISO-8601 nor epoch seconds/milliseconds' },
    ])
    assert.deepEqual(parseSeriesCsv('1767616200,NaN\n1767616260,Infinity\n').errors, [
      { line: 1, message: 'value "NaN" is not a number (leave it empty for a missing minute)' },
      { line: 2, message: 'value "Infinity" is not a number (leave it empty for a missing minute)' },
    ])
  })

  it('reads back any series it is given, in order, with missing values', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 1, max: 5 }),
            fc.option(fc.double({ noNaN: true, noDefaultInfinity: true })),
          ),
          {
            maxLength: 50,
          },
        ),
        fc.constantFrom('s', 'ms', 'iso'),
        (points, form) => {
          let minute = 29_446_000
          const expected = points.map(([gap, value]) => {
            minute += gap
            return { t: minute * 60_000, value }
          })
          const text = expected
            .map(({ t, value }) => {
              const ts =
                form === 's' ? String(t / 1000) : form === 'ms' ? String(t) : new Date(t).toISOString()
              return `${ts},${value === null ? '' : String(value)}`
            })
            .join('\n')
          const { rows, errors } = parseSeriesCsv(text)
          assert.deepEqual(errors, [])
          assert.deepEqual(
            rows.map(({ t, value }) => ({
              t,
              value: value === null ? null : Object.is(value, -0) ? 0 : value,
            })),
            expected.map(({ t, value }) => ({
              t,
              value: value === null ? null : Object.is(value, -0) ? 0 : value,
            })),
          )
        },
      ),
    )
  })
})
