/**
 * Per-minute rollups on SQLite and PostgreSQL: written by the roller from real metric increments
 * (prom-client registries as createMetrics builds them), with exact counts, ratios and p95s from the
 * buckets; two instances merged exactly (sums first, then the p95 of the summed buckets); the
 * retention; and the history surviving a reopen.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Counter } from 'prom-client'
import { createMetrics, type Metrics } from '../../src/observe/metrics.ts'
import { Roller } from '../../src/observe/rollups/roller.ts'
import { HEARTBEAT, quantileOf, seriesOf } from '../../src/observe/rollups/rollup-series.ts'
import type { MergedMinute, RollupStore } from '../../src/observe/rollups/rollup-store.ts'
import { MIN, observeBackends, T0, type TestClock, testClock } from './alerts-backends.ts'

const silent = { warn: () => {} }
const parts = (m: MergedMinute | undefined) =>
  Object.fromEntries([...(m ?? new Map())].map(([name, les]) => [name, Object.fromEntries(les)]))
const close = (actual: number | null | undefined, expected: number) =>
  assert.ok(actual != null && Math.abs(actual - expected) < 1e-12, `${actual} ≈ ${expected}`)

/** The engagement counter the metrics branch defines; registered here if this registry lacks it. */
function opens(m: Metrics): Counter<'origin' | 'machine'> {
  const name = 'inkstream_email_opens_total'
  const existing = m.registry.getSingleMetric(name)
  if (existing instanceof Counter) return existing as Counter<'origin' | 'machine'>
  return new Counter({ name, help: 'opens', labelNames: ['origin', 'machine'], registers: [m.registry] })
}

async function rollerOn(store: RollupStore, clock: TestClock, instance: string, retentionMs?: number) {
  const metrics = createMetrics({ defaultMetrics: false })
  const roller = new Roller({
    registry: metrics.registry,
    store,
    clock,
    logger: silent,
    instance,
    ...(retentionMs === undefined ? {} : { retentionMs }),
  })
  await roller.start({ timers: false })
  return { metrics, roller }
}

for (const backend of await observeBackends()) {
  describe(`metric rollups on ${backend.name}`, { skip: backend.skip }, () => {
    const withStores = async (
      fn: (
        s: Awaited<ReturnType<typeof backend.open>>,
        clock: TestClock,
        reopen: () => ReturnType<typeof backend.open>,
      ) => Promise<void>,
    ) => {
      const location = await backend.location()
      const clock = testClock(T0 + 5_000)
      const opened = [await backend.open(location, clock)]
      try {
        await fn(opened[0]!, clock, async () => {
          const s = await backend.open(location, clock)
          opened.push(s)
          return s
        })
      } finally {
        for (const s of opened) await s.close()
        await backend.cleanup(location)
      }
    }

    test('a closed minute holds the deltas of the real counters and histograms, and its series are exact', () =>
      withStores(async ({ rollups }, clock) => {
        const { metrics: m, roller } = await rollerOn(rollups, clock, 'a')
        m.ingestEvents.inc({ outcome: 'accepted' }, 7)
        m.ingestEvents.inc({ outcome: 'rejected' }, 3)
        for (let i = 0; i < 10; i++) m.renderDuration.observe({ mode: 'pre-send', outcome: 'ok' }, 0.0015)
        for (let i = 0; i < 10; i++) m.renderDuration.observe({ mode: 'open-time-png', outcome: 'ok' }, 0.004)
        m.fallbacks.inc({ template: 't', placeholder: 'p', reason: 'missing' }, 4)
        m.connectedContentCalls.inc({ source: 'api.shop', outcome: 'success' }, 3)
        m.connectedContentCalls.inc({ source: 'api.shop', outcome: 'timeout' }, 1)
        m.deliveryOutcomes.inc({ origin: 'campaign', kind: 'sent' }, 6)
        m.deliveryOutcomes.inc({ origin: 'trigger', kind: 'bounced' }, 1)
        m.deliveryOutcomes.inc({ origin: 'trigger', kind: 'failed' }, 1)
        m.deliveryOutcomes.inc({ origin: 'campaign', kind: 'skipped' }, 5)
        opens(m).inc({ origin: 'campaign', machine: 'false' }, 9)
        opens(m).inc({ origin: 'campaign', machine: 'true' }, 2)
        m.pipelineLag.observe(0.02)
        m.pipelineLag.observe(0.5)

        await roller.tick()
        assert.deepEqual(await rollups.merged(T0, T0 + 10 * MIN), new Map(), 'the minute has not closed')
        clock.t = T0 + MIN + 100
        await roller.tick()
        const minute = (await rollups.merged(T0, T0 + 10 * MIN)).get(T0)
        const p = parts(minute)
        assert.equal(p.ingest_accepted?.[''], 7)
        assert.equal(p.render?.count, 20)
        close(p.render?.sum, 0.055)
        assert.deepEqual([p.render?.['0.002'], p.render?.['0.005'], p.render?.['+Inf']], [10, 20, 20])
        assert.equal(p.render?.['0.001'], 0, 'a histogram that changed keeps its empty buckets')
        assert.deepEqual(
          [
            p.fallbacks?.[''],
            p['cc_calls:api.shop']?.[''],
            p['cc_success:api.shop']?.[''],
            p.sends?.[''],
            p.send_failures?.[''],
          ],
          [4, 4, 3, 8, 2],
        )
        assert.equal(p.opens?.[''], 9)
        assert.equal(p[HEARTBEAT]?.[''], 1)

        const s = seriesOf(minute ?? new Map())
        assert.equal(s.get('ingest_rate'), 7)
        // 95 % of 20 = rank 19, in (0.002, 0.005] holding 10 of them from 10: 0.002 + 0.003 × 9/10.
        close(s.get('render_p95'), 0.0047)
        // rank 1.9 of 2, in (0.25, 0.5] holding 1 from 1: 0.25 + 0.25 × 0.9.
        close(s.get('pipeline_lag_p95'), 0.475)
        assert.equal(s.get('fallback_rate'), 0.2)
        assert.equal(s.get('cc_success_ratio:api.shop'), 0.75)
        assert.equal(s.get('send_failure_rate'), 0.25)
        assert.equal(s.get('open_rate'), 9)
        assert.equal(s.get('click_rate'), 0)

        // The next minute holds only what happened in it.
        m.ingestEvents.inc({ outcome: 'accepted' }, 2)
        clock.t = T0 + 2 * MIN + 100
        await roller.tick()
        const next = (await rollups.merged(T0 + MIN, T0 + 2 * MIN)).get(T0 + MIN)
        assert.deepEqual(parts(next), { ingest_accepted: { '': 2 }, [HEARTBEAT]: { '': 1 } })
        const ns = seriesOf(next ?? new Map())
        assert.deepEqual(
          [ns.get('ingest_rate'), ns.get('render_p95'), ns.get('fallback_rate'), ns.get('send_failure_rate')],
          [2, null, null, null],
          'nothing rendered or sent: no p95, no ratio',
        )
        // A minute no process wrote is no data at all, not zero.
        assert.equal((await rollups.merged(T0 + 5 * MIN, T0 + 6 * MIN)).size, 0)
        assert.equal(seriesOf(new Map()).get('ingest_rate'), null)
      }))

    test('two instances merge exactly: counts add up and the p95 comes from the summed buckets', () =>
      withStores(async ({ rollups }, clock) => {
        const a = await rollerOn(rollups, clock, 'host-a:1')
        const b = await rollerOn(rollups, clock, 'host-b:1')
        a.metrics.ingestEvents.inc({ outcome: 'accepted' }, 30)
        b.metrics.ingestEvents.inc({ outcome: 'accepted' }, 12)
        for (let i = 0; i < 10; i++)
          a.metrics.renderDuration.observe({ mode: 'pre-send', outcome: 'ok' }, 0.0015)
        for (let i = 0; i < 10; i++)
          b.metrics.renderDuration.observe({ mode: 'pre-send', outcome: 'ok' }, 0.004)
        a.metrics.connectedContentCalls.inc({ source: 'api.shop', outcome: 'success' }, 1)
        b.metrics.connectedContentCalls.inc({ source: 'api.shop', outcome: 'error' }, 3)
        clock.t = T0 + MIN
        await Promise.all([a.roller.tick(), b.roller.tick()])
        const minute = (await rollups.merged(T0, T0 + MIN)).get(T0) ?? new Map()
        assert.equal(parts(minute)[HEARTBEAT]?.[''], 2)
        const s = seriesOf(minute)
        assert.equal(s.get('ingest_rate'), 42)
        close(s.get('render_p95'), 0.0047)
        // Neither instance's own p95 (nor their mean) is the merged one.
        close(
          quantileOf(
            new Map([
              ['0.001', 0],
              ['0.002', 10],
              ['+Inf', 10],
            ]),
          ),
          0.001 + 0.001 * 0.95,
        )
        assert.equal(s.get('cc_success_ratio:api.shop'), 0.25)
        assert.equal(parts(minute).render?.count, 20)
      }))

    test('the retention deletes the minutes older than it, and close() writes the partial minute', () =>
      withStores(async ({ rollups }, clock) => {
        const rows = [0, 1, 2, 3, 4, 5].map((i) => ({
          minute: T0 + i * MIN,
          name: 'ingest_accepted',
          le: '',
          instance: 'old',
          value: i + 1,
        }))
        await rollups.add(rows)
        assert.equal(await rollups.firstMinute(), T0)
        const { metrics, roller } = await rollerOn(rollups, clock, 'a', 3 * MIN)
        clock.t = T0 + 6 * MIN + 10
        await roller.tick()
        // Kept: from 6 − 3 = minute 3 on (its own minute 0 row, written at this tick, is older: gone too).
        assert.equal(await rollups.firstMinute(), T0 + 3 * MIN)
        const kept = await rollups.merged(T0, T0 + 10 * MIN)
        assert.deepEqual([...kept.keys()], [T0 + 3 * MIN, T0 + 4 * MIN, T0 + 5 * MIN])
        assert.deepEqual(
          [...kept.values()].map((m) => m.get('ingest_accepted')?.get('')),
          [4, 5, 6],
        )
        metrics.ingestEvents.inc({ outcome: 'accepted' }, 5)
        clock.t = T0 + 6 * MIN + 30_000
        await roller.close()
        assert.equal(
          (await rollups.merged(T0 + 6 * MIN, T0 + 7 * MIN))
            .get(T0 + 6 * MIN)
            ?.get('ingest_accepted')
            ?.get(''),
          5,
        )
      }))

    test('a row written twice for one key adds up, and the history is there after a reopen', () =>
      withStores(async ({ rollups }, _clock, reopen) => {
        const row = { minute: T0, name: 'render', le: '0.005', instance: 'a', value: 3 }
        await rollups.add([row, { ...row, value: 2 }])
        await rollups.add([row])
        const again = await reopen()
        assert.equal((await again.rollups.merged(T0, T0 + MIN)).get(T0)?.get('render')?.get('0.005'), 8)
      }))
  })
}
