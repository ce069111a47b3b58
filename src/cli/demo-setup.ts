/**
 * The demo's HTTP client and its set-up: everything goes through the server's public API (the admin
 * API with the admin key, the collector with the write key), as a real integration would.
 */
import { CAMPAIGN, FROM, PRODUCT_BLOCK, PRODUCTS, SEGMENTS, TRIGGERS, templates } from './demo-catalog.ts'

export class DemoClient {
  readonly #admin: string
  readonly #writer: string
  constructor(
    readonly baseUrl: string,
    keys: { adminKey: string; writeKey: string },
  ) {
    this.#admin = `Bearer ${keys.adminKey}`
    this.#writer = `Basic ${Buffer.from(`${keys.writeKey}:`).toString('base64')}`
  }

  async #call(method: string, path: string, body: unknown, auth: string): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await res.text()
    if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text}`)
    return text === '' ? undefined : JSON.parse(text)
  }

  /** An admin API call; throws on a non-2xx answer. */
  admin(method: string, path: string, body?: unknown): Promise<unknown> {
    return this.#call(method, path, body, this.#admin)
  }

  /** A collector call (`/v1/track`, `/v1/batch`, …) with the write key; throws unless acknowledged. */
  collect(path: string, body: unknown): Promise<unknown> {
    return this.#call('POST', path, body, this.#writer)
  }

  /** Resolves once the processor has folded every event in the log (GET /healthz: consumerLag 0). */
  async settled(timeoutMs = 20_000): Promise<void> {
    for (const end = Date.now() + timeoutMs; ; await sleep(50)) {
      const health = (await (await fetch(`${this.baseUrl}/healthz`)).json()) as { consumerLag: number }
      if (health.consumerLag === 0) return
      if (Date.now() > end) throw new Error(`the processor is still ${health.consumerLag} events behind`)
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken', 'Margaret', 'Linus', 'Radia', 'Tim']

/** The name and address of demo shopper `n` (shopper ids repeat across runs: a returning shopper). */
export function shopper(n: number): { userId: string; email: string; firstName: string } {
  const firstName = FIRST_NAMES[n % FIRST_NAMES.length]!
  const userId = `${firstName.toLowerCase()}-${n}`
  return { userId, email: `${userId}@example.com`, firstName }
}

/** How many shoppers the set-up creates with an order history (the campaign's audience). */
export const SEEDED_SHOPPERS = 24

/**
 * Installs the block, templates, segments and triggers (PUT: a re-run changes nothing that is
 * unchanged), seeds the first shoppers, and starts the weekly-picks campaign to the buyers among
 * them (once per data folder: a started campaign is frozen).
 */
export async function installDemo(
  client: DemoClient,
  recsUrl: string,
): Promise<{ campaignStarted: boolean }> {
  await client.admin('PUT', `/v1/blocks/${PRODUCT_BLOCK.name}`, { source: PRODUCT_BLOCK.source })
  for (const t of templates(recsUrl)) await client.admin('PUT', `/v1/templates/${t.id}`, t.body)

  const batch: unknown[] = []
  for (let n = 1; n <= SEEDED_SHOPPERS; n++) {
    const s = shopper(n)
    const p = PRODUCTS[n % PRODUCTS.length]!
    batch.push(
      { type: 'identify', userId: s.userId, traits: { email: s.email, firstName: s.firstName } },
      { type: 'page', userId: s.userId, name: 'Home' },
      { type: 'track', userId: s.userId, event: 'Product Viewed', properties: p },
    )
    if (n % 3 !== 0)
      batch.push({
        type: 'track',
        userId: s.userId,
        event: 'Order Completed',
        properties: { order_id: `seed-${n}`, revenue: p.price, products: [p] },
      })
  }
  await client.collect('/v1/batch', { batch })
  await client.settled()

  for (const s of SEGMENTS) await client.admin('PUT', `/v1/segments/${s.id}`, s.body)
  // The campaign reads the buyers' memberships: wait for the backfill of the profiles seeded above.
  for (const end = Date.now() + 20_000; ; await sleep(50)) {
    const seg = (await client.admin('GET', `/v1/segments/${CAMPAIGN.body.audience.segment}`)) as {
      backfilled: boolean
    }
    if (seg.backfilled) break
    if (Date.now() > end) throw new Error('the buyers segment was not backfilled within 20 s')
  }
  for (const t of TRIGGERS) await client.admin('PUT', `/v1/triggers/${t.id}`, t.body)

  const existing = (await client.admin('GET', '/v1/campaigns')) as { campaigns?: { id: string }[] }
  if (existing.campaigns?.some((c) => c.id === CAMPAIGN.id)) return { campaignStarted: false }
  await client.admin('PUT', `/v1/campaigns/${CAMPAIGN.id}`, { ...CAMPAIGN.body, from: FROM })
  await client.admin('POST', `/v1/campaigns/${CAMPAIGN.id}/start`)
  return { campaignStarted: true }
}
