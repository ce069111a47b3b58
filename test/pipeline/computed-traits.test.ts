import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { InkEvent } from '../../src/core/types.ts'
import { emptyState, foldEvent, materialize, mergeStates } from '../../src/pipeline/computed-traits.ts'
import { loadTraitsConfig, parseTraitsConfig, type TraitDef } from '../../src/pipeline/traits-config.ts'

const DAY = 86_400_000
const NOW = Date.parse('2026-11-28T12:00:00Z')

const defs: TraitDef[] = parseTraitsConfig({
  traits: [
    { name: 'first_name', type: 'trait', trait: 'firstName' },
    { name: 'last_product', type: 'last', event: 'Product Viewed', pick: ['product_id', 'price'] },
    { name: 'first_order', type: 'first', event: 'Order Completed', property: 'order_id' },
    {
      name: 'recent',
      type: 'lastN',
      event: 'Product Viewed',
      n: 3,
      uniqueBy: 'product_id',
      pick: ['product_id'],
    },
    { name: 'orders_30d', type: 'count', event: 'Order Completed', window: '30d' },
    { name: 'revenue_30d', type: 'sum', event: 'Order Completed', property: 'revenue', window: '30d' },
    { name: 'min_order', type: 'min', event: 'Order Completed', property: 'revenue' },
    { name: 'max_order', type: 'max', event: 'Order Completed', property: 'revenue' },
    { name: 'pages', type: 'count', eventType: 'page', event: '*' },
    { name: 'location', type: 'location' },
  ],
}).traits

let seq = 0
const track = (
  event: string,
  properties: Record<string, unknown>,
  at: number,
  extra: Partial<InkEvent> = {},
): InkEvent => ({
  type: 'track',
  event,
  properties,
  messageId: `m${++seq}`,
  workspaceId: 'w',
  userId: 'u',
  timestamp: new Date(at).toISOString(),
  receivedAt: new Date(at).toISOString(),
  ...extra,
})

const fold = (events: InkEvent[], now = NOW) => {
  const s = emptyState()
  for (const e of events) foldEvent(s, e, defs, now)
  return s
}

describe('computed traits', () => {
  test('a copied identify trait follows the latest identify', () => {
    const s = fold([
      { ...track('x', {}, NOW), type: 'identify', traits: { firstName: 'Ann' } },
      { ...track('x', {}, NOW), type: 'identify', traits: { firstName: 'Anna' } },
    ])
    assert.equal(materialize(s, defs, NOW).first_name, 'Anna')
  })

  test('last and first go by event time, so a late event does not overwrite a newer one', () => {
    const s = fold([
      track('Product Viewed', { product_id: 'new', price: 2, extra: 'dropped' }, NOW - 1000),
      track('Product Viewed', { product_id: 'old', price: 1 }, NOW - 5000),
      track('Order Completed', { order_id: 'o2' }, NOW - 1000),
      track('Order Completed', { order_id: 'o1' }, NOW - 9000),
    ])
    const t = materialize(s, defs, NOW)
    assert.deepEqual(t.last_product, { product_id: 'new', price: 2 })
    assert.equal(t.first_order, 'o1')
  })

  test('lastN keeps the newest n, one per uniqueBy key, newest first', () => {
    const s = fold(
      ['a', 'b', 'a', 'c', 'd'].map((id, i) => track('Product Viewed', { product_id: id }, NOW - 10_000 + i)),
    )
    assert.deepEqual(materialize(s, defs, NOW).recent, [
      { product_id: 'd' },
      { product_id: 'c' },
      { product_id: 'a' },
    ])
  })

  test('count and sum over a window slide out old events as time passes', () => {
    const s = fold([
      track('Order Completed', { revenue: 10 }, NOW - 40 * DAY),
      track('Order Completed', { revenue: 20 }, NOW - 20 * DAY),
      track('Order Completed', { revenue: '30.5' }, NOW - 1 * DAY),
      track('Order Completed', { revenue: 'n/a' }, NOW),
    ])
    const t = materialize(s, defs, NOW)
    assert.equal(t.orders_30d, 3, 'the 40-day-old order is outside the window')
    assert.equal(t.revenue_30d, 50.5, 'non-numeric revenue is counted as an order but not summed')
    const later = materialize(s, defs, NOW + 15 * DAY)
    assert.equal(later.orders_30d, 2)
    assert.equal(later.revenue_30d, 30.5)
  })

  test('min and max without a window cover all time; with no events they are null', () => {
    const t = materialize(
      fold([
        track('Order Completed', { revenue: 5 }, NOW - 400 * DAY),
        track('Order Completed', { revenue: 9 }, NOW),
      ]),
      defs,
      NOW,
    )
    assert.equal(t.min_order, 5)
    assert.equal(t.max_order, 9)
    assert.equal(materialize(emptyState(), defs, NOW).max_order, null)
    assert.equal(materialize(emptyState(), defs, NOW).orders_30d, 0)
  })

  test('page counts match page events of any name, and location comes from context', () => {
    const page = (name: string): InkEvent => ({
      ...track('', {}, NOW),
      type: 'page',
      name,
      event: undefined as never,
    })
    const s = fold([
      page('Home'),
      page('Cart'),
      track('x', {}, NOW, {
        context: { location: { city: 'Lyon', country: 'FR' }, timezone: 'Europe/Paris' },
      }),
    ])
    const t = materialize(s, defs, NOW)
    assert.equal(t.pages, 2)
    assert.deepEqual(t.location, { city: 'Lyon', country: 'FR', timezone: 'Europe/Paris' })
  })

  test('property: merging two folds equals folding all events into one profile', () => {
    const arbEvent = fc.record({
      kind: fc.constantFrom('Order Completed', 'Product Viewed'),
      revenue: fc.integer({ min: 0, max: 1000 }),
      product: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      ageMs: fc.integer({ min: 0, max: 60 * DAY }),
    })
    fc.assert(
      fc.property(fc.array(arbEvent, { maxLength: 30 }), fc.array(arbEvent, { maxLength: 30 }), (xs, ys) => {
        // Distinct times: with ties, "last" depends on arrival order, which a merge cannot know.
        const toEvents = (list: typeof xs, offset: number) =>
          list.map((x, i) =>
            track(
              x.kind,
              { revenue: x.revenue, product_id: x.product, order_id: `${offset}-${i}` },
              NOW - x.ageMs * 2 - offset - i * 100,
            ),
          )
        const a = toEvents(xs, 0)
        const b = toEvents(ys, 50)
        const merged = mergeStates(fold(a), fold(b), defs, NOW)
        const all = fold([...a, ...b])
        const mt = materialize(merged, defs, NOW)
        const at = materialize(all, defs, NOW)
        for (const name of [
          'orders_30d',
          'revenue_30d',
          'min_order',
          'max_order',
          'last_product',
          'first_order',
          'recent',
        ]) {
          assert.deepEqual(mt[name], at[name], name)
        }
      }),
      { numRuns: 300 },
    )
  })
})

const HOUR = 3_600_000
const YEAR = 365 * DAY

/** An event whose client-side time is `at`, received by the collector at `received` (no sentAt). */
const sentAt = (event: string, properties: Record<string, unknown>, at: number, received: number) =>
  track(event, properties, at, { receivedAt: new Date(received).toISOString() })

describe('event time the client controls (clock policy)', () => {
  test('a view dated in year 9999 does not pin last_product over later real views', () => {
    const s = fold([
      sentAt('Product Viewed', { product_id: 'far' }, Date.parse('9999-01-01T00:00:00Z'), NOW - HOUR),
      sentAt('Product Viewed', { product_id: 'real' }, NOW, NOW),
    ])
    assert.deepEqual(materialize(s, defs, NOW).last_product, { product_id: 'real' })
    assert.equal(s.lastSeenAt, NOW, 'lastSeenAt is not pinned to 9999 either')
  })

  test('an order dated 10 years ahead counts in orders_30d for 30 days from its arrival, not for 10 years', () => {
    const s = fold([sentAt('Order Completed', { revenue: 5 }, NOW + 10 * YEAR, NOW)], NOW)
    assert.equal(materialize(s, defs, NOW).orders_30d, 1)
    assert.equal(materialize(s, defs, NOW + 31 * DAY).orders_30d, 0)
    assert.equal(materialize(s, defs, NOW + 31 * DAY).revenue_30d, 0)
  })

  test('a small clock lead (within the tolerance) keeps the client time; past times are kept', () => {
    const s = fold([
      sentAt('Product Viewed', { product_id: 'ahead' }, NOW + 30_000, NOW),
      sentAt('Product Viewed', { product_id: 'now' }, NOW + 1000, NOW + 1000),
      sentAt('Order Completed', { revenue: 1 }, NOW - 40 * DAY, NOW),
    ])
    const t = materialize(s, defs, NOW)
    assert.deepEqual(t.last_product, { product_id: 'ahead' }, '30 s ahead is trusted')
    assert.equal(t.orders_30d, 0, 'an order imported with a 40-day-old time is outside the window')
  })
})

describe('window edges of computed traits (30d window, 1 h buckets)', () => {
  // An event at the start of a bucket: the bucket [T, T + 1 h) leaves the 30-day window when its end
  // is 30 days old, at T + 30 d + 1 h.
  const T = Math.floor(NOW / HOUR) * HOUR
  const W = 30 * DAY
  const order = (at: number) => track('Order Completed', { revenue: 7 }, at)
  const count = (s: ReturnType<typeof fold>, now: number) => materialize(s, defs, now).orders_30d

  test('an event 29 days 23 h old is counted; one whose bucket ended 30 days ago is not', () => {
    const s = fold([order(T)], T)
    assert.equal(count(s, T + 29 * DAY + 23 * HOUR), 1)
    assert.equal(count(s, T + W), 1, 'exactly 30 days old: still inside its last bucket')
    assert.equal(count(s, T + W + HOUR - 1), 1, 'one bucket late, minus 1 ms: counted')
    assert.equal(count(s, T + W + HOUR), 0, '30 days + 1 bucket: gone')
    assert.equal(materialize(s, defs, T + W + HOUR - 1).revenue_30d, 7)
    assert.equal(materialize(s, defs, T + W + HOUR).revenue_30d, 0)
  })

  test('folding a later event does not prune a bucket that is still inside the window', () => {
    const s = fold([order(T)], T)
    foldEvent(s, order(T + W + HOUR - 1), defs, T + W + HOUR - 1)
    assert.equal(count(s, T + W + HOUR - 1), 2)
    foldEvent(s, order(T + W + HOUR), defs, T + W + HOUR)
    assert.equal(count(s, T + W + HOUR), 2, 'the first order left, the two later ones count')
    const state = s.computed.orders_30d
    assert.ok(state && 'buckets' in state)
    assert.deepEqual(
      Object.keys(state.buckets).map(Number),
      [T + W, T + W + HOUR],
      'the bucket that left the window is dropped from the stored state',
    )
  })

  test('a short window keeps buckets of at least one minute (15m window: 1 min buckets, not 1.25 s)', () => {
    const [short] = parseTraitsConfig({
      traits: [{ name: 'views_15m', type: 'count', event: 'Product Viewed', window: '15m' }],
    }).traits
    assert.ok(short)
    const M = 60_000
    const start = Math.floor(NOW / M) * M
    const s = emptyState()
    foldEvent(s, track('Product Viewed', {}, start), [short], start)
    const views = (now: number) => materialize(s, [short], now).views_15m
    assert.equal(views(start + 15 * M + M - 1), 1)
    assert.equal(views(start + 15 * M + M), 0)
  })

  test('a late event is admitted while younger than the window and refused at 30 days', () => {
    const now = T + 40 * DAY
    const s = fold([order(now - W + 1), order(now - W)], now)
    assert.equal(count(s, now), 1)
  })
})

describe('traits config', () => {
  test('the shipped e-commerce config is valid', () => {
    const config = loadTraitsConfig()
    assert.ok(config.traits.some((t) => t.type === 'lastN'))
    assert.ok(config.traits.some((t) => t.type === 'sum' && t.window === '30d'))
  })

  test('every mistake in a config is reported at once, with its path', () => {
    assert.throws(
      () =>
        parseTraitsConfig({
          traits: [
            { name: 'a', type: 'count', event: 'x', window: '30 days' },
            { name: 'a', type: 'sum', event: 'x' },
            { name: 'b', type: 'median', event: 'x' },
          ],
        }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INK_ERR_INVALID_CONFIG')
        assert.match(err.message, /traits\.0\.window: a window like 15m, 12h or 30d/)
        assert.match(err.message, /traits\.1\.property/)
        assert.match(err.message, /traits\.2\.type/)
        return true
      },
    )
  })
})
