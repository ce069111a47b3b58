/** A render's data age: the oldest input it read (profile, connected-content responses that gave data). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SourceRecord } from '../../src/content/render-state.ts'
import { dataAgeOf } from '../../src/render/data-age.ts'

const source = (outcome: SourceRecord['outcome'], ageMs?: number): SourceRecord => ({
  name: 's',
  url: 'https://api.example/s',
  outcome,
  fromCache: false,
  ...(ageMs === undefined ? {} : { ageMs }),
  durationMs: 3,
})

test('the data age is the oldest input that gave data; undefined when none did', () => {
  const profile = (ageMs?: number) => ({
    outcome: 'live' as const,
    ...(ageMs === undefined ? {} : { ageMs }),
  })
  assert.equal(dataAgeOf({ profile: profile(0), sources: [] }), 0)
  assert.equal(dataAgeOf({ profile: profile(4_000), sources: [source('success', 0)] }), 4_000)
  assert.equal(
    dataAgeOf({ profile: profile(0), sources: [source('success', 20_000), source('stale', 65_000)] }),
    65_000,
  )
  // Failed calls gave no data: they make no age (the fallback says what happened).
  assert.equal(dataAgeOf({ profile: profile(0), sources: [source('timeout'), source('error')] }), 0)
  assert.equal(dataAgeOf({ profile: profile(), sources: [source('timeout')] }), undefined)
  assert.equal(dataAgeOf({ profile: profile(), sources: [source('success', 1_234.6)] }), 1_235)
})
