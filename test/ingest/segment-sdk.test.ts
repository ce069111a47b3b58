/**
 * The collector against real server-side SDKs over real sockets: Segment's @segment/analytics-node
 * (fetch, JSON, Basic auth, writeKey also in the body) and RudderStack's @rudderstack/rudder-sdk-node
 * (axios, gzip by default). The events must reach the log with the SDK's messageIds and show in
 * the profiles.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import Rudder from '@rudderstack/rudder-sdk-node'
import { Analytics } from '@segment/analytics-node'
import Database from 'better-sqlite3'
import { LOG_FILE } from '../../src/app.ts'
import { startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'

let app: TestApp

before(async () => {
  app = await startTestApp()
})

after(async () => {
  await app.close()
})

interface LoggedEvent {
  type: string
  messageId: string
  event?: string
  userId?: string
}

/** The events the log holds for a user, in log order (a second, read-only SQLite connection). */
function loggedEvents(userId: string): LoggedEvent[] {
  const db = new Database(join(app.dataDir, LOG_FILE), { readonly: true, fileMustExist: true })
  try {
    const rows = db
      .prepare("SELECT payload FROM log_events WHERE json_extract(payload, '$.userId') = ? ORDER BY offset")
      .pluck()
      .all(userId) as string[]
    return rows.map((p) => JSON.parse(p) as LoggedEvent)
  } finally {
    db.close()
  }
}

async function traitsOf(userId: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${app.url}/v1/profiles/${encodeURIComponent(userId)}`, {
    headers: { authorization: `Bearer ${app.workspace.adminKey}` },
  })
  const body = (await res.json()) as { traits: Record<string, unknown> }
  assert.equal(res.status, 200, `GET /v1/profiles/${userId}: ${JSON.stringify(body)}`)
  return body.traits
}

const pick = (traits: Record<string, unknown>, ...names: string[]) =>
  Object.fromEntries(names.map((n) => [n, traits[n]]))

const ORDERS = [25, 40, 15, 60, 10]

test('events sent with @segment/analytics-node reach the profiles with their messageIds', async () => {
  const userId = 'segment-user'
  const analytics = new Analytics({
    writeKey: app.workspace.writeKey,
    host: app.url,
    flushAt: 3,
    flushInterval: 60_000,
    maxRetries: 0,
  })
  const statuses: number[] = []
  const errors: unknown[] = []
  const messageIds: string[] = []
  analytics.on('http_response', (r) => statuses.push(r.status))
  analytics.on('error', (err) => errors.push(err))
  const delivered = (err?: unknown, ctx?: { event: { messageId?: string | undefined } }) => {
    if (err) errors.push(err)
    if (ctx?.event.messageId) messageIds.push(ctx.event.messageId)
  }

  analytics.identify(
    { userId, traits: { email: 'seg@example.com', firstName: 'Sam', lastName: 'Gent' } },
    delivered,
  )
  analytics.track(
    { userId, event: 'Product Viewed', properties: { product_id: 'p-9', name: 'Teapot', price: 30 } },
    delivered,
  )
  // Explicit timestamps a second apart: events created in the same millisecond are ordered only by
  // the per-batch clock-skew correction, which differs by each request's latency.
  const start = Date.now() - 60_000
  ORDERS.forEach((revenue, i) => {
    analytics.track(
      {
        userId,
        event: 'Order Completed',
        properties: { order_id: `seg-${i}`, revenue },
        timestamp: new Date(start + i * 1000),
      },
      delivered,
    )
  })
  await analytics.closeAndFlush({ timeout: 10_000 })

  assert.deepEqual(errors, [])
  assert.ok(statuses.length >= 2, `7 events with flushAt 3 go in several batches (got ${statuses.length})`)
  assert.ok(
    statuses.every((s) => s === 200),
    `every batch was accepted: ${statuses}`,
  )
  await waitForProcessed(app)

  const logged = loggedEvents(userId)
  assert.deepEqual(
    logged.map((e) => e.messageId).sort(),
    [...messageIds].sort(),
    'the SDK messageIds are kept',
  )
  assert.equal(messageIds.length, 7)
  assert.deepEqual(logged.map((e) => e.event ?? e.type).sort(), [
    'Order Completed',
    'Order Completed',
    'Order Completed',
    'Order Completed',
    'Order Completed',
    'Product Viewed',
    'identify',
  ])
  const traits = await traitsOf(userId)
  assert.deepEqual(
    pick(traits, 'email', 'first_name', 'last_name', 'orders_total', 'revenue_total', 'largest_order_30d'),
    {
      email: 'seg@example.com',
      first_name: 'Sam',
      last_name: 'Gent',
      orders_total: 5,
      revenue_total: 150,
      largest_order_30d: 60,
    },
  )
  assert.equal(traits.first_order_id, 'seg-0')
  assert.deepEqual(traits.last_viewed_product, { product_id: 'p-9', name: 'Teapot', price: 30 })
})

/** Sends identify + Product Viewed + ORDERS through a Rudder client and flushes; returns the errors it reported. */
async function sendWithRudder(userId: string, options: Rudder.constructorOptions): Promise<string[]> {
  const errors: string[] = []
  const describe = (err: unknown) => {
    const e = err as { message?: string; response?: { status?: number; data?: unknown } }
    return e.response ? `${e.response.status} ${JSON.stringify(e.response.data)}` : String(e.message ?? err)
  }
  const client = new Rudder(app.workspace.writeKey, {
    dataPlaneUrl: app.url,
    flushAt: 20,
    retryCount: 0,
    logLevel: 'none',
    // Without a handler a failed background flush is an unhandled rejection that ends the process.
    errorHandler: (err) => {
      errors.push(describe(err))
    },
    ...options,
  })
  client.identify({ userId, traits: { email: `${userId}@example.com`, firstName: 'Rudy' } })
  client.track({
    userId,
    event: 'Product Viewed',
    properties: { product_id: 'p-7', name: 'Kettle', price: 45 },
  })
  for (const [i, revenue] of ORDERS.entries()) {
    client.track({ userId, event: 'Order Completed', properties: { order_id: `${userId}-${i}`, revenue } })
  }
  // The first call flushed at once; flush() waits for it, then sends the rest and clears the timer.
  await client.flush()
  return errors
}

async function assertRudderEventsArrived(userId: string): Promise<void> {
  await waitForProcessed(app)
  const logged = loggedEvents(userId)
  assert.equal(logged.length, 7, 'identify, Product Viewed and 5 orders are in the log')
  assert.equal(new Set(logged.map((e) => e.messageId)).size, 7)
  const traits = await traitsOf(userId)
  assert.deepEqual(pick(traits, 'email', 'first_name', 'orders_total', 'revenue_total', 'first_order_id'), {
    email: `${userId}@example.com`,
    first_name: 'Rudy',
    orders_total: 5,
    revenue_total: 150,
    first_order_id: `${userId}-0`,
  })
  assert.deepEqual(traits.last_viewed_product, { product_id: 'p-7', name: 'Kettle', price: 45 })
}

test('events sent with @rudderstack/rudder-sdk-node without gzip reach the profiles', async () => {
  const errors = await sendWithRudder('rudder-plain', { gzip: false })
  assert.deepEqual(errors, [])
  await assertRudderEventsArrived('rudder-plain')
})

test('events sent with @rudderstack/rudder-sdk-node in its default gzip mode reach the profiles', async () => {
  const errors = await sendWithRudder('rudder-gzip', {})
  assert.deepEqual(errors, [])
  await assertRudderEventsArrived('rudder-gzip')
})
