/**
 * The demo's simulated shoppers: visits made of page views, product views, cart adds, checkouts and
 * orders, sent one event at a time through the collector (`/v1/page`, `/v1/identify`, `/v1/track`
 * with the write key) at a steady rate. New visitors sign up (the welcome trigger); some leave a
 * cart behind (the abandoned-cart trigger); returning shoppers come back and buy.
 */
import { PRODUCTS } from './demo-catalog.ts'
import { type DemoClient, SEEDED_SHOPPERS, shopper } from './demo-setup.ts'

export interface CollectorCall {
  path: '/v1/page' | '/v1/identify' | '/v1/track'
  body: Record<string, unknown>
}

/** The chance that a visit goes on to the next step of the funnel. */
export const FUNNEL = { add: 0.6, checkout: 0.65, order: 0.6 }

/** The events of one visit by shopper `n`, in order. A new visitor signs up on the way. */
export function visit(n: number, isNew: boolean, random: () => number): CollectorCall[] {
  const s = shopper(n)
  const calls: CollectorCall[] = []
  const track = (event: string, properties: Record<string, unknown>) =>
    calls.push({ path: '/v1/track', body: { userId: s.userId, event, properties } })
  calls.push({ path: '/v1/page', body: { userId: s.userId, name: 'Home', properties: { path: '/' } } })
  if (isNew) {
    calls.push({
      path: '/v1/identify',
      body: { userId: s.userId, traits: { email: s.email, firstName: s.firstName } },
    })
    track('Signed Up', { method: 'email' })
  }
  const viewed = 1 + Math.floor(random() * 3)
  let product = PRODUCTS[0]!
  for (let i = 0; i < viewed; i++) {
    product = PRODUCTS[Math.floor(random() * PRODUCTS.length)]!
    calls.push({
      path: '/v1/page',
      body: { userId: s.userId, name: product.category, properties: { path: `/c/${product.category}` } },
    })
    track('Product Viewed', { ...product })
  }
  if (random() >= FUNNEL.add) return calls
  track('Product Added', { ...product, quantity: 1 })
  if (random() >= FUNNEL.checkout) return calls
  track('Checkout Started', { revenue: product.price, products: [product] })
  if (random() >= FUNNEL.order) return calls
  track('Order Completed', {
    order_id: `o-${n}-${Math.floor(random() * 1e9).toString(36)}`,
    revenue: product.price,
    products: [product],
  })
  return calls
}

export interface ShopperCounts {
  acknowledged: number
  refused: number
  visits: number
  orders: number
}

export interface ShoppersOptions {
  client: DemoClient
  /** Events per second. */
  rate: number
  random?: () => number
  /** Visits in progress at once (default 6). */
  concurrentVisits?: number
  /** Told about a refused or failed call (the stream goes on). */
  onError?: (err: Error) => void
}

/** Sends visits at `rate` events per second until stopped. */
export class Shoppers {
  readonly counts: ShopperCounts = { acknowledged: 0, refused: 0, visits: 0, orders: 0 }
  readonly #opts: ShoppersOptions
  readonly #random: () => number
  readonly #visits: CollectorCall[][] = []
  readonly #inFlight = new Set<Promise<void>>()
  #next = SEEDED_SHOPPERS + 1
  #timer: NodeJS.Timeout | undefined

  constructor(opts: ShoppersOptions) {
    this.#opts = opts
    this.#random = opts.random ?? Math.random
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), 1000 / this.#opts.rate)
  }

  /** Stops sending; resolves when the calls in flight are answered. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await Promise.allSettled([...this.#inFlight])
  }

  /** Shopper `userId` places an order (after clicking an email: a conversion). */
  order(userId: string): void {
    const product = PRODUCTS[Math.floor(this.#random() * PRODUCTS.length)]!
    this.#send({
      path: '/v1/track',
      body: {
        userId,
        event: 'Order Completed',
        properties: {
          order_id: `o-${userId}-${Date.now().toString(36)}`,
          revenue: product.price,
          products: [product],
        },
      },
    })
  }

  #tick(): void {
    // Calls pile up only if the server stops answering; then the stream waits rather than grows.
    if (this.#inFlight.size >= 50) return
    if (this.#visits.length < (this.#opts.concurrentVisits ?? 6)) {
      // A third of visits are returning shoppers (seeded or signed up earlier), the rest new.
      const returning = this.#random() < 0.35
      const n = returning ? 1 + Math.floor(this.#random() * (this.#next - 1)) : this.#next++
      this.#visits.push(visit(n, !returning, this.#random))
      this.counts.visits++
    }
    const i = Math.floor(this.#random() * this.#visits.length)
    const current = this.#visits[i]!
    const call = current.shift()
    if (current.length === 0) this.#visits.splice(i, 1)
    if (call) this.#send(call)
  }

  #send(call: CollectorCall): void {
    const p = this.#opts.client.collect(call.path, call.body).then(
      () => {
        this.counts.acknowledged++
        if (call.body.event === 'Order Completed') this.counts.orders++
      },
      (err: Error) => {
        this.counts.refused++
        this.#opts.onError?.(err)
      },
    )
    this.#inFlight.add(p)
    void p.finally(() => this.#inFlight.delete(p))
  }
}
