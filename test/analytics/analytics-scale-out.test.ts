/**
 * Engagement analytics in scale-out mode (Kafka + PostgreSQL), with the roles split as in production:
 * the analytics consumer runs in the collector+processor process, the stats are read by the
 * api+sender process. A campaign goes out through a real SMTP server; opens, a click, an unsubscribe
 * and conversions come in over HTTP. Exact stats; a restarted processor and duplicate events change
 * nothing.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { test } from 'node:test'
import pg from 'pg'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { mimeParts, type ReceivedMessage, startSmtpServer } from '../delivery/smtp-test-server.ts'
import { tempDir } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { type ServerProcess, startServerProcess, testKey } from '../helpers/server-process.ts'
import { waitFor } from './analytics-helpers.ts'

const skip = (await kafkaMissing()) || (await pgSkip())
const HUMAN = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)'
const PROXY = 'Mozilla/5.0 (via ggpht.com GoogleImageProxy)'

const htmlOf = (m: ReceivedMessage) =>
  mimeParts(m.raw).find((p) => p.contentType.startsWith('text/html'))?.body ?? ''
const pixelOf = (m: ReceivedMessage) =>
  (/<img src="([^"]+)" width="1" height="1"/.exec(htmlOf(m))?.[1] ?? '').replaceAll('&amp;', '&')
const clickOf = (m: ReceivedMessage) =>
  (/<a href="([^"]+)"/.exec(htmlOf(m))?.[1] ?? '').replaceAll('&amp;', '&')
const unsubscribeOf = (m: ReceivedMessage) =>
  /<(https?:[^>]+)>/.exec(/^List-Unsubscribe:(.*(?:\r?\n[ \t].*)*)/im.exec(m.raw)?.[1] ?? '')?.[1] ?? ''

test('scale-out: the processor role folds engagement into PostgreSQL, the api role answers exact stats', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const database = await freshDatabase('ink_analytics')
  const smtp = await startSmtpServer()
  const writeKey = testKey('wk')
  const adminKey = testKey('ak')
  const dirs = [tempDir('inkstream-an-in-'), tempDir('inkstream-an-out-')]
  const env = {
    INKSTREAM_KAFKA_BROKERS: kafkaBrokers().join(','),
    INKSTREAM_KAFKA_TOPIC: KafkaEventLog.uniqueTopic('inkstream-analytics'),
    INKSTREAM_KAFKA_PARTITIONS: '2',
    INKSTREAM_DATABASE_URL: database.url,
    INKSTREAM_FROM: 'Shop <news@shop.example>',
    INKSTREAM_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
  }
  const servers: ServerProcess[] = []
  const db = new pg.Pool({ connectionString: database.url, max: 1 })
  t.after(async () => {
    for (const s of servers)
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL')
        await s.exited
      }
    await db.end()
    await smtp.close()
    await database.drop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const startIngest = async () => {
    const s = await startServerProcess({
      dataDir: dirs[0] as string,
      writeKey,
      adminKey,
      env,
      args: ['--role', 'collector,processor'],
    })
    servers.push(s)
    return s
  }
  let ingest = await startIngest()
  const api = await startServerProcess({
    dataDir: dirs[1] as string,
    writeKey,
    adminKey,
    env,
    args: ['--role', 'api,sender'],
  })
  servers.push(api)

  const call = async (base: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: path.startsWith('/v1/batch')
          ? `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`
          : `Bearer ${adminKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  }
  const batch = async (events: object[]) =>
    assert.equal((await call(ingest.url, 'POST', '/v1/batch', { batch: events })).status, 200)
  const stats = async () => (await call(api.url, 'GET', '/v1/campaigns/spring/stats')).body

  await batch([
    { type: 'identify', userId: 'ann', traits: { email: 'ann@example.com', firstName: 'Ann' } },
    { type: 'identify', userId: 'bob', traits: { email: 'bob@example.com' } },
    { type: 'identify', userId: 'cat', traits: { email: 'cat@example.com', firstName: 'Cat' } },
  ])
  const tpl = await call(api.url, 'PUT', '/v1/templates/promo', {
    subject: 'Spring',
    html: '<html><body><p>Hello {{ first_name | default: "there" }}</p><a href="https://shop.example/sale">Sale</a></body></html>',
  })
  assert.ok(tpl.status < 300, JSON.stringify(tpl.body))
  smtp.answer('cat@example.com', 'rcpt-550')
  // The profiles must be committed before the campaign reads their addresses.
  await waitFor(
    () => call(api.url, 'GET', '/v1/profiles/cat'),
    (r) => r.status === 200 && r.body.traits?.email === 'cat@example.com',
    30_000,
  )
  assert.equal(
    (
      await call(api.url, 'PUT', '/v1/campaigns/spring', {
        templateId: 'promo',
        audience: { userIds: ['ann', 'bob', 'cat'] },
      })
    ).status,
    201,
  )
  assert.equal((await call(api.url, 'POST', '/v1/campaigns/spring/start')).status, 202)
  const messages = await smtp.waitForMessages(2, 30_000)
  const by = (to: string) => messages.find((m) => m.rcptTo[0] === to) as ReceivedMessage
  await waitFor(stats, (s) => s.totals?.sent === 2 && s.totals?.bounced === 1, 30_000)
  // Past the machine-open window of the recorded sends (the rows the consumer keeps say when).
  const { rows } = await db.query<{ at: string }>('SELECT max(sent_at) AS at FROM analytics_messages')
  const sentAt = Number(rows[0]?.at)
  await waitFor(
    async () => Date.now(),
    (now) => now >= sentAt + 2_100,
  )

  const get = async (url: string, ua: string) =>
    (await fetch(url, { headers: { 'user-agent': ua }, redirect: 'manual' })).status
  assert.equal(await get(pixelOf(by('ann@example.com')), HUMAN), 200)
  assert.equal(await get(clickOf(by('ann@example.com')), HUMAN), 302)
  assert.equal(await get(pixelOf(by('bob@example.com')), PROXY), 200)
  const unsub = await fetch(unsubscribeOf(by('bob@example.com')), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'List-Unsubscribe=One-Click',
  })
  assert.equal(unsub.status, 200)
  await waitFor(stats, (s) => s.totals.uniqueClicks === 1 && s.totals.unsubscribes === 1, 30_000)
  const now = Date.now()
  await batch([
    {
      type: 'track',
      userId: 'ann',
      event: 'Order Completed',
      messageId: 'order-ann',
      properties: { revenue: 40 },
    },
    {
      type: 'track',
      userId: 'ann',
      event: 'Order Completed',
      messageId: 'order-late',
      timestamp: new Date(now + 4 * 86_400_000).toISOString(),
      properties: { revenue: 99 },
    },
    {
      type: 'track',
      userId: 'bob',
      event: 'Order Completed',
      messageId: 'order-bob',
      properties: { revenue: 15 },
    },
  ])
  const expected = {
    sent: 2,
    delivered: 2,
    bounced: 1,
    failed: 0,
    opens: 1,
    uniqueOpens: 1,
    machineOpens: 1,
    clicks: 1,
    uniqueClicks: 1,
    unsubscribes: 1,
    conversions: 1,
    revenue: 40,
    fallbackSends: 1,
    liveRenders: 0,
    liveFallbacks: 0,
    clickThroughRate: 0.5,
    clickToOpenRate: 1,
    fallbackUsage: 0.5,
    liveFallbackUsage: null,
    openTime: null,
  }
  // bob's order (never engaged by a person) and ann's late one count nothing.
  await waitFor(stats, (s) => s.totals.conversions === 1, 30_000)
  assert.deepEqual(await stats(), {
    id: 'spring',
    totals: expected,
    versions: [{ templateId: 'promo', templateVersion: 1, ...expected }],
  })

  // A restarted processor (Kafka redelivers from its committed offset) and duplicates appended.
  ingest.child.kill('SIGKILL')
  await ingest.exited
  ingest = await startIngest()
  await batch([
    {
      type: 'track',
      userId: 'ann',
      event: 'Order Completed',
      messageId: 'order-ann',
      properties: { revenue: 40 },
    },
    {
      type: 'track',
      userId: 'ann',
      event: 'Order Completed',
      messageId: 'order-ann-2',
      properties: { revenue: 5 },
    },
  ])
  const after = await waitFor(stats, (s) => s.totals.conversions === 2, 30_000)
  assert.deepEqual(after.totals, { ...expected, conversions: 2, revenue: 45 })
})
