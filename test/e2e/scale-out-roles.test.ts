/**
 * The api and sender roles in scale-out mode, on real Kafka and PostgreSQL: one process runs
 * collector + processor, another api + sender. A template and a trigger are created through the
 * api process; an identify and a `Product Viewed` go through the collector; the processor writes
 * the profile and the trigger job to PostgreSQL; the sender (another process) finds the job and
 * writes the message to its outbox. The api process reads the profile back. Then a second sender
 * process joins and the two share the next jobs, each message written once.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { tempDir } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { type ServerProcess, startServerProcess, testKey } from '../helpers/server-process.ts'

const skip = (await kafkaMissing()) || (await pgSkip())

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('api + sender in one process, collector + processor in another: a trigger fires across them', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const database = await freshDatabase()
  const writeKey = testKey('wk')
  const adminKey = testKey('ak')
  const ingestDir = tempDir('inkstream-roles-in-')
  const sendDir = tempDir('inkstream-roles-out-')
  const env = {
    INKSTREAM_KAFKA_BROKERS: kafkaBrokers().join(','),
    INKSTREAM_KAFKA_TOPIC: KafkaEventLog.uniqueTopic('inkstream-roles'),
    INKSTREAM_KAFKA_PARTITIONS: '2',
    INKSTREAM_DATABASE_URL: database.url,
    INKSTREAM_FROM: 'Shop <news@shop.example.com>',
  }
  const servers: ServerProcess[] = []
  t.after(async () => {
    for (const s of servers) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL')
        await s.exited
      }
    }
    await database.drop()
    rmSync(ingestDir, { recursive: true, force: true })
    rmSync(sendDir, { recursive: true, force: true })
  })
  const ingest = await startServerProcess({
    dataDir: ingestDir,
    writeKey,
    adminKey,
    env,
    args: ['--role', 'collector,processor'],
  })
  servers.push(ingest)
  const api = await startServerProcess({
    dataDir: sendDir,
    writeKey,
    adminKey,
    env,
    args: ['--role', 'api', '--role', 'sender'],
  })
  servers.push(api)

  const call = async (base: string, method: string, path: string, body: unknown, auth: string) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const adminAuth = `Bearer ${adminKey}`
  const writeAuth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`

  // The collector process has no admin API.
  assert.equal(
    (await fetch(`${ingest.url}/v1/templates`, { headers: { authorization: adminAuth } })).status,
    404,
  )
  const tpl = await call(
    api.url,
    'PUT',
    '/v1/templates/browse',
    {
      subject: 'About the {{ event.properties.name }}',
      html: '<html><body><p>Hi {{ first_name }}, the {{ event.properties.name }} is waiting.</p></body></html>',
    },
    adminAuth,
  )
  assert.ok(tpl.status < 300, JSON.stringify(tpl.body))
  const trig = await call(
    api.url,
    'PUT',
    '/v1/triggers/viewed',
    { event: 'Product Viewed', templateId: 'browse' },
    adminAuth,
  )
  assert.equal(trig.status, 200, JSON.stringify(trig.body))
  // The api process does not collect events.
  assert.equal((await call(api.url, 'POST', '/v1/batch', { batch: [] }, writeAuth)).status, 404)

  const sent = await call(
    ingest.url,
    'POST',
    '/v1/batch',
    {
      batch: [
        {
          type: 'identify',
          userId: 'ann',
          traits: { email: 'ann@example.com', firstName: 'Ann' },
          messageId: 'r-1',
        },
        {
          type: 'track',
          userId: 'ann',
          event: 'Product Viewed',
          properties: { name: 'Red Kettle' },
          messageId: 'r-2',
        },
      ],
    },
    writeAuth,
  )
  assert.equal(sent.status, 200, JSON.stringify(sent.body))

  const outbox = join(sendDir, 'outbox')
  const deadline = Date.now() + 30_000
  let files: string[] = []
  while (Date.now() < deadline) {
    try {
      files = readdirSync(outbox).filter((f) => f.endsWith('.eml'))
    } catch {}
    if (files.length > 0) break
    await sleep(100)
  }
  assert.equal(files.length, 1, `no message in the sender's outbox; output:\n${api.output()}`)
  const raw = readFileSync(join(outbox, files[0]!), 'utf8')
  assert.match(raw, /^To: ann@example\.com\r$/m)
  assert.match(raw, /Subject: About the Red Kettle/)
  assert.match(raw, /Hi Ann, the Red Kettle is waiting/)

  const profile = await fetch(`${api.url}/v1/profiles/ann`, { headers: { authorization: adminAuth } })
  const body = (await profile.json()) as { traits?: Record<string, unknown> }
  assert.equal(profile.status, 200)
  assert.equal(body.traits?.email, 'ann@example.com')
  assert.equal(body.traits?.first_name, 'Ann')

  // A second sender joins (its own outbox): the two share the jobs, each sent exactly once, and the
  // newcomer's start-up recovery leaves alone whatever the first one is sending.
  const sendDir2 = tempDir('inkstream-roles-out2-')
  t.after(() => rmSync(sendDir2, { recursive: true, force: true }))
  const sender2 = await startServerProcess({
    dataDir: sendDir2,
    writeKey,
    adminKey,
    env,
    args: ['--role', 'sender'],
  })
  servers.push(sender2)
  const users = Array.from({ length: 30 }, (_, i) => `buyer-${i}`)
  const more = await call(
    ingest.url,
    'POST',
    '/v1/batch',
    {
      batch: users.flatMap((u, i) => [
        {
          type: 'identify',
          userId: u,
          traits: { email: `${u}@example.com`, firstName: u },
          messageId: `m-i-${i}`,
        },
        {
          type: 'track',
          userId: u,
          event: 'Product Viewed',
          properties: { name: 'Mug' },
          messageId: `m-t-${i}`,
        },
      ]),
    },
    writeAuth,
  )
  assert.equal(more.status, 200, JSON.stringify(more.body))
  const outboxes = [outbox, join(sendDir2, 'outbox')]
  const recipients = () =>
    outboxes.flatMap((dir) => {
      let names: string[] = []
      try {
        names = readdirSync(dir).filter((f) => f.endsWith('.eml'))
      } catch {}
      return names.map((f) => /^To: (\S+)\r$/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? '?')
    })
  const until = Date.now() + 30_000
  while (recipients().length < users.length + 1 && Date.now() < until) await sleep(100)
  await sleep(500) // a duplicate would arrive within this
  const all = recipients().sort()
  assert.deepEqual(all, ['ann@example.com', ...users.map((u) => `${u}@example.com`)].sort(), sender2.output())
})
