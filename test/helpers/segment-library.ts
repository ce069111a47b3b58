/**
 * What every test of a Segment server library (Python, Ruby, Go, .NET, Java) checks once the
 * library has sent its events (identify, group, page, and tracks: a product view and one or two
 * orders): the one route and status it used, every event accepted, the library's own messageIds
 * and context kept in the log, and the traits those events make in the profile.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { LOG_FILE } from '../../src/app.ts'
import { type TestApp, waitForProcessed } from './app.ts'

/** The collector's requests by route and status, from GET /metrics: { "/v1/batch 200": 1 }. */
export async function requestsByRoute(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const counts: Record<string, number> = {}
  for (const m of text.matchAll(
    /^inkstream_ingest_requests_total\{route="([^"]*)",status="(\d+)"\} (\d+)$/gm,
  ))
    counts[`${m[1]} ${m[2]}`] = Number(m[3])
  return counts
}

interface StoredEvent {
  messageId: string
  type: string
  context?: { library?: { name?: string; version?: string } }
}

/** The events of `userId` as the log stored them. */
export function storedEvents(app: TestApp, userId: string): StoredEvent[] {
  const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true })
  try {
    return db
      .prepare("SELECT payload FROM log_events WHERE json_extract(payload, '$.userId') = ?")
      .pluck()
      .all(userId)
      .map((p) => JSON.parse(p as string) as StoredEvent)
  } finally {
    db.close()
  }
}

export interface LibraryRun {
  userId: string
  /** The messageIds the library reported, one per event. */
  sentIds: string[]
  /** The one `route status` every request of the library got, e.g. "/v1/import 200". */
  route: string
  /** What each stored event's context.library must be. */
  library: { name: string; version: string }
  /** The driver's inputs: the identify's first name, the product viewed, the two orders' totals. */
  firstName: string
  product: { product_id: string; name: string; price: number }
  orders: [number, number] | [number]
}

export async function assertLibraryDelivered(app: TestApp, run: LibraryRun): Promise<void> {
  const { userId } = run
  // identify, group, page, the product view and each order.
  const types = ['group', 'identify', 'page', 'track', ...run.orders.map(() => 'track')]
  await waitForProcessed(app)
  assert.deepEqual(Object.keys(await requestsByRoute(app.url)), [run.route])
  const text = await (await fetch(`${app.url}/metrics`)).text()
  const accepted = /^inkstream_ingest_events_total\{outcome="accepted"\} (\d+)$/m.exec(text)?.[1]
  assert.equal(accepted, String(types.length), 'every event accepted')

  const stored = storedEvents(app, userId)
  assert.deepEqual(
    stored.map((e) => e.messageId).sort(),
    [...run.sentIds].sort(),
    'the library messageIds are kept',
  )
  assert.deepEqual(stored.map((e) => e.type).sort(), types)
  assert.deepEqual(
    stored.map((e) => e.context?.library),
    Array(types.length).fill(run.library),
    "each event's context names the library",
  )

  const res = await fetch(`${app.url}/v1/profiles/${userId}`, {
    headers: { authorization: `Bearer ${app.workspace.adminKey}` },
  })
  const { traits } = (await res.json()) as { traits: Record<string, unknown> }
  const revenue = run.orders.reduce((a, b) => a + b, 0)
  assert.deepEqual(traits, {
    email: `${userId}@example.com`,
    firstName: run.firstName,
    plan: 'pro',
    first_name: run.firstName,
    last_name: null,
    last_viewed_product: run.product,
    recent_products: [run.product],
    last_cart_product: null,
    first_order_id: `${userId}-0`,
    orders_30d: run.orders.length,
    revenue_30d: revenue,
    largest_order_30d: Math.max(...run.orders),
    orders_total: run.orders.length,
    revenue_total: revenue,
    products_viewed_7d: 1,
    carts_7d: 0,
    pages_viewed_7d: 1,
    location: null,
    email_opens_30d: 0,
    email_clicks_30d: 0,
    last_email_clicked: null,
  })
}
