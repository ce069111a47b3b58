import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { InkEvent } from '../../src/core/types.ts'
import { emptyState, foldEvent, getPath, materialize, mergeStates } from '../../src/traits/computed-traits.ts'
import { loadTraitsConfig, parseTraitsConfig, type TraitDef } from '../../src/traits/traits-config.ts'

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

  test('except leaves out the events whose property has a named value; the shipped email counts skip ESP tracking', () => {
    const own = parseTraitsConfig({
      traits: [
        { name: 'opens', type: 'count', event: 'Email Opened', except: { open_kind: 'esp' } },
        { name: 'views', type: 'count', event: 'Product Viewed', except: { 'product.tier': ['test', 0] } },
      ],
    }).traits
    const s = emptyState()
    for (const e of [
      track('Email Opened', {}, NOW),
      track('Email Opened', { open_kind: 'open-time' }, NOW),
      track('Email Opened', { open_kind: 'esp' }, NOW),
      track('Product Viewed', { product: { tier: 'test' } }, NOW),
      track('Product Viewed', { product: { tier: 0 } }, NOW),
      track('Product Viewed', { product: { tier: 'gold' } }, NOW),
      track('Product Viewed', {}, NOW),
    ])
      foldEvent(s, e, own, NOW)
    assert.deepEqual(materialize(s, own, NOW), { opens: 2, views: 2 })

    const shipped = loadTraitsConfig().traits
    const d = emptyState()
    for (const e of [
      track('Email Opened', { open_kind: 'esp' }, NOW),
      track('Email Opened', {}, NOW),
      track('Email Link Clicked', { click_kind: 'esp' }, NOW),
      track('Email Link Clicked', {}, NOW),
    ])
      foldEvent(d, e, shipped, NOW)
    const t = materialize(d, shipped, NOW)
    assert.deepEqual([t.email_opens_30d, t.email_clicks_30d], [1, 1])
    assert.throws(
      () => parseTraitsConfig({ traits: [{ name: 'x', type: 'count', event: 'E', except: {} }] }),
      /except: name at least one property path/,
    )
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
        // No time is in both lists: across a tie, "last" depends on arrival order, which a merge
        // cannot know. One list takes even offsets from NOW, the other odd ones (an offset of
        // 50 + 100 i once met 2 × age + 100 i in the other list). Ties within a list are folded
        // in the same order by both sides.
        const toEvents = (list: typeof xs, side: 0 | 1) =>
          list.map((x, i) =>
            track(
              x.kind,
              { revenue: x.revenue, product_id: x.product, order_id: `${side}-${i}` },
              NOW - x.ageMs * 2 - side,
            ),
          )
        const a = toEvents(xs, 0)
        const b = toEvents(ys, 1)
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

/** Definitions of their own, for the cases the shared set does not reach. */
const defsOf = (traits: unknown[]): TraitDef[] => parseTraitsConfig({ traits }).traits

describe('computed traits, case by case', () => {
  test('getPath reads own properties only and stops at anything that is not a plain object', () => {
    assert.equal(getPath({ product: { id: 'p1' } }, 'product.id'), 'p1')
    assert.equal(getPath({}, 'toString'), undefined, 'an inherited property is not read')
    assert.equal(getPath({ a: {} }, 'a.constructor'), undefined)
    assert.equal(getPath({}, 'missing.deeper'), undefined, 'a missing step ends the walk')
    assert.equal(getPath({ list: ['x'] }, 'list.0'), undefined, 'arrays are not walked into')
    assert.equal(getPath('text', 'length'), undefined)
  })

  test('with neither property nor pick, last keeps the whole properties object; a missing path is skipped', () => {
    const d = defsOf([
      { name: 'last_props', type: 'last', event: 'Viewed' },
      { name: 'last_sku', type: 'last', event: 'Viewed', property: 'item.sku' },
    ])
    const s = emptyState()
    foldEvent(s, track('Viewed', { item: { sku: 'A' }, price: 3 }, NOW - 2000), d, NOW)
    foldEvent(s, track('Viewed', { price: 4 }, NOW - 1000), d, NOW)
    const t = materialize(s, d, NOW)
    assert.deepEqual(t.last_props, { price: 4 })
    assert.equal(t.last_sku, 'A', 'a newer event without item.sku does not blank the value')
  })

  test('an event list matches each listed name and nothing else', () => {
    const d = defsOf([{ name: 'orders', type: 'count', event: ['Order Completed', 'Order Refunded'] }])
    const s = emptyState()
    for (const name of ['Order Completed', 'Order Refunded', 'Product Viewed', 'Order'])
      foldEvent(s, track(name, {}, NOW), d, NOW)
    assert.equal(materialize(s, d, NOW).orders, 2)
  })

  test('a page or screen trait matches the page name, not the track event name', () => {
    const d = defsOf([
      { name: 'pricing_views', type: 'count', eventType: 'page', event: 'Pricing' },
      { name: 'pricing_visits', type: 'count', eventType: 'page', event: ['Pricing', 'Plans'] },
    ])
    const page = (name: string): InkEvent => {
      const { event: _, ...rest } = track('', {}, NOW)
      return { ...rest, type: 'page', name }
    }
    const s = emptyState()
    for (const e of [page('Pricing'), page('Home'), page('Plans'), track('Pricing', {}, NOW)])
      foldEvent(s, e, d, NOW)
    const t = materialize(s, d, NOW)
    assert.equal(t.pricing_views, 1)
    assert.equal(t.pricing_visits, 2)
  })

  test('sum, min and max skip empty, blank, null and boolean values; numeric strings count', () => {
    const s = fold([
      track('Order Completed', { revenue: '' }, NOW - 5000),
      track('Order Completed', { revenue: '   ' }, NOW - 4000),
      track('Order Completed', { revenue: null }, NOW - 3000),
      track('Order Completed', { revenue: true }, NOW - 2000),
      track('Order Completed', { revenue: ' 12 ' }, NOW - 1000),
      track('Order Completed', { revenue: 7 }, NOW),
    ])
    const t = materialize(s, defs, NOW)
    assert.equal(t.min_order, 7)
    assert.equal(t.max_order, 12)
    assert.equal(t.revenue_30d, 19)
    assert.equal(t.orders_30d, 6, 'every order counts, summable or not')
  })

  test('two amounts in the same bucket add up', () => {
    const T = Math.floor(NOW / HOUR) * HOUR
    const s = fold([
      track('Order Completed', { revenue: 10 }, T),
      track('Order Completed', { revenue: 5 }, T + 1000),
      track('Order Completed', { revenue: 2 }, T + 2000),
    ])
    assert.equal(materialize(s, defs, NOW).revenue_30d, 17)
  })

  test('a late amount exactly 30 days old is refused by sum, one 1 ms younger is summed', () => {
    const T = Math.floor(NOW / HOUR) * HOUR
    const now = T + 40 * DAY
    const s = fold(
      [
        track('Order Completed', { revenue: 7 }, now - 30 * DAY + 1),
        track('Order Completed', { revenue: 100 }, now - 30 * DAY),
      ],
      now,
    )
    assert.equal(materialize(s, defs, now).revenue_30d, 7)
  })

  test('location takes a location alone, a timezone alone, and ignores a non-object location', () => {
    const d = defsOf([{ name: 'location', type: 'location' }])
    const at = (context: InkEvent['context']) => {
      const s = emptyState()
      foldEvent(s, track('x', {}, NOW, context === undefined ? {} : { context }), d, NOW)
      return materialize(s, d, NOW).location
    }
    assert.deepEqual(at({ location: { city: 'Lyon' } }), { city: 'Lyon' })
    assert.deepEqual(at({ timezone: 'Europe/Paris' }), { timezone: 'Europe/Paris' })
    assert.deepEqual(at({ location: 'Lyon', timezone: 'Europe/Paris' }), { timezone: 'Europe/Paris' })
    assert.equal(at({ location: 'Lyon' }), null)
    assert.equal(at({ timezone: 3600 }), null)
    assert.equal(at(undefined), null)
  })

  test('location keeps the newest: an event without one does not clear it, a late one does not replace it', () => {
    const d = defsOf([{ name: 'location', type: 'location' }])
    const s = emptyState()
    const ctx = (city: string) => ({ context: { location: { city } } })
    foldEvent(s, track('x', {}, NOW - 5000, ctx('Lyon')), d, NOW)
    foldEvent(s, track('x', {}, NOW - 4000, ctx('Paris')), d, NOW)
    assert.deepEqual(materialize(s, d, NOW).location, { city: 'Paris' }, 'a newer one replaces it')
    foldEvent(s, track('x', {}, NOW - 3000), d, NOW)
    assert.deepEqual(materialize(s, d, NOW).location, { city: 'Paris' }, 'no location: kept')
    foldEvent(s, track('x', {}, NOW - 9000, ctx('Nice')), d, NOW)
    assert.deepEqual(materialize(s, d, NOW).location, { city: 'Paris' }, 'a late one: kept')
    foldEvent(s, track('x', {}, NOW - 4000, ctx('Lille')), d, NOW)
    assert.deepEqual(materialize(s, d, NOW).location, { city: 'Lille' }, 'a tie: the later arrival wins')
  })

  test('on a tie in event time, last takes the later arrival and first keeps the earlier one', () => {
    const s = fold([
      track('Product Viewed', { product_id: 'a' }, NOW - 1000),
      track('Product Viewed', { product_id: 'b' }, NOW - 1000),
      track('Order Completed', { order_id: 'o1' }, NOW - 1000),
      track('Order Completed', { order_id: 'o2' }, NOW - 1000),
    ])
    const t = materialize(s, defs, NOW)
    assert.deepEqual(t.last_product, { product_id: 'b' })
    assert.equal(t.first_order, 'o1')
  })

  test('lastN: uniqueBy drops an older duplicate inside the top n; without uniqueBy duplicates stay, cut at n', () => {
    const d = defsOf([
      { name: 'unique', type: 'lastN', event: 'V', n: 3, uniqueBy: 'id', pick: ['id'] },
      { name: 'plain', type: 'lastN', event: 'V', n: 2, property: 'id' },
    ])
    const s = emptyState()
    for (const [i, id] of ['a', 'b', 'a'].entries()) foldEvent(s, track('V', { id }, NOW - 1000 + i), d, NOW)
    foldEvent(s, track('V', { other: 1 }, NOW), d.slice(1), NOW)
    const t = materialize(s, d, NOW)
    assert.deepEqual(t.unique, [{ id: 'a' }, { id: 'b' }])
    assert.deepEqual(t.plain, ['a', 'b'], 'newest two; the event without an id is not kept')
  })

  test('lastN: uniqueBy on a picked nested path keys by that path, not by the whole picked object', () => {
    const d = defsOf([
      { name: 'seen', type: 'lastN', event: 'V', n: 3, uniqueBy: 'product.id', pick: ['product.id', 'name'] },
    ])
    const s = emptyState()
    for (const [i, [id, name]] of [
      ['p1', 'Kettle'],
      ['p2', 'Mug'],
      ['p1', 'Kettle, red'],
    ].entries())
      foldEvent(s, track('V', { product: { id }, name }, NOW - 1000 + i), d, NOW)
    assert.deepEqual(materialize(s, d, NOW).seen, [
      { 'product.id': 'p1', name: 'Kettle, red' },
      { 'product.id': 'p2', name: 'Mug' },
    ])
  })

  test('lastN: uniqueBy is a path inside the kept value when nothing is picked, and a null value keys as null', () => {
    const d = defsOf([
      { name: 'whole', type: 'lastN', event: 'V', n: 3, uniqueBy: 'product.id' },
      { name: 'products', type: 'lastN', event: 'V', n: 3, property: 'product', uniqueBy: 'id' },
    ])
    const s = emptyState()
    const products = [{ id: 'p1' }, null, { id: 'p2' }, { id: 'p1', red: true }]
    for (const [i, product] of products.entries())
      foldEvent(s, track('V', { product }, NOW - 1000 + i), d, NOW)
    const t = materialize(s, d, NOW)
    assert.deepEqual(t.whole, [
      { product: { id: 'p1', red: true } },
      { product: { id: 'p2' } },
      { product: null },
    ])
    assert.deepEqual(t.products, [{ id: 'p1', red: true }, { id: 'p2' }, null])
  })

  test('a lastN whose uniqueBy is not picked is refused: it would keep only one item', () => {
    assert.throws(
      () =>
        defsOf([{ name: 'seen', type: 'lastN', event: 'V', n: 5, uniqueBy: 'product_id', pick: ['name'] }]),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INK_ERR_INVALID_CONFIG')
        assert.match(
          err.message,
          /traits\.0\.uniqueBy: "product_id" is not picked: add it to pick \(name\), or uniqueBy would keep only one item/,
        )
        return true
      },
    )
  })

  test('only identify traits are copied: a group call carries the group traits', () => {
    const s = fold([
      { ...track('x', {}, NOW - 2000), type: 'identify', traits: { firstName: 'Ann' } },
      {
        ...track('x', {}, NOW - 1000),
        type: 'group',
        groupId: 'g1',
        traits: { firstName: 'Acme', plan: 'pro' },
      },
    ])
    assert.deepEqual(s.traits, { firstName: 'Ann' })
    const t = materialize(s, defs, NOW)
    assert.equal(t.firstName, 'Ann', 'identify traits are part of the materialized traits')
    assert.equal(t.first_name, 'Ann')
    assert.equal(t.plan, undefined)
  })

  test('firstSeenAt is the earliest event time and lastSeenAt the latest, whatever the arrival order', () => {
    const s = fold([
      track('x', {}, NOW - 1000),
      track('x', {}, NOW - 5000),
      track('x', {}, NOW),
      track('x', {}, NOW - 3000),
    ])
    assert.equal(s.firstSeenAt, NOW - 5000)
    assert.equal(s.lastSeenAt, NOW)
  })

  test('the folded state holds entries only for traits that took a value', () => {
    const d = defsOf([
      { name: 'first_name', type: 'trait', trait: 'firstName' },
      { name: 'orders', type: 'count', event: 'Order Completed' },
      { name: 'location', type: 'location' },
    ])
    const s = emptyState()
    foldEvent(s, track('Product Viewed', {}, NOW, { context: { location: { city: 'Lyon' } } }), d, NOW)
    assert.deepEqual(s.computed, { location: { v: { city: 'Lyon' }, t: NOW } })
  })

  test('an empty profile materializes to null, 0 and [] for every kind', () => {
    assert.deepEqual(materialize(emptyState(), defs, NOW), {
      first_name: null,
      last_product: null,
      first_order: null,
      recent: [],
      orders_30d: 0,
      revenue_30d: 0,
      min_order: null,
      max_order: null,
      pages: 0,
      location: null,
    })
  })
})

describe('merging profiles, case by case', () => {
  const at = (...times: number[]) => fold(times.map((time) => track('x', {}, time)))
  const seen = (s: ReturnType<typeof fold>) => [s.firstSeenAt, s.lastSeenAt]

  test('first and last seen: the earliest first and the latest last, an empty side changes nothing', () => {
    assert.deepEqual(seen(mergeStates(at(NOW - 1000), at(NOW - 5000), defs, NOW)), [NOW - 5000, NOW - 1000])
    assert.deepEqual(seen(mergeStates(at(NOW - 5000), at(NOW - 4000, NOW - 1000), defs, NOW)), [
      NOW - 5000,
      NOW - 1000,
    ])
    assert.deepEqual(seen(mergeStates(emptyState(), at(NOW - 5000), defs, NOW)), [NOW - 5000, NOW - 5000])
    assert.deepEqual(seen(mergeStates(at(NOW - 1000), emptyState(), defs, NOW)), [NOW - 1000, NOW - 1000])
  })

  test('identify traits of both sides are kept; the known profile wins a conflict', () => {
    const known = fold([{ ...track('x', {}, NOW), type: 'identify', traits: { firstName: 'Ann' } }])
    const anon = fold([
      { ...track('x', {}, NOW), type: 'identify', traits: { firstName: 'A.', plan: 'pro' } },
    ])
    assert.deepEqual(mergeStates(known, anon, defs, NOW).traits, { firstName: 'Ann', plan: 'pro' })
  })

  test('on a tie in event time the known profile keeps its last and first values', () => {
    const known = fold([
      track('Product Viewed', { product_id: 'known' }, NOW - 1000),
      track('Order Completed', { order_id: 'known' }, NOW - 1000),
    ])
    const anon = fold([
      track('Product Viewed', { product_id: 'anon' }, NOW - 1000),
      track('Order Completed', { order_id: 'anon' }, NOW - 1000),
    ])
    const t = materialize(mergeStates(known, anon, defs, NOW), defs, NOW)
    assert.deepEqual(t.last_product, { product_id: 'known' })
    assert.equal(t.first_order, 'known')
  })

  test('a state of another shape under the same name (the trait changed type in the config) does not break a merge', () => {
    const d = defsOf([
      { name: 'orders', type: 'count', event: 'Order Completed' },
      { name: 'recent', type: 'lastN', event: 'Product Viewed', n: 3, property: 'product_id' },
    ])
    const known = emptyState()
    foldEvent(known, track('Order Completed', {}, NOW - 1000), d, NOW)
    foldEvent(known, track('Product Viewed', { product_id: 'p1' }, NOW - 1000), d, NOW)
    const anon = emptyState()
    // Folded when both names were `last` traits.
    anon.computed = { orders: { v: 'o1', t: NOW - 2000 }, recent: { v: 'old', t: NOW - 2000 } }
    const t = materialize(mergeStates(known, anon, d, NOW), d, NOW)
    assert.equal(t.orders, 1)
    assert.deepEqual(t.recent, ['p1'])
  })
})
