/**
 * Open-time freshness end to end, on the embedded app (SQLite) and on an every-role scale-out app
 * (Kafka + PostgreSQL): a campaign and a trigger with a live block fed by connected content are sent
 * through a real SMTP server; the block's image URL is taken from each received message and fetched
 * over HTTP as a mail client would, while the source answers, fails (its cached response is served
 * stale) or hangs (the block falls back). The app's clock is frozen and moved by the test, so every
 * data age is exact, and the stats and time series endpoints answer exact freshness figures.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ANALYTICS_GROUP } from '../../src/analytics/analytics-store.ts'
import { createApp } from '../../src/app.ts'
import { createScaleOutApp } from '../../src/app-scale-out.ts'
import { type ConfigInput, loadConfig } from '../../src/config.ts'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { PROFILES_GROUP } from '../../src/pipeline/processor.ts'
import type { ApiBody } from '../campaigns/campaign-api.ts'
import {
  mimeParts,
  type ReceivedMessage,
  startSmtpServer,
  type TestSmtpServer,
} from '../delivery/smtp-test-server.ts'
import { basicAuth, tempDir } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { testKey } from '../helpers/server-process.ts'
import { waitFor } from './analytics-helpers.ts'

const HUMAN = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)'
const BUCKET = 300_000

/** What the scenario needs of either app. */
interface Running {
  url: string
  workspace: { writeKey: string; adminKey: string }
  log: { lag(group: string): Promise<number> }
  close(): Promise<void>
}

/** A clock that stands still until the test moves it. */
class SteppedClock {
  at = Math.floor(Date.now() / BUCKET) * BUCKET - 2 * BUCKET
  now = () => this.at
}

/** A connected-content source whose answer per user the test sets: ok, fail (500) or hang. */
async function startSource(): Promise<{
  host: string
  mode: Map<string, 'ok' | 'fail' | 'hang'>
  server: http.Server
}> {
  const mode = new Map<string, 'ok' | 'fail' | 'hang'>()
  const server = http.createServer((req, res) => {
    const user = decodeURIComponent(req.url?.split('/').pop() ?? '')
    const m = mode.get(user) ?? 'ok'
    if (m === 'hang') return // never answers
    if (m === 'fail') return void res.writeHead(500).end('down')
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ title: `Deal for ${user}` }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, mode, server }
}

const template = (host: string) => ({
  subject: 'Deals',
  html: `<p>Hi {{ first_name | default: "there" }}</p>
{% live "deal" width: 240, height: 60 %}{% connected_content http://${host}/deal/{{ user_id }} :save deal :timeout 300 :cache_max_age 30 %}<div style="display:flex;width:240px;height:60px;background:#ffffff"><span>{{ deal.title }}</span></div>{% fallback %}Deals inside.{% endlive %}`,
})

/** The live block's image URL in a received message. */
function blockUrl(m: ReceivedMessage): string {
  const html = mimeParts(m.raw).find((p) => p.contentType.startsWith('text/html'))?.body ?? ''
  const url = /<img src="([^"]+\/o\/[^"/]+\/deal\.png)"/.exec(html)?.[1]
  assert.ok(url, html)
  return url.replaceAll('&amp;', '&')
}

/** Opens the block as a mail client: GET the image; answers the fallbacks it took. */
async function open(url: string): Promise<number> {
  const res = await fetch(url, { headers: { 'user-agent': HUMAN } })
  await res.arrayBuffer()
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'image/png')
  return Number(res.headers.get('x-ink-fallbacks'))
}

async function caughtUp(log: Running['log'], group: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while ((await log.lag(group)) > 0) {
    assert.ok(Date.now() < deadline, `${group} did not catch up`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Every freshness figure of a stats answer for ages [0, 20 s, 60 s] and one fallback out of four. */
const CAMPAIGN_OPEN_TIME = {
  renders: 4,
  fallbacks: 1,
  fallbackRate: 0.25,
  withData: 3,
  // Ranks 2 and 3 of [0, 20 s, 60 s]: the upper edges of (15 s, 30 s] and (30 s, 60 s].
  dataAgeP50Ms: 30_000,
  dataAgeP95Ms: 60_000,
  dataAgeMeanMs: 80_000 / 3,
  dataAgeMaxMs: 60_000,
  dataAgeBuckets: [
    { upToMs: 100, count: 1 },
    { upToMs: 1_000, count: 0 },
    { upToMs: 5_000, count: 0 },
    { upToMs: 15_000, count: 0 },
    { upToMs: 30_000, count: 1 },
    { upToMs: 60_000, count: 1 },
    { upToMs: 120_000, count: 0 },
    { upToMs: 300_000, count: 0 },
    { upToMs: 600_000, count: 0 },
    { upToMs: null, count: 0 },
  ],
}

function freshnessScenario(
  name: string,
  skip: () => Promise<string | false>,
  start: (clock: SteppedClock, overrides: ConfigInput) => Promise<Running & { cleanup(): Promise<void> }>,
): void {
  describe(`open-time freshness in the running app (${name})`, { timeout: 180_000 }, () => {
    const clock = new SteppedClock()
    let skipped: string | false = false
    let smtp: TestSmtpServer
    let source: Awaited<ReturnType<typeof startSource>>
    let app: Awaited<ReturnType<typeof start>>
    let dir: string

    const admin = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${app.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${app.workspace.adminKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      return { status: res.status, body: (await res.json()) as ApiBody }
    }
    const collect = async (path: string, body: object) => {
      const res = await fetch(`${app.url}${path}`, {
        method: 'POST',
        headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      assert.equal(res.status, 200, await res.text())
    }
    const stats = async (path: string) => {
      const r = await admin('GET', path)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      return r.body
    }
    /** The stats once `renders` open-time renders are counted and the consumer is idle. */
    const statsAfter = async (path: string, renders: number) => {
      await waitFor(
        () => stats(path),
        (s) => s.totals.liveRenders >= renders,
        30_000,
      )
      await caughtUp(app.log, ANALYTICS_GROUP)
      return stats(path)
    }

    before(async () => {
      skipped = await skip()
      if (skipped) return
      smtp = await startSmtpServer()
      source = await startSource()
      dir = mkdtempSync(join(tmpdir(), 'ink-freshness-'))
      const contentFile = join(dir, 'content.json')
      // A generous deadline: drawing on a loaded machine must not make a fallback the test did not ask for.
      writeFileSync(
        contentFile,
        JSON.stringify({
          connectedContent: { allowHosts: [source.host] },
          openTime: { deadlineMs: 5_000 },
        }),
      )
      app = await start(clock, {
        smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
        from: 'Shop <news@shop.example>',
        contentFile,
      })
    })
    after(async () => {
      if (skipped) return
      await app?.close()
      await app?.cleanup()
      await smtp?.close()
      source?.server.closeAllConnections()
      await new Promise<void>((r) => source?.server.close(() => r()))
      rmSync(dir, { recursive: true, force: true })
    })

    test('fresh, cached, stale and fallen-back opens give exact renders, fallbacks and data ages', async (t) => {
      if (skipped) return t.skip(skipped)
      await collect('/v1/batch', {
        batch: ['warm', 'ann', 'bob'].map((userId) => ({
          type: 'identify',
          userId,
          traits: { email: `${userId}@example.com`, first_name: userId },
        })),
      })
      await caughtUp(app.log, PROFILES_GROUP)
      assert.equal((await admin('PUT', '/v1/templates/deals', template(source.host))).status, 201)
      // A campaign of its own warms the drawing (the first drawings of a process may be late).
      for (const [id, users] of [
        ['warmup', ['warm']],
        ['spring', ['ann', 'bob']],
      ] as const) {
        const put = await admin('PUT', `/v1/campaigns/${id}`, {
          templateId: 'deals',
          audience: { userIds: users },
        })
        assert.equal(put.status, 201, JSON.stringify(put.body))
        assert.equal((await admin('POST', `/v1/campaigns/${id}/start`)).status, 202)
      }
      const messages = await smtp.waitForMessages(3, 30_000)
      const urlOf = (to: string) => blockUrl(messages.find((m) => m.rcptTo[0] === to) as ReceivedMessage)
      const warm = urlOf('warm@example.com')
      for (let i = 0; (await open(warm)) > 0; i++) {
        assert.ok(i < 200, 'the drawing never got warm')
        clock.at += 10_000 // a new open window and block-cache TTL: draw again
        await new Promise((r) => setTimeout(r, 50))
      }

      // All of spring's opens in one 5-minute bucket except bob's, in the next one.
      const B = Math.ceil((clock.at + 60_000) / BUCKET) * BUCKET + 60_000
      clock.at = B
      const ann = urlOf('ann@example.com')
      // Each open counted before the next: its counters are committed into the same row apart.
      const spring = '/v1/campaigns/spring/stats'
      assert.equal(await open(ann), 0) // fetched now: age 0
      await statsAfter(spring, 1)
      clock.at = B + 20_000
      assert.equal(await open(ann), 0) // the source's cached answer (30 s TTL): 20 s old
      await statsAfter(spring, 2)
      source.mode.set('ann', 'fail')
      clock.at = B + 60_000
      assert.equal(await open(ann), 0) // the source fails: its cached answer served stale, 60 s old
      await statsAfter(spring, 3)
      source.mode.set('bob', 'hang')
      clock.at = B + BUCKET
      assert.ok((await open(urlOf('bob@example.com'))) > 0) // late, nothing cached: the fallback

      const s = await statsAfter(spring, 4)
      assert.deepEqual(s.totals.openTime, CAMPAIGN_OPEN_TIME)
      assert.deepEqual(
        [s.totals.liveRenders, s.totals.liveFallbacks, s.totals.liveFallbackUsage],
        [4, 1, 0.25],
      )
      assert.deepEqual(
        s.versions.map((v: ApiBody) => [v.templateId, v.templateVersion, v.openTime]),
        [['deals', 1, CAMPAIGN_OPEN_TIME]],
      )

      const series = await stats(
        `/v1/analytics/timeseries?campaign=spring&bucket=5m&from=${B - 60_000}&to=${B + 2 * BUCKET - 60_000}`,
      )
      const [first, second] = series.points as ApiBody[]
      assert.deepEqual(
        [first?.openTime.renders, first?.openTime.withData, first?.openTime.dataAgeMaxMs],
        [3, 3, 60_000],
      )
      assert.deepEqual(
        [second?.openTime.renders, second?.openTime.fallbacks, second?.openTime.withData],
        [1, 1, 0],
      )
      assert.deepEqual([second?.openTime.dataAgeP50Ms, second?.openTime.dataAgeMeanMs], [null, null])
      // A campaign nobody opened at open time has no freshness.
      const none = await admin('PUT', '/v1/campaigns/quiet', {
        templateId: 'deals',
        audience: { userIds: [] },
      })
      assert.ok(none.status < 300, JSON.stringify(none.body))
      assert.equal((await stats('/v1/campaigns/quiet/stats')).totals.openTime, null)
    })

    test('a trigger’s stats carry the freshness of its messages’ opens', async (t) => {
      if (skipped) return t.skip(skipped)
      const put = await admin('PUT', '/v1/triggers/welcome', { event: 'Signed Up', templateId: 'deals' })
      assert.ok(put.status < 300, JSON.stringify(put.body))
      const before = smtp.received.length
      await collect('/v1/track', { userId: 'warm', event: 'Signed Up', properties: {} })
      const [message] = (await smtp.waitForMessages(before + 1, 30_000)).slice(before)
      clock.at += 10_000
      // warm's cached answer is long expired (and past its stale window): fetched now, age 0.
      assert.equal(await open(blockUrl(message as ReceivedMessage)), 0)
      const s = await statsAfter('/v1/triggers/welcome/stats', 1)
      assert.deepEqual(s.totals.openTime, {
        ...CAMPAIGN_OPEN_TIME,
        renders: 1,
        fallbacks: 0,
        fallbackRate: 0,
        withData: 1,
        dataAgeP50Ms: 0,
        dataAgeP95Ms: 0,
        dataAgeMeanMs: 0,
        dataAgeMaxMs: 0,
        dataAgeBuckets: CAMPAIGN_OPEN_TIME.dataAgeBuckets.map((b, i) => ({ ...b, count: i === 0 ? 1 : 0 })),
      })
      assert.equal((await stats('/v1/campaigns/spring/stats')).totals.openTime.renders, 4)
    })
  })
}

freshnessScenario(
  'SQLite',
  async () => false,
  async (clock, overrides) => {
    const dataDir = tempDir('inkstream-freshness-')
    const app = await createApp(loadConfig({}, { port: 0, logLevel: 'silent', ...overrides, dataDir }), {
      clock,
    })
    const url = await app.listen()
    return Object.assign(app, { url, cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) })
  },
)

freshnessScenario(
  'Kafka + PostgreSQL',
  async () => (await kafkaMissing()) || (await pgSkip()),
  async (clock, overrides) => {
    const database = await freshDatabase('ink_freshness')
    const dataDir = tempDir('inkstream-freshness-so-')
    const config = loadConfig(
      {},
      {
        port: 0,
        host: '127.0.0.1',
        logLevel: 'silent',
        dataDir,
        writeKey: testKey('wk'),
        adminKey: testKey('ak'),
        roles: 'all',
        kafkaBrokers: kafkaBrokers().join(','),
        kafkaTopic: KafkaEventLog.uniqueTopic('inkstream-freshness'),
        kafkaPartitions: 2,
        databaseUrl: database.url,
        ...overrides,
      },
    )
    const app = await createScaleOutApp(config, { clock })
    const url = await app.listen()
    return {
      url,
      workspace: app.workspace,
      log: app.log,
      close: () => app.close(),
      cleanup: async () => {
        await database.drop()
        rmSync(dataDir, { recursive: true, force: true })
      },
    }
  },
)
