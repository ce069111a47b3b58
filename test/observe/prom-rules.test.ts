/**
 * The shipped Prometheus rules (deploy/prometheus/inkstream.rules.yml): `promtool check rules`, their
 * unit tests (`promtool test rules deploy/prometheus/tests/*.yml`), the metric names they read exist
 * in the app's registry, and the unit tests fail when a rule is broken (mutations of a copy).
 */
import assert from 'node:assert/strict'
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { createMetrics } from '../../src/observe/metrics.ts'
import { tempDir } from '../helpers/app.ts'
import { promtool, promtoolMissing } from './prom.ts'

const DIR = join(import.meta.dirname, '../../deploy/prometheus')
const RULES = join(DIR, 'inkstream.rules.yml')
const TESTS = readdirSync(join(DIR, 'tests'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => `tests/${f}`)

/** Metrics other branches export (src/observe/alerts: the detector's episodes). */
const FROM_ELSEWHERE = new Set(['inkstream_anomaly_active'])

describe('Prometheus rules shipped in deploy/prometheus', { skip: promtoolMissing() }, () => {
  test('promtool check rules accepts them', () => {
    const r = promtool(['check', 'rules', RULES])
    assert.equal(r.status, 0, r.output)
    assert.match(r.output, /SUCCESS: 22 rules found/)
  })

  test('their unit tests pass: every alert fires when it should and not in the near-miss beside it', () => {
    assert.deepEqual(TESTS, ['tests/inkstream-alerts.test.yml', 'tests/inkstream-recording.test.yml'])
    const r = promtool(['test', 'rules', ...TESTS], undefined, DIR)
    assert.equal(r.status, 0, r.output)
    assert.equal(r.output.match(/SUCCESS/g)?.length, 2, r.output)
  })

  // A broken rule must fail the unit tests (else they test nothing): each mutation of a copy.
  const mutations: [string, string, string, RegExp][] = [
    [
      'send failures counted over every outcome, skips included',
      'rate(inkstream_delivery_outcomes_total{kind!="skipped"}[15m])',
      'rate(inkstream_delivery_outcomes_total[15m])',
      /InkstreamSendFailures/,
    ],
    ['the send failure threshold at 50 %', '> 0.05', '> 0.5', /InkstreamSendFailures/],
    [
      'processor down judged per process (an api-only process has no processor)',
      'unless on (job)\n          sum by (job) (rate(inkstream_pipeline_events_total[5m])) > 0',
      'unless\n          sum by (job, group) (rate(inkstream_pipeline_events_total[5m])) > 0',
      /InkstreamProcessorDown/,
    ],
    [
      'a steady backlog taken for a growing one',
      'delta(job_group:inkstream_log_consumer_lag:max[15m]) > 0',
      'delta(job_group:inkstream_log_consumer_lag:max[15m]) >= 0',
      /InkstreamConsumerLagGrowing/,
    ],
    [
      'stale answers counted as connected-content successes',
      '{outcome="success"}[5m]',
      '{outcome=~"success|stale"}[5m]',
      /connected_content_success/,
    ],
    [
      'anomaly alert on the wrong value',
      '(inkstream_anomaly_active) == 1',
      '(inkstream_anomaly_active) >= 0',
      /InkstreamAnomaly/,
    ],
    [
      'spans dropped at the full queue not counted as lost',
      '{outcome=~"failed|dropped"}[15m]',
      '{outcome="failed"}[15m]',
      /InkstreamTraceSpansLost/,
    ],
    [
      'a stale profile read counted as a cache hit',
      '{result="hit"}[5m]',
      '{result=~"hit|stale"}[5m]',
      /cache_hits/,
    ],
  ]
  for (const [name, from, to, failing] of mutations) {
    test(`the unit tests fail when a rule is broken: ${name}`, () => {
      const dir = tempDir('inkstream-rules-')
      cpSync(DIR, dir, { recursive: true })
      const copy = join(dir, 'inkstream.rules.yml')
      const text = readFileSync(copy, 'utf8')
      assert.ok(text.includes(from), `the rules contain ${JSON.stringify(from)}`)
      writeFileSync(copy, text.replace(from, to))
      assert.equal(promtool(['check', 'rules', copy]).status, 0, 'the mutant is still a valid rule file')
      const r = promtool(['test', 'rules', ...TESTS], undefined, dir)
      assert.notEqual(r.status, 0, `the unit tests still pass with ${name}`)
      assert.match(r.output, failing)
    })
  }

  test('every inkstream_ metric the rules read is registered by the app (or exported by another part)', async () => {
    const registered = new Set(
      (await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name),
    )
    // Recording rule names (level:metric:operations) and comments are not reads.
    const text = readFileSync(RULES, 'utf8')
      .replace(/#.*$/gm, '')
      .replace(/\b\w+:\w+:\w+/g, '')
    const read = new Set(
      [...text.matchAll(/\binkstream_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')),
    )
    assert.equal(read.size, 14, [...read].join(', '))
    const unknown = [...read].filter((n) => !registered.has(n) && !FROM_ELSEWHERE.has(n))
    assert.deepEqual(unknown, [])
  })
})
