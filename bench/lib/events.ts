/**
 * Realistic Segment track events (~300 bytes, e-commerce names the default traits use) and a
 * pool of request bodies in which every event gets a unique messageId. Bodies are built from a
 * few templates by writing a sequence number into fixed-width slots, so the load generator does
 * not spend its (shared) CPU on JSON.stringify per request.
 */
const SEQ_WIDTH = 12
const SLOT = '#'.repeat(SEQ_WIDTH)
const USERS = 20_000
const EVENTS_PER_POOL = 6_400
const PRODUCTS = [
  'Trail Running Shoe',
  'Merino Wool Socks',
  'Rain Shell Jacket',
  'Insulated Bottle',
  'Day Pack 24L',
]
const CATEGORIES = ['Footwear', 'Apparel', 'Outerwear', 'Accessories', 'Bags']

/** A small deterministic PRNG (mulberry32), so every run sends the same events. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** One track event; `messageId` is where the unique id goes. 70% views, 20% cart adds, 10% orders. */
function trackEvent(rand: () => number, messageId: string, timestamp: string): Record<string, unknown> {
  const user = Math.floor(rand() * USERS)
  const p = Math.floor(rand() * PRODUCTS.length)
  const sku = `sku-${String(1000 + Math.floor(rand() * 9000))}`
  const price = Math.round((10 + rand() * 190) * 100) / 100
  const roll = rand()
  const common = {
    type: 'track',
    messageId,
    userId: `user-${String(user).padStart(6, '0')}`,
    anonymousId: `anon-${(Math.imul(user, 2654435761) >>> 0).toString(16).padStart(8, '0')}`,
    timestamp,
  }
  const context = { library: { name: 'analytics-node', version: '3.1.0' } }
  if (roll < 0.7) {
    const properties = { product_id: sku, name: PRODUCTS[p], price, category: CATEGORIES[p] }
    return { ...common, event: 'Product Viewed', properties, context }
  }
  if (roll < 0.9) {
    const properties = { product_id: sku, name: PRODUCTS[p], price, quantity: 1 + Math.floor(rand() * 3) }
    return { ...common, event: 'Product Added', properties, context }
  }
  const order = `ord-${Math.floor(rand() * 1e9)}`
  return {
    ...common,
    event: 'Order Completed',
    properties: { order_id: order, revenue: price, currency: 'USD' },
    context,
  }
}

export class BodyPool {
  readonly #templates: { buf: Buffer; slots: number[] }[]
  readonly eventsPerBody: number
  /** Average bytes per event (the batch envelope is counted in). */
  readonly bytesPerEvent: number
  #seq = 0
  #next = 0

  /** `eventsPerBody` undefined: single-event bodies for /v1/track; a number: /v1/batch bodies. */
  constructor(eventsPerBody: number | undefined, opts: { variants?: number; seed?: number } = {}) {
    const rand = prng(opts.seed ?? 42)
    const tag = Date.now().toString(36)
    const timestamp = new Date().toISOString()
    this.eventsPerBody = eventsPerBody ?? 1
    // Enough templates for 6,400 distinct events, so every benchmark reaches ~5,500 of the 20,000 users.
    const variants = opts.variants ?? Math.ceil(EVENTS_PER_POOL / this.eventsPerBody)
    this.#templates = Array.from({ length: variants }, () => {
      const events = Array.from({ length: this.eventsPerBody }, (_, i) =>
        trackEvent(rand, `bench-${tag}-${SLOT}-${String(i).padStart(3, '0')}`, timestamp),
      )
      const text = JSON.stringify(
        eventsPerBody === undefined ? events[0] : { batch: events, sentAt: timestamp },
      )
      const buf = Buffer.from(text)
      const slots: number[] = []
      for (let at = buf.indexOf(SLOT); at !== -1; at = buf.indexOf(SLOT, at + SEQ_WIDTH)) slots.push(at)
      return { buf, slots }
    })
    const bytes = this.#templates.reduce((sum, t) => sum + t.buf.length, 0)
    this.bytesPerEvent = Math.round(bytes / this.#templates.length / this.eventsPerBody)
  }

  /** A fresh body whose messageIds were never handed out before by this pool. */
  next(): Buffer {
    const t = this.#templates[this.#next++ % this.#templates.length]!
    const buf = Buffer.from(t.buf)
    const seq = String(this.#seq++).padStart(SEQ_WIDTH, '0')
    for (const at of t.slots) buf.write(seq, at, 'latin1')
    return buf
  }
}

export const basicAuth = (key: string): string => `Basic ${Buffer.from(`${key}:`).toString('base64')}`
