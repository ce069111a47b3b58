/**
 * Replays and identity end to end over real sockets: the same messageIds sent again (as a
 * batch, then one by one) are deduplicated by the processor, and an identify that ties an
 * anonymousId to a userId brings the anonymous history into the known profile.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { readMetric } from '../helpers/server-process.ts'

const DUPLICATE = 'inkstream_pipeline_events_total{outcome="duplicate"}'
const APPLIED = 'inkstream_pipeline_events_total{outcome="applied"}'

let app: TestApp

before(async () => {
  app = await startTestApp()
})

after(async () => {
  await app.close()
})

async function send(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basicAuth(app.workspace.writeKey) },
    body: JSON.stringify(body),
  })
  const json = (await res.json()) as Record<string, unknown>
  assert.equal(res.status, 200, `POST ${path}: ${JSON.stringify(json)}`)
  return json
}

interface Profile {
  profileId: string
  userId: string | null
  identities: { userIds: string[]; anonymousIds: string[] }
  traits: Record<string, unknown>
}

async function profile(id: string): Promise<Profile> {
  const res = await fetch(`${app.url}/v1/profiles/${encodeURIComponent(id)}`, {
    headers: { authorization: `Bearer ${app.workspace.adminKey}` },
  })
  const json = await res.json()
  assert.equal(res.status, 200, `GET /v1/profiles/${id}: ${JSON.stringify(json)}`)
  return json as Profile
}

const pick = (traits: Record<string, unknown>, ...names: string[]) =>
  Object.fromEntries(names.map((n) => [n, traits[n]]))

test('replaying the same batch leaves count and sum traits unchanged', async () => {
  const orders = [
    { userId: 'replay-a', revenue: 30 },
    { userId: 'replay-a', revenue: 12 },
    { userId: 'replay-b', revenue: 7 },
    { userId: 'replay-a', revenue: 1 },
    { userId: 'replay-b', revenue: 100 },
  ].map((o, i) => ({
    type: 'track',
    event: 'Order Completed',
    messageId: `replay-${i}`,
    userId: o.userId,
    properties: { order_id: `order-${i}`, revenue: o.revenue },
  }))
  const duplicatesBefore = await readMetric(app.url, DUPLICATE)
  const appliedBefore = await readMetric(app.url, APPLIED)

  // The second copy is sent before the first is processed (dedupe within one processor batch
  // or across two, depending on timing); the single calls come after (dedupe against the store).
  assert.deepEqual(await send('/v1/batch', { batch: orders }), { success: true, accepted: 5, rejected: [] })
  assert.deepEqual(await send('/v1/batch', { batch: orders }), { success: true, accepted: 5, rejected: [] })
  await waitForProcessed(app)
  for (const { type: _type, ...event } of orders) await send('/v1/track', event)
  await waitForProcessed(app)

  const a = await profile('replay-a')
  const b = await profile('replay-b')
  const totals = ['orders_total', 'revenue_total', 'orders_30d', 'revenue_30d', 'largest_order_30d']
  assert.deepEqual(pick(a.traits, ...totals), {
    orders_total: 3,
    revenue_total: 43,
    orders_30d: 3,
    revenue_30d: 43,
    largest_order_30d: 30,
  })
  assert.deepEqual(pick(b.traits, ...totals), {
    orders_total: 2,
    revenue_total: 107,
    orders_30d: 2,
    revenue_30d: 107,
    largest_order_30d: 100,
  })
  assert.equal(a.traits.first_order_id, 'order-0')
  assert.equal((await readMetric(app.url, APPLIED)) - appliedBefore, orders.length, 'each event applied once')
  assert.equal(
    (await readMetric(app.url, DUPLICATE)) - duplicatesBefore,
    orders.length * 2,
    'the batch replay and the single replays are all counted as duplicates',
  )
})

test('an identify after anonymous activity gives the new user the anonymous history', async () => {
  await send('/v1/track', {
    anonymousId: 'anon-new',
    messageId: 'anon-new-view',
    event: 'Product Viewed',
    properties: { product_id: 'p-1', name: 'Blue mug', price: 12 },
  })
  await waitForProcessed(app)
  const anonymous = await profile('anon-new')
  assert.equal(anonymous.userId, null)

  await send('/v1/identify', {
    anonymousId: 'anon-new',
    userId: 'user-new',
    messageId: 'anon-new-identify',
    traits: { email: 'new@example.com', firstName: 'Nia' },
  })
  await waitForProcessed(app)

  const known = await profile('user-new')
  assert.equal(known.profileId, anonymous.profileId, 'the anonymous profile became the known one')
  assert.equal((await profile('anon-new')).profileId, known.profileId, 'the anonymousId still finds it')
  assert.deepEqual(known.identities, { userIds: ['user-new'], anonymousIds: ['anon-new'] })
  assert.deepEqual(pick(known.traits, 'email', 'first_name', 'products_viewed_7d'), {
    email: 'new@example.com',
    first_name: 'Nia',
    products_viewed_7d: 1,
  })
  assert.deepEqual(known.traits.last_viewed_product, { product_id: 'p-1', name: 'Blue mug', price: 12 })
})

test('an identify that ties an anonymousId to an existing user merges the anonymous profile into it', async () => {
  await send('/v1/track', {
    userId: 'user-old',
    messageId: 'user-old-order',
    event: 'Order Completed',
    properties: { order_id: 'o-old', revenue: 50 },
  })
  await send('/v1/track', {
    anonymousId: 'anon-old',
    messageId: 'anon-old-view',
    event: 'Product Viewed',
    properties: { product_id: 'p-2', name: 'Red mug', price: 14 },
  })
  await waitForProcessed(app)
  const before = { known: await profile('user-old'), anonymous: await profile('anon-old') }
  assert.notEqual(before.known.profileId, before.anonymous.profileId)

  await send('/v1/identify', { anonymousId: 'anon-old', userId: 'user-old', messageId: 'anon-old-identify' })
  await waitForProcessed(app)

  const merged = await profile('user-old')
  assert.equal(merged.profileId, before.known.profileId, 'the known profile survives the merge')
  assert.equal(
    (await profile('anon-old')).profileId,
    merged.profileId,
    'the anonymousId now finds the known profile',
  )
  const gone = await fetch(`${app.url}/v1/profiles/${before.anonymous.profileId}?by=profileId`, {
    headers: { authorization: `Bearer ${app.workspace.adminKey}` },
  })
  assert.equal(gone.status, 404, 'the anonymous profile was merged away')
  assert.deepEqual(merged.identities, { userIds: ['user-old'], anonymousIds: ['anon-old'] })
  assert.deepEqual(pick(merged.traits, 'orders_total', 'revenue_total', 'products_viewed_7d'), {
    orders_total: 1,
    revenue_total: 50,
    products_viewed_7d: 1,
  })
  assert.deepEqual(merged.traits.last_viewed_product, { product_id: 'p-2', name: 'Red mug', price: 14 })
})

test('anonymous events and the identify in one batch end up in one profile', async () => {
  await send('/v1/batch', {
    batch: [
      {
        type: 'track',
        anonymousId: 'anon-batch',
        messageId: 'anon-batch-view',
        event: 'Product Viewed',
        properties: { product_id: 'p-3' },
      },
      { type: 'identify', anonymousId: 'anon-batch', userId: 'user-batch', messageId: 'anon-batch-identify' },
      {
        type: 'track',
        userId: 'user-batch',
        messageId: 'anon-batch-order',
        event: 'Order Completed',
        properties: { revenue: 9 },
      },
    ],
  })
  await waitForProcessed(app)
  const byUser = await profile('user-batch')
  assert.equal((await profile('anon-batch')).profileId, byUser.profileId)
  assert.deepEqual(pick(byUser.traits, 'products_viewed_7d', 'orders_total', 'revenue_total'), {
    products_viewed_7d: 1,
    orders_total: 1,
    revenue_total: 9,
  })
})
