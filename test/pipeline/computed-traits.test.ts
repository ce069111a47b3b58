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
