/**
 * The metric rules in one place (src/observe/metric-records.ts, bounded-label.ts): label bounds,
 * origin and machine labels, the scrape-time gauges, the cache layers, the watched consumer groups.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryCache } from '../../src/content/cache/memory-cache.ts'
import { BoundedLabel, OTHER } from '../../src/observe/bounded-label.ts'
import {
  countConnectedContentCall,
  countDelivery,
  countFallback,
  countOpen,
  countOpenTimeCache,
  countProfileRead,
  countTrackingEvent,
  setSendQueue,
} from '../../src/observe/metric-records.ts'
import {
  createMetrics,
  LABEL_BOUNDS,
  type Metrics,
  observeBatch,
  observeTraceSpans,
  readConsumerLags,
  watchConsumerGroup,
} from '../../src/observe/metrics.ts'
import { OpenRecorder } from '../../src/opentime/open-recorder.ts'
import { ProfileReader } from '../../src/profiles/profile-reader.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'

/** Every sample of a metric as `label=value,…` (sorted) → value. */
async function values(m: Metrics, name: string): Promise<Record<string, number>> {
  const metric = m.registry.getSingleMetric(name)
  assert.ok(metric, name)
  const out: Record<string, number> = {}
  for (const v of (await metric.get()).values) {
    const key = Object.entries(v.labels)
      .map(([k, x]) => `${k}=${x}`)
      .sort()
      .join(',')
    out[key] = v.value
  }
  return out
}

describe('bounded labels', () => {
  test('the first max distinct values pass, later new ones are "other", known ones stay themselves', () => {
    const l = new BoundedLabel(2)
    assert.deepEqual(
      ['a', 'b', 'c', 'a', 'd', 'b'].map((v) => l.of(v)),
      ['a', 'b', OTHER, 'a', OTHER, 'b'],
    )
    assert.equal(l.size, 2)
    assert.throws(() => new BoundedLabel(-1), RangeError)
  })

  test('delivery ids past the bound are counted under id="other", a trigger under its own id', async () => {
    const m = createMetrics({ defaultMetrics: false })
    for (let i = 0; i < LABEL_BOUNDS.id + 3; i++)
      countDelivery(m, { origin: 'campaign', campaignId: `c${i}` }, 'sent')
    countDelivery(m, { origin: 'trigger', campaignId: 'trigger:cart' }, 'failed')
    countDelivery(m, { origin: 'campaign', campaignId: 'c0' }, 'bounced')
    const v = await values(m, 'inkstream_delivery_outcomes_total')
    // The bound's ids sent, other sent, other failed, c0 bounced.
    assert.equal(Object.keys(v).length, LABEL_BOUNDS.id + 3)
    assert.equal(v['id=other,kind=sent,origin=campaign'], 3)
    // cart came after the bound was reached: it is other too.
    assert.equal(v['id=other,kind=failed,origin=trigger'], 1)
    assert.equal(v['id=c0,kind=bounced,origin=campaign'], 1)
    assert.equal(v[`id=c${LABEL_BOUNDS.id - 1},kind=sent,origin=campaign`], 1)
  })

  test('a trigger id is its own label, without the trigger: prefix', async () => {
    const m = createMetrics({ defaultMetrics: false })
    countDelivery(m, { origin: 'trigger', campaignId: 'trigger:cart' }, 'sent')
    assert.deepEqual(await values(m, 'inkstream_delivery_outcomes_total'), {
      'id=cart,kind=sent,origin=trigger': 1,
    })
  })

  test('fallbacks: the (template, placeholder) pair is bounded as one; past it both labels are "other"', async () => {
    const m = createMetrics({ defaultMetrics: false })
    for (let i = 0; i < LABEL_BOUNDS.fallback; i++)
      countFallback(m, { template: 't', placeholder: `p${i}`, reason: 'missing' })
    countFallback(m, { template: 't', placeholder: 'late', reason: 'timeout' })
    countFallback(m, { template: 'u', placeholder: 'p0', reason: 'missing' })
    countFallback(m, { template: 't', placeholder: 'p0', reason: 'error' })
    const v = await values(m, 'inkstream_fallbacks_total')
    assert.equal(v['placeholder=other,reason=timeout,template=other'], 1)
    assert.equal(v['placeholder=other,reason=missing,template=other'], 1)
    assert.equal(v['placeholder=p0,reason=error,template=t'], 1)
    assert.equal(Object.keys(v).length, LABEL_BOUNDS.fallback + 3)
  })

  test('connected-content sources are bounded; calls, durations and the cache are counted per call', async () => {
    const m = createMetrics({ defaultMetrics: false })
    for (let i = 0; i <= LABEL_BOUNDS.source; i++)
      countConnectedContentCall(m, { host: `h${i}`, outcome: 'success', durationMs: 20, cache: 'miss' })
    countConnectedContentCall(m, { host: 'h0', outcome: 'success', durationMs: 2_500, cache: 'hit' })
    countConnectedContentCall(m, { host: 'h0', outcome: 'stale', durationMs: 100, cache: 'stale' })
    countConnectedContentCall(m, { host: '', outcome: 'refused', durationMs: 0, cache: undefined })
    const calls = await values(m, 'inkstream_connected_content_calls_total')
    assert.equal(calls[`outcome=success,source=${OTHER}`], 1)
    assert.equal(calls['outcome=success,source=h0'], 2)
    assert.equal(calls['outcome=stale,source=h0'], 1)
    // An unparsable URL was the last new value: past the bound as well.
    assert.equal(calls[`outcome=refused,source=${OTHER}`], 1)
    const h0 = (await m.connectedContentDuration.get()).values.filter((x) => x.labels.source === 'h0')
    assert.equal(h0.find((x) => x.metricName?.endsWith('_sum'))?.value, 0.02 + 2.5 + 0.1)
    assert.equal(h0.find((x) => x.metricName?.endsWith('_count'))?.value, 3)
    assert.deepEqual(await values(m, 'inkstream_cache_requests_total'), {
      'layer=connected_content,result=miss': LABEL_BOUNDS.source + 1,
      'layer=connected_content,result=hit': 1,
      'layer=connected_content,result=stale': 1,
    })
  })
})

describe('engagement', () => {
  test('opens by origin and machine, clicks and unsubscribes by origin', async () => {
    const m = createMetrics({ defaultMetrics: false })
    const browser = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15'
    countTrackingEvent(m, 'open', 'spring', browser)
    countTrackingEvent(m, 'open', 'spring', 'Mozilla/5.0')
    countTrackingEvent(m, 'open', 'trigger:cart', 'Mozilla/5.0 (via ggpht.com GoogleImageProxy)')
    countTrackingEvent(m, 'open', 'trigger:cart', undefined)
    countTrackingEvent(m, 'click', 'trigger:cart', browser)
    countTrackingEvent(m, 'unsubscribe', 'spring', browser)
    countTrackingEvent(m, 'open-time', 'spring', browser)
    assert.deepEqual(await values(m, 'inkstream_email_opens_total'), {
      'machine=false,origin=campaign': 1,
      'machine=true,origin=campaign': 1,
      'machine=true,origin=trigger': 1,
      'machine=false,origin=trigger': 1,
    })
    assert.deepEqual(await values(m, 'inkstream_email_clicks_total'), { 'origin=trigger': 1 })
    assert.deepEqual(await values(m, 'inkstream_email_unsubscribes_total'), { 'origin=campaign': 1 })
  })
})

describe('open-time opens', () => {
  test('counted once the event is in the log: not when the append fails, once per token and window', async () => {
    const m = createMetrics({ defaultMetrics: false })
    let failures = 1
    const recorder = new OpenRecorder({
      log: {
        append: async () => {
          if (failures-- > 0) throw new Error('log unavailable')
        },
      },
      windowMs: 10_000,
      onError: () => {},
      onRecorded: (o) => countOpen(m, o.campaignId, o.userAgent),
    })
    const open = (token: string, now: number) =>
      recorder.record({
        workspaceId: 'w',
        campaignId: 'trigger:cart',
        recipient: 'ann',
        messageId: 'm1',
        token,
        now,
        userAgent: 'Mozilla/5.0',
        surface: 'png',
        block: 'hero',
        fallbacks: 0,
        dataAgeMs: 0,
      })
    open('t1', 1_000)
    await recorder.settled()
    assert.deepEqual(await values(m, 'inkstream_email_opens_total'), {})
    open('t1', 2_000)
    open('t1', 3_000)
    await recorder.settled()
    assert.deepEqual(await values(m, 'inkstream_email_opens_total'), { 'machine=true,origin=trigger': 1 })
  })
})

describe('scrape-time gauges and watched groups', () => {
  test('send queue depth and campaign progress; a finished campaign leaves the gauge', async () => {
    const m = createMetrics({ defaultMetrics: false })
    setSendQueue(m, 7, [
      { id: 'a', total: 4, done: 1 },
      { id: 'b', total: undefined, done: 3 },
      { id: 'c', total: 10, done: 10 },
    ])
    assert.deepEqual(await values(m, 'inkstream_send_queue_depth'), {
      'queue=trigger_jobs': 7,
      'queue=campaign_recipients': 3,
    })
    assert.deepEqual(await values(m, 'inkstream_campaign_progress_ratio'), {
      'campaign=a': 0.25,
      'campaign=c': 1,
    })
    setSendQueue(m, undefined, [{ id: 'a', total: 4, done: 2 }])
    assert.deepEqual(await values(m, 'inkstream_campaign_progress_ratio'), { 'campaign=a': 0.5 })
    assert.deepEqual(await values(m, 'inkstream_send_queue_depth'), {
      'queue=trigger_jobs': 7,
      'queue=campaign_recipients': 2,
    })
  })

  test('campaigns past the id bound share "other", their handled and totals summed', async () => {
    const m = createMetrics({ defaultMetrics: false })
    for (let i = 0; i < LABEL_BOUNDS.id; i++) m.labels.id.of(`seen${i}`)
    setSendQueue(m, undefined, [
      { id: 'x', total: 4, done: 1 },
      { id: 'y', total: 6, done: 4 },
    ])
    assert.deepEqual(await values(m, 'inkstream_campaign_progress_ratio'), { 'campaign=other': 0.5 })
  })

  test('the lag of every watched consumer group is read; one that fails keeps its last value', async () => {
    const m = createMetrics({ defaultMetrics: false })
    watchConsumerGroup(m, 'profiles')
    watchConsumerGroup(m, 'analytics')
    watchConsumerGroup(m, 'profiles')
    const lags: Record<string, number | Error> = { profiles: 3, analytics: 12 }
    const lag = async (g: string) => {
      const l = lags[g]
      if (l instanceof Error || l === undefined) throw l ?? new Error('unknown group')
      return l
    }
    await readConsumerLags(m, lag)
    lags.profiles = 0
    lags.analytics = new Error('broker unreachable')
    await readConsumerLags(m, lag)
    assert.deepEqual(await values(m, 'inkstream_log_consumer_lag'), {
      'group=profiles': 0,
      'group=analytics': 12,
    })
  })

  test('a processor batch report: size and commit time observed, lag and outcomes counted', async () => {
    const m = createMetrics({ defaultMetrics: false })
    observeBatch(m, { lagSeconds: [0.5, 0.25], applied: 2, duplicates: 1, size: 3, commitSeconds: 0.004 })
    observeBatch(m, { lagSeconds: [], applied: 0, duplicates: 5, size: 5, commitSeconds: 0.002 })
    const size = (await m.processorBatchSize.get()).values
    assert.equal(size.find((x) => x.metricName === 'inkstream_processor_batch_size_sum')?.value, 8)
    assert.equal(size.find((x) => x.metricName === 'inkstream_processor_batch_size_count')?.value, 2)
    const commit = (await m.processorCommitDuration.get()).values
    assert.equal(commit.find((x) => x.metricName?.endsWith('_sum'))?.value, 0.006)
    assert.equal(
      commit.find((x) => x.metricName?.endsWith('_bucket') && x.labels.le === 0.002)?.value,
      1,
      'one commit at or below 2 ms',
    )
    assert.deepEqual(await values(m, 'inkstream_pipeline_events_total'), {
      'outcome=applied': 2,
      'outcome=duplicate': 6,
    })
  })
})

describe('cache layers', () => {
  test('profile reads through a real cache: a fresh copy is a hit, the store is a miss', async () => {
    const m = createMetrics({ defaultMetrics: false })
    let now = 1_000_000
    const clock = { now: () => now }
    const reader = new ProfileReader({
      store: {
        findProfileId: async (_ws, kind, value) => (kind === 'userId' && value === 'ann' ? 'p1' : undefined),
        getProfile: async () => ({
          workspaceId: 'w',
          profileId: 'p1',
          userId: 'ann',
          state: emptyState(),
          version: 1,
          createdAt: 0,
          updatedAt: 0,
          lastEventReceivedAt: 0,
        }),
        identities: async () => [],
        close: async () => {},
      },
      traits: [],
      cache: new MemoryCache({ clock }),
      clock,
      ttlMs: 1_000,
      onRead: (outcome) => countProfileRead(m, outcome),
    })
    const outcomes = []
    outcomes.push((await reader.read('w', 'ann', { timeoutMs: 1_000 })).outcome)
    outcomes.push((await reader.read('w', 'ann', { timeoutMs: 1_000 })).outcome)
    outcomes.push((await reader.read('w', 'nobody', { timeoutMs: 1_000 })).outcome)
    now += 2_000
    outcomes.push((await reader.read('w', 'ann', { timeoutMs: 1_000 })).outcome)
    assert.deepEqual(outcomes, ['live', 'cached', 'not-found', 'live'])
    assert.deepEqual(await values(m, 'inkstream_cache_requests_total'), {
      'layer=profile,result=miss': 3,
      'layer=profile,result=hit': 1,
    })
  })

  test('open-time block cache lookups: blocks and images apart, timeouts are errors, writes left out', async () => {
    const m = createMetrics({ defaultMetrics: false })
    for (const [layer, result] of [
      ['png', 'hit'],
      ['gif', 'miss'],
      ['fallback', 'hit'],
      ['img', 'hit'],
      ['png', 'timeout'],
      ['set', 'error'],
    ] as const)
      countOpenTimeCache(m, layer, result)
    assert.deepEqual(await values(m, 'inkstream_cache_requests_total'), {
      'layer=open_time_block,result=hit': 2,
      'layer=open_time_block,result=miss': 1,
      'layer=open_time_image,result=hit': 1,
      'layer=open_time_block,result=error': 1,
    })
  })

  test('span outcomes: each tracer adds what is new since its last report; a restarted one counts from 0', async () => {
    const m = createMetrics({ defaultMetrics: false })
    observeTraceSpans(m, 'main', { exported: 10, failed: 0, dropped: 0 })
    observeTraceSpans(m, 'processor', { exported: 3, failed: 1, dropped: 0 })
    // Every outcome is a series from the first report, 0 included.
    assert.deepEqual(await values(m, 'inkstream_trace_spans_total'), {
      'outcome=exported': 13,
      'outcome=failed': 1,
      'outcome=dropped': 0,
    })
    observeTraceSpans(m, 'main', { exported: 15, failed: 0, dropped: 2 })
    observeTraceSpans(m, 'main', { exported: 15, failed: 0, dropped: 2 })
    // The processor thread restarted: its new tracer's totals are below the last ones reported.
    observeTraceSpans(m, 'processor', { exported: 2, failed: 0, dropped: 0 })
    assert.deepEqual(await values(m, 'inkstream_trace_spans_total'), {
      'outcome=exported': 20,
      'outcome=failed': 1,
      'outcome=dropped': 2,
    })
  })
})
