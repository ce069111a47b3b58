import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  isTimeZone,
  localParts,
  parseClockTime,
  parseLocalDateTime,
  quietUntil,
  zonedInstant,
  zoneOf,
} from '../../src/core/local-time.ts'

const at = (iso: string) => Date.parse(iso)
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString())

test('time zones: IANA names and UTC are known, anything else is not and falls back', () => {
  for (const z of ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham'])
    assert.equal(isTimeZone(z), true, z)
  for (const z of ['', 'Mars/Olympus', 'Europe/Pariss', 42, null, undefined, 'x'.repeat(65)])
    assert.equal(isTimeZone(z), false, String(z))
  assert.equal(zoneOf('Nowhere/Else', 'Europe/Berlin'), 'Europe/Berlin')
  assert.equal(zoneOf('Asia/Tokyo', 'Europe/Berlin'), 'Asia/Tokyo')
})

test('a local date and time is the instant the zone shows it, half-hour and 45-minute zones included', () => {
  const nine = { year: 2026, month: 12, day: 1, hour: 9, minute: 0 }
  assert.equal(iso(zonedInstant(nine, 'Europe/Paris')), '2026-12-01T08:00:00.000Z')
  assert.equal(iso(zonedInstant(nine, 'America/New_York')), '2026-12-01T14:00:00.000Z')
  assert.equal(iso(zonedInstant(nine, 'Asia/Kolkata')), '2026-12-01T03:30:00.000Z')
  assert.equal(iso(zonedInstant(nine, 'Asia/Kathmandu')), '2026-12-01T03:15:00.000Z')
  assert.equal(iso(zonedInstant(nine, 'UTC')), '2026-12-01T09:00:00.000Z')
  // Summer time: Paris is UTC+2 in July.
  assert.equal(iso(zonedInstant({ ...nine, month: 7 }, 'Europe/Paris')), '2026-07-01T07:00:00.000Z')
  assert.deepEqual(localParts(at('2026-12-01T08:00:00Z'), 'Europe/Paris'), nine)
})

test('DST: a skipped local time lands just after the gap, a repeated one on its first occurrence', () => {
  // 2026-03-29 02:00 CET → 03:00 CEST in Paris: 02:30 does not exist.
  assert.equal(
    iso(zonedInstant({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Paris')),
    '2026-03-29T01:30:00.000Z',
  )
  // 2026-10-25 03:00 CEST → 02:00 CET: 02:30 happens twice; the first is 00:30 UTC.
  assert.equal(
    iso(zonedInstant({ year: 2026, month: 10, day: 25, hour: 2, minute: 30 }, 'Europe/Paris')),
    '2026-10-25T00:30:00.000Z',
  )
  // New York's spring-forward (2026-03-08 02:00 EST → 03:00 EDT).
  assert.equal(
    iso(zonedInstant({ year: 2026, month: 3, day: 8, hour: 2, minute: 15 }, 'America/New_York')),
    '2026-03-08T07:15:00.000Z',
  )
})

test('parsing: wall times and clock times, real ones only', () => {
  assert.deepEqual(parseLocalDateTime('2026-12-01T09:30'), {
    year: 2026,
    month: 12,
    day: 1,
    hour: 9,
    minute: 30,
  })
  for (const bad of [
    '2026-02-30T09:00',
    '2026-12-01T24:00',
    '2026-12-01 09:00',
    '2026-12-01T09:00Z',
    '2026-12-01',
  ])
    assert.equal(parseLocalDateTime(bad), undefined, bad)
  assert.equal(parseClockTime('21:00'), 21 * 60)
  assert.equal(parseClockTime('07:05'), 7 * 60 + 5)
  for (const bad of ['7:05', '24:00', '21:60', '2100', '']) assert.equal(parseClockTime(bad), undefined, bad)
})

test('quiet hours across midnight: held until the end in the recipient zone, today or tomorrow', () => {
  const quiet = { start: '21:00', end: '08:00' }
  // 22:30 in Paris (21:30 UTC) → 08:00 Paris the next day.
  assert.equal(iso(quietUntil(at('2026-12-01T21:30:00Z'), 'Europe/Paris', quiet)), '2026-12-02T07:00:00.000Z')
  // 03:00 in Paris → 08:00 the same day.
  assert.equal(iso(quietUntil(at('2026-12-02T02:00:00Z'), 'Europe/Paris', quiet)), '2026-12-02T07:00:00.000Z')
  // The same instant is daytime in Tokyo (11:00): not quiet.
  assert.equal(quietUntil(at('2026-12-02T02:00:00Z'), 'Asia/Tokyo', quiet), undefined)
  // The edges: 08:00 is not quiet any more, 21:00 is.
  assert.equal(quietUntil(at('2026-12-02T07:00:00Z'), 'Europe/Paris', quiet), undefined)
  assert.equal(iso(quietUntil(at('2026-12-02T20:00:00Z'), 'Europe/Paris', quiet)), '2026-12-03T07:00:00.000Z')
})

test('quiet hours within a day, none when start equals end, and across a DST change', () => {
  const lunch = { start: '12:00', end: '14:00' }
  assert.equal(iso(quietUntil(at('2026-12-01T11:15:00Z'), 'Europe/Paris', lunch)), '2026-12-01T13:00:00.000Z')
  assert.equal(quietUntil(at('2026-12-01T10:59:00Z'), 'Europe/Paris', lunch), undefined)
  assert.equal(
    quietUntil(at('2026-12-01T11:15:00Z'), 'Europe/Paris', { start: '12:00', end: '12:00' }),
    undefined,
  )
  // Saturday 2026-10-24 23:00 CEST; clocks go back that night: 08:00 CET on the 25th is 07:00 UTC.
  assert.equal(
    iso(quietUntil(at('2026-10-24T21:00:00Z'), 'Europe/Paris', { start: '21:00', end: '08:00' })),
    '2026-10-25T07:00:00.000Z',
  )
})
