/**
 * GET /ui/api/live (issue 13, the overview's chart data) over real sockets: the admin key or the
 * session cookie is required; a stream starts with a snapshot and then carries exactly what this
 * process counted (events accepted, renders, lag quantiles); a process without every role streams
 * the rollups merged over instances; a stream ends when the client goes away and when the server
 * closes (close does not wait for it).
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Fastify from 'fastify'
import { openSqlite } from '../../src/db/sqlite.ts'
import { installErrorHandler } from '../../src/http/error-handler.ts'
import { createMetrics } from '../../src/observe/metrics.ts'
import { HEARTBEAT } from '../../src/observe/rollups/rollup-series.ts'
import { SqliteRollupStore } from '../../src/observe/rollups/sqlite-rollup-store.ts'
import { LIVE_PATH, type LiveSnapshot, liveRoutes } from '../../src/ui/live-routes.ts'
import { LiveSampler } from '../../src/ui/live-sampler.ts'
import type { OverviewPoint } from '../../src/ui/overview-series.ts'
import { SqliteWorkspaceStore } from '../../src/workspaces/sqlite-workspace-store.ts'
import { basicAuth, startTestApp, type TestApp, tempDir } from '../helpers/app.ts'
import { openSse } from '../helpers/sse.ts'

const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

describe('GET /ui/api/live in the embedded app', () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
  })
  after(() => app?.close())

  test('needs the admin key or a session: 401 without, with a wrong key or a forged cookie', async () => {
    for (const headers of [
      {},
      bearer('nope'),
      { cookie: 'ink_session=v1.x.1.AAA' },
      { accept: 'text/event-stream' },
    ]) {
      const res = await fetch(`${app.url}${LIVE_PATH}`, { headers })
      assert.equal(res.status, 401, JSON.stringify(headers))
      assert.equal(((await res.json()) as { code: string }).code, 'INK_ERR_UNAUTHORIZED')
    }
    // The session cookie a browser's EventSource sends is accepted for this GET.
    const signIn = await fetch(`${app.url}/ui/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ adminKey: app.workspace.adminKey }),
    })
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
    const res = await fetch(`${app.url}${LIVE_PATH}`, { headers: { cookie } })
    assert.equal(res.status, 200)
    const snap = (await res.json()) as LiveSnapshot
    assert.equal(snap.source, 'process')
    assert.equal(snap.intervalMs, 2000)
  })

  test('a stream carries exactly the events accepted and the renders made after it opened', async () => {
    const sse = await openSse(`${app.url}${LIVE_PATH}`, bearer(app.workspace.adminKey))
    const first = await sse.next()
    assert.equal(first.event, 'snapshot')
    const before = (first.data as LiveSnapshot).points
    const sum = (points: OverviewPoint[], k: 'ingest' | 'renders' | 'fallbacks') =>
      points.reduce((s, p) => s + p[k], 0)

    const batch = Array.from({ length: 7 }, (_, i) => ({
      type: 'track',
      event: 'Page Viewed',
      userId: `live-${i}`,
      messageId: `live-msg-${i}`,
    }))
    const ingest = await fetch(`${app.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    })
    assert.equal(ingest.status, 200)
    const admin = { ...bearer(app.workspace.adminKey), 'content-type': 'application/json' }
    const put = await fetch(`${app.url}/v1/templates/live`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ subject: 'Hi', html: '<p>Hi {{ first_name | default: "there" }}</p>' }),
    })
    assert.equal(put.status, 201, await put.text())
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${app.url}/v1/templates/live/preview`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ profile: {} }),
      })
      assert.equal(res.status, 200, await res.text())
    }

    const points: OverviewPoint[] = []
    // Points come every 2 s; wait until the lag of the 7 events is in (the processor commits them).
    while (
      sum(points, 'ingest') < 7 ||
      sum(points, 'renders') < 3 ||
      !points.some((p) => p.lagP99 !== null)
    ) {
      const f = await sse.next()
      assert.equal(f.event, 'point')
      points.push(f.data as OverviewPoint)
    }
    // One more point: nothing is counted twice.
    const f = await sse.next()
    points.push(f.data as OverviewPoint)
    assert.equal(sum(before, 'ingest') + sum(points, 'ingest'), 7)
    assert.equal(sum(points, 'renders'), 3)
    assert.equal(sum(points, 'fallbacks'), 3, 'first_name fell back to its default in each render')
    const lag = points.find((p) => p.lagP99 !== null)
    assert.ok(lag && lag.lagP50 !== null && lag.lagP99 !== null && lag.lagP50 <= lag.lagP99)
    const rendered = points.find((p) => p.renders > 0)
    assert.ok(rendered?.renderP50 !== null && rendered?.renderP95 !== null)
    for (const p of points) assert.ok(p.seconds > 0 && p.seconds < 30, `${p.seconds}`)
    // The ring a new connection gets holds the same counts.
    const again = (await (
      await fetch(`${app.url}${LIVE_PATH}`, { headers: bearer(app.workspace.adminKey) })
    ).json()) as LiveSnapshot
    assert.equal(sum(again.points, 'ingest'), 7)
    assert.equal(sum(again.points, 'renders'), 3)
    sse.abort()
  })

  test('closing the server ends an open stream instead of waiting for it', async () => {
    const own = await startTestApp()
    const sse = await openSse(`${own.url}${LIVE_PATH}`, bearer(own.workspace.adminKey))
    assert.equal((await sse.next()).event, 'snapshot')
    let timer: NodeJS.Timeout | undefined
    const hung = new Promise<string>((r) => {
      timer = setTimeout(() => r('close still waiting after 10 s'), 10_000)
    })
    const closed = await Promise.race([own.close().then(() => 'closed'), hung])
    clearTimeout(timer)
    assert.equal(closed, 'closed')
    await sse.ended
  })
})

describe('GET /ui/api/live on its own server', () => {
  let dir: string
  let db: ReturnType<typeof openSqlite>
  let workspaces: SqliteWorkspaceStore
  let adminKey: string
  before(async () => {
    dir = tempDir('inkstream-live-')
    db = openSqlite(join(dir, 'inkstream.db'))
    workspaces = new SqliteWorkspaceStore(db)
    adminKey = (await workspaces.ensure('w1', {})).adminKey
  })
  after(() => {
    db?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  async function serve(sampler: LiveSampler | undefined, now: () => number) {
    const app = Fastify()
    installErrorHandler(app)
    await app.register(async (scope) =>
      liveRoutes(scope, {
        workspaces,
        clock: { now },
        rollups: new SqliteRollupStore(db),
        sampler,
        rollupRefreshMs: 50,
      }),
    )
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return { app, url }
  }

  test('each point holds exactly what the registry counted in its interval', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    // Rollup minutes written before the sampler started: a whole one (shown as history) and the one
    // the sampler starts in (left out: its counts are in the live points).
    const rollups = new SqliteRollupStore(db)
    await rollups.add([
      { minute: 60_000 * 998, name: 'ingest_accepted', le: '', instance: 'a', value: 11 },
      { minute: 60_000 * 999, name: 'ingest_accepted', le: '', instance: 'a', value: 12 },
      { minute: 60_000 * 1000, name: 'ingest_accepted', le: '', instance: 'a', value: 13 },
    ])
    let now = 60_000 * 1000 + 20_000
    const sampler = new LiveSampler({
      registry: metrics.registry,
      clock: { now: () => now },
      logger: console,
    })
    await sampler.start({ timers: false })
    const { app, url } = await serve(sampler, () => now)
    try {
      const sse = await openSse(`${url}${LIVE_PATH}`, bearer(adminKey))
      const snap = (await sse.next()).data as LiveSnapshot
      assert.equal(snap.source, 'process')
      assert.equal(snap.intervalMs, 2000)
      assert.equal(snap.windowMs, 3_600_000)
      assert.deepEqual(
        snap.points.map((p) => [p.t, p.seconds, p.ingest]),
        [
          [60_000 * 999, 60, 11],
          [60_000 * 1000, 60, 12],
        ],
      )
      metrics.ingestEvents.inc({ outcome: 'accepted' }, 5)
      metrics.ingestEvents.inc({ outcome: 'rejected' }, 2)
      for (const s of [0.004, 0.004, 0.004, 0.02]) metrics.pipelineLag.observe(s)
      metrics.connectedContentCalls.inc({ source: 'api.example', outcome: 'success' }, 3)
      metrics.connectedContentCalls.inc({ source: 'api.example', outcome: 'timeout' }, 1)
      metrics.deliveryOutcomes.inc({ origin: 'campaign', id: 'c', kind: 'sent' }, 4)
      metrics.deliveryOutcomes.inc({ origin: 'campaign', id: 'c', kind: 'bounced' }, 1)
      metrics.deliveryOutcomes.inc({ origin: 'campaign', id: 'c', kind: 'skipped' }, 9)
      metrics.emailOpens.inc({ origin: 'campaign', machine: 'false' }, 2)
      metrics.emailOpens.inc({ origin: 'campaign', machine: 'true' }, 5)
      metrics.emailClicks.inc({ origin: 'campaign' }, 1)
      now += 2000
      await sampler.tick()
      const f = await sse.next()
      assert.equal(f.event, 'point')
      assert.deepEqual(f.data, {
        t: 60_000 * 1000 + 22_000,
        seconds: 2,
        ingest: 5,
        // 3 of 4 in the (0.002, 0.005] bucket: p50 = 0.002 + 0.003 × (2 / 3), p99 in (0.015, 0.02].
        lagP50: 0.002 + 0.003 * (2 / 3),
        lagP99: 0.015 + 0.005 * ((0.99 * 4 - 3) / 1),
        renders: 0,
        renderP50: null,
        renderP95: null,
        fallbacks: 0,
        sends: 5,
        sendFailures: 1,
        opens: 2,
        clicks: 1,
        cc: { 'api.example': { calls: 4, success: 3 } },
      })
      // Nothing new: a zero point, not the same counts again.
      now += 2000
      await sampler.tick()
      const quiet = (await sse.next()).data as OverviewPoint
      assert.equal(quiet.ingest, 0)
      assert.equal(quiet.lagP50, null)
      assert.equal(sampler.listeners, 1)
      // The client goes away: its listener is removed.
      sse.abort()
      const deadline = Date.now() + 5000
      while (sampler.listeners > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      assert.equal(sampler.listeners, 0)
      // Points older than the window leave the ring.
      now += 900_000
      await sampler.tick()
      assert.deepEqual(
        sampler.points().map((p) => p.t),
        [now],
      )
    } finally {
      await sampler.close()
      await app.close()
    }
  })

  test('without every role it streams the rollup minutes merged over instances, refreshed', async () => {
    const minute = 60_000 * 29_000_000
    const rollups = new SqliteRollupStore(db)
    await rollups.add([
      { minute, name: HEARTBEAT, le: '', instance: 'a', value: 1 },
      { minute, name: HEARTBEAT, le: '', instance: 'b', value: 1 },
      { minute, name: 'ingest_accepted', le: '', instance: 'a', value: 40 },
      { minute, name: 'ingest_accepted', le: '', instance: 'b', value: 2 },
      { minute, name: 'sends', le: '', instance: 'b', value: 3 },
    ])
    let now = minute + 90_000
    const { app, url } = await serve(undefined, () => now)
    try {
      const sse = await openSse(`${url}${LIVE_PATH}`, bearer(adminKey))
      const snap = (await sse.next()).data as LiveSnapshot
      assert.equal(snap.source, 'rollups')
      assert.equal(snap.intervalMs, 60_000)
      assert.deepEqual(
        snap.points.map((p) => [p.t, p.seconds, p.ingest, p.sends]),
        [[minute + 60_000, 60, 42, 3]],
      )
      await rollups.add([
        { minute: minute + 60_000, name: 'ingest_accepted', le: '', instance: 'a', value: 6 },
      ])
      let next = (await sse.next()).data as LiveSnapshot
      while (next.points.length < 2) next = (await sse.next()).data as LiveSnapshot
      // The minute being filled ends now (30 s into it).
      assert.deepEqual(
        next.points.map((p) => [p.t, p.seconds, p.ingest]),
        [
          [minute + 60_000, 60, 42],
          [minute + 90_000, 30, 6],
        ],
      )
      now += 1
      sse.abort()
    } finally {
      await app.close()
    }
  })
})
