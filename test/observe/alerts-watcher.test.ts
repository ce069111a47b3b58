/**
 * Anomaly alerts end to end, on SQLite and PostgreSQL, with the real detector: four hours of a stable
 * series written as history, then minutes counted by a real registry and rolled up by the roller,
 * with a three-minute spike. Exactly one episode: stored, `inkstream_anomaly_active` 1 then 0, shown
 * by the API, and one signed POST per start and end at a real receiver (the first answered 500 and
 * retried from the outbox). The watcher is restarted mid-episode as a new process would be: the
 * history and the episode survive, nothing is sent twice, and the episode ends once.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import { openSqlite } from '../../src/db/sqlite.ts'
import { installErrorHandler } from '../../src/http/error-handler.ts'
import { ANOMALY_GAUGE, alertEffects } from '../../src/observe/alerts/alert-effects.ts'
import { anomalyRoutes } from '../../src/observe/alerts/anomaly-routes.ts'
import { AnomalyWatcher } from '../../src/observe/alerts/anomaly-watcher.ts'
import { DEFAULT_QUIET_POINTS } from '../../src/observe/anomaly/episodes.ts'
import { createMetrics, type Metrics } from '../../src/observe/metrics.ts'
import { Roller } from '../../src/observe/rollups/roller.ts'
import { HEARTBEAT } from '../../src/observe/rollups/rollup-series.ts'
import { verifySignature } from '../../src/webhooks/signature.ts'
import { WebhookDispatcher } from '../../src/webhooks/webhook-dispatcher.ts'
import { SqliteWorkspaceStore } from '../../src/workspaces/sqlite-workspace-store.ts'
import { startReceiver } from '../webhooks/receiver.ts'
import { MIN, type ObserveStores, observeBackends, T0, type TestClock, testClock } from './alerts-backends.ts'

const SECRET = 'alert-secret-0123456789'
const ADMIN = 'admin_key_0123456789abcdef'
const GRACE = 15_000
const HISTORY = 240
const SPIKE = [20, 21, 22]
const LAST = 45

/** A stable rate around 100 (deterministic noise in [-5, 5]), and the spike. */
const normal = (k: number) => 100 + (((k * 7919) % 11) - 5)
const rateAt = (k: number) => (SPIKE.includes(k) ? 1000 : normal(k))

const logger = () => {
  const lines: { level: string; msg: string }[] = []
  const push = (level: string) => (_obj: unknown, msg: string) => lines.push({ level, msg })
  return { lines, warn: push('warn'), info: push('info'), error: push('error') }
}

/** An alert left active whose episode the stored history does not hold (its minutes aged out, say). */
const STALE_ALERT = {
  id: `ingest_rate@${T0 - 1000 * MIN}`,
  series: 'ingest_rate',
  startedAt: T0 - 1000 * MIN,
  endedAt: null,
  expectedLower: 90,
  expectedUpper: 110,
  observed: 500,
  peakScore: 9,
}

async function gauge(m: Metrics, series: string): Promise<number | undefined> {
  const g = m.registry.getSingleMetric(ANOMALY_GAUGE)
  const values = g ? (await g.get()).values : []
  return values.find((v) => v.labels.series === series)?.value
}

/** One process: its registry, roller, watcher (real detector) and alert dispatcher. */
async function startProcess(
  stores: ObserveStores,
  clock: TestClock,
  instance: string,
  url: string,
  watcherAlerts: ObserveStores['alerts'] = stores.alerts,
) {
  const metrics = createMetrics({ defaultMetrics: false })
  const log = logger()
  const roller = new Roller({
    registry: metrics.registry,
    store: stores.rollups,
    clock,
    logger: log,
    instance,
  })
  await roller.start({ timers: false })
  const dispatcher = new WebhookDispatcher({
    outbox: stores.outbox,
    webhook: { url, secret: SECRET },
    kind: 'alert',
    clock,
    logger: log,
  })
  const effects = alertEffects({
    alerts: stores.alerts,
    registry: metrics.registry,
    logger: log,
    webhook: { outbox: stores.outbox, workspaceId: 'w' },
  })
  const watcher = new AnomalyWatcher({
    rollups: stores.rollups,
    alerts: watcherAlerts,
    effects,
    clock,
    logger: log,
    graceMs: GRACE,
  })
  return { metrics, log, roller, dispatcher, watcher }
}

async function startApi(stores: ObserveStores, clock: TestClock) {
  const db = openSqlite(':memory:')
  const workspaces = new SqliteWorkspaceStore(db)
  await workspaces.ensure('w', { adminKey: ADMIN })
  const app = Fastify()
  installErrorHandler(app)
  await app.register(async (scope) =>
    anomalyRoutes(scope, { alerts: stores.alerts, rollups: stores.rollups, workspaces, clock }),
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const get = async (path: string, key: string | null = ADMIN) => {
    const res = await fetch(
      `${base}${path}`,
      key === null ? {} : { headers: { authorization: `Bearer ${key}` } },
    )
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  return {
    get,
    close: async () => {
      await app.close()
      db.close()
    },
  }
}

for (const backend of await observeBackends()) {
  describe(`anomaly alerts on ${backend.name}`, { skip: backend.skip }, () => {
    test('episodes that ended before the retention are deleted after a tick; active and recent ones are kept', async () => {
      const location = await backend.location()
      const DAY = 86_400_000
      const clock = testClock(T0 + MIN + GRACE)
      const stores = await backend.open(location, clock)
      try {
        const episode = (series: string, startedAt: number, endedAt: number | null) => ({
          id: `${series}@${startedAt}`,
          series,
          startedAt,
          endedAt,
          expectedLower: 1,
          expectedUpper: 2,
          observed: 9,
          peakScore: 5,
        })
        await stores.alerts.insert(episode('ingest_rate', T0 - 40 * DAY, T0 - 39 * DAY))
        await stores.alerts.insert(episode('render_p95', T0 - 40 * DAY, null))
        await stores.alerts.insert(episode('lag_p95', T0 - 3 * DAY, T0 - 2 * DAY))
        const watcher = new AnomalyWatcher({
          rollups: stores.rollups,
          alerts: stores.alerts,
          effects: { started: async () => {}, ended: async () => {}, active: () => {} },
          clock,
          logger: logger(),
          graceMs: GRACE,
          retentionMs: 30 * DAY,
        })
        await watcher.tick()
        await watcher.close()
        const kept = (await stores.alerts.list()).map((a) => [
          a.series,
          a.endedAt === null ? 'active' : 'ended',
        ])
        // The old active one is kept (these effects do nothing, so the rebuild does not end it).
        assert.deepEqual(kept.sort(), [
          ['lag_p95', 'ended'],
          ['render_p95', 'active'],
        ])
        assert.equal(await stores.alerts.deleteEndedBefore(T0), 1, 'lag_p95 ended before T0')
      } finally {
        await stores.close()
        await backend.cleanup(location)
      }
    })

    test('a spike after a stable history is one episode: stored, gauged, shown, and POSTed signed once per start and end, across a restart', async () => {
      const location = await backend.location()
      const clock = testClock(T0 + 5_000)
      // The first POST fails: the start is delivered by the retry.
      const receiver = await startReceiver((n) => (n === 0 ? 500 : 204))
      let stores = await backend.open(location, clock)
      const api = await startApi(stores, clock)
      try {
        const history = []
        for (let i = HISTORY; i >= 1; i--) {
          const minute = T0 - i * MIN
          history.push({ minute, name: 'ingest_accepted', le: '', instance: 'before', value: normal(-i) })
          history.push({ minute, name: HEARTBEAT, le: '', instance: 'before', value: 1 })
        }
        await stores.rollups.add(history)

        let proc = await startProcess(stores, clock, 'proc-1', receiver.url)
        const seen: { k: number; gauge: number | undefined; active: number }[] = []
        for (let k = 0; k <= LAST; k++) {
          proc.metrics.ingestEvents.inc({ outcome: 'accepted' }, rateAt(k))
          proc.metrics.ingestEvents.inc({ outcome: 'rejected' }, 50)
          clock.t = T0 + (k + 1) * MIN + 100
          await proc.roller.tick()
          clock.t = T0 + (k + 1) * MIN + GRACE
          // The first tick replays what is there (minute 0 too) without acting; then one minute per tick.
          assert.equal(await proc.watcher.tick(), k === 0 ? 0 : 1, `minutes acted on after minute ${k}`)
          await proc.dispatcher.drain()
          const active = (await stores.alerts.list({ state: 'active' })).length
          seen.push({ k, gauge: await gauge(proc.metrics, 'ingest_rate'), active })
          if (k === 21) {
            // During the episode: the API shows it active.
            const during = await api.get('/v1/anomalies?state=active')
            assert.equal(during.status, 200)
            assert.deepEqual(
              (during.body.anomalies as { series: string; state: string }[]).map((a) => [a.series, a.state]),
              [['ingest_rate', 'active']],
            )
            // A restart, as a new process: new registry, roller, detectors; the stores reopened.
            await proc.roller.close()
            await proc.watcher.close()
            await proc.dispatcher.close()
            stores = await backend.open(location, clock)
            proc = await startProcess(stores, clock, 'proc-2', receiver.url)
            assert.equal(await proc.watcher.tick(), 0, 'nothing new to act on right after the restart')
            assert.equal(
              await gauge(proc.metrics, 'ingest_rate'),
              1,
              'the new process gauges the open episode',
            )
          }
        }

        const alerts = await stores.alerts.list()
        assert.equal(alerts.length, 1, JSON.stringify(alerts))
        const [alert] = alerts
        assert.equal(alert?.series, 'ingest_rate')
        assert.equal(alert?.startedAt, T0 + SPIKE[0]! * MIN)
        assert.equal(alert?.observed, 1000)
        assert.ok(
          alert && alert.expectedLower <= 100 && alert.expectedUpper >= 100 && alert.expectedUpper < 1000,
          JSON.stringify(alert),
        )
        // The episode ends at the first normal minute after the spike, known DEFAULT_QUIET_POINTS minutes later.
        assert.equal(alert?.endedAt, T0 + (SPIKE.at(-1)! + 1) * MIN, JSON.stringify(alert))
        const endKnownAt = SPIKE.at(-1)! + DEFAULT_QUIET_POINTS

        // The gauge: 0 before, 1 from the first anomalous minute until the end is known, 0 after.
        for (const { k, gauge: g, active } of seen) {
          const inEpisode = k >= SPIKE[0]! && k < endKnownAt
          assert.equal(g, inEpisode ? 1 : 0, `gauge after minute ${k}`)
          assert.equal(active, inEpisode ? 1 : 0, `active alerts after minute ${k}`)
        }
        assert.deepEqual(
          proc.log.lines.filter((l) => l.msg.startsWith('anomaly')).map((l) => [l.level, l.msg]),
          [['info', 'anomaly ended: ingest_rate']],
          'the second process logged the end (the first one logged the start)',
        )

        // Webhooks: the failed start, its retry, the end; each signed over its exact body.
        const reqs = receiver.requests
        assert.equal(reqs.length, 3)
        const bodies = reqs.map(
          (r) => JSON.parse(r.body) as { type: string; alert: { id: string; state: string } },
        )
        assert.deepEqual(
          bodies.map((b) => [b.type, b.alert.id, b.alert.state]),
          [
            ['anomaly.started', alert.id, 'active'],
            ['anomaly.started', alert.id, 'active'],
            ['anomaly.ended', alert.id, 'ended'],
          ],
        )
        assert.equal(
          reqs[0]?.headers['inkstream-delivery'],
          reqs[1]?.headers['inkstream-delivery'],
          'the retry is the same delivery',
        )
        for (const r of reqs) {
          const header = String(r.headers['inkstream-signature'])
          const t = Number(/t=(\d+)/.exec(header)?.[1]) * 1000
          assert.deepEqual(verifySignature(header, r.body, SECRET, t), { ok: true, t: t / 1000 })
          assert.deepEqual(verifySignature(header, r.body, 'another-secret-0123456', t), {
            ok: false,
            reason: 'mismatch',
          })
        }

        // The API: the episode, and the merged per-minute values of the spike.
        const list = await api.get('/v1/anomalies?state=ended&series=ingest_rate')
        assert.equal(list.status, 200)
        assert.deepEqual(list.body.anomalies, [
          {
            id: alert.id,
            series: 'ingest_rate',
            state: 'ended',
            startedAt: new Date(alert.startedAt).toISOString(),
            endedAt: new Date(alert.endedAt).toISOString(),
            expected: { lower: alert.expectedLower, upper: alert.expectedUpper },
            observed: 1000,
            peakScore: alert.peakScore,
          },
        ])
        assert.deepEqual((await api.get('/v1/anomalies?state=active')).body, { anomalies: [] })
        const from = new Date(T0 + 19 * MIN).toISOString()
        const to = new Date(T0 + 23 * MIN).toISOString()
        const rollups = await api.get(`/v1/anomalies/rollups?series=ingest_rate&from=${from}&to=${to}`)
        assert.equal(rollups.status, 200)
        assert.deepEqual(
          (rollups.body.minutes as { values: Record<string, number | null> }[]).map(
            (m) => m.values.ingest_rate,
          ),
          [normal(19), 1000, 1000, 1000],
        )
      } finally {
        await api.close()
        await receiver.close()
        await stores.close()
        await backend.cleanup(location)
      }
    })

    for (const restart of [false, true])
      test(`a tick that fails after a minute's alert was stored, before its watermark, is recovered ${restart ? 'by a new process' : 'in the same process'}: the alert is not ended early nor sent twice`, async () => {
        const location = await backend.location()
        const clock = testClock(T0 + 5_000)
        const receiver = await startReceiver(() => 204)
        const stores = await backend.open(location, clock)
        try {
          const history = []
          for (let i = HISTORY; i >= 1; i--) {
            const minute = T0 - i * MIN
            history.push({ minute, name: 'ingest_accepted', le: '', instance: 'before', value: normal(-i) })
            history.push({ minute, name: HEARTBEAT, le: '', instance: 'before', value: 1 })
          }
          await stores.rollups.add(history)
          // The store drops the connection once: at the first spike minute's watermark, after its
          // alert and the start's delivery were written.
          let failAt: number | undefined = T0 + SPIKE[0]! * MIN
          const real = stores.alerts
          const flaky = new Proxy(real, {
            get(target, name) {
              if (name === 'setWatermark')
                return async (m: number) => {
                  if (m === failAt) {
                    failAt = undefined
                    throw new Error('connection terminated unexpectedly')
                  }
                  return target.setWatermark(m)
                }
              const v = Reflect.get(target, name)
              return typeof v === 'function' ? v.bind(target) : v
            },
          })
          let proc = await startProcess(stores, clock, 'proc-1', receiver.url, flaky)
          for (let k = 0; k <= LAST; k++) {
            proc.metrics.ingestEvents.inc({ outcome: 'accepted' }, rateAt(k))
            clock.t = T0 + (k + 1) * MIN + 100
            await proc.roller.tick()
            clock.t = T0 + (k + 1) * MIN + GRACE
            if (k === SPIKE[0]) {
              await assert.rejects(proc.watcher.tick(), /connection terminated/)
              assert.equal((await stores.alerts.list({ state: 'active' })).length, 1, 'the alert was stored')
              if (restart) {
                // The process dies there; a new one starts from the stores.
                await proc.roller.close()
                await proc.watcher.close()
                await proc.dispatcher.close()
                proc = await startProcess(stores, clock, 'proc-2', receiver.url, flaky)
              }
              continue
            }
            // After the failure: the rebuild, then the failed minute again and this one.
            const expected = k === 0 ? 0 : k === SPIKE[0]! + 1 ? 2 : 1
            assert.equal(await proc.watcher.tick(), expected, `minutes acted on after minute ${k}`)
            await proc.dispatcher.drain()
            const inEpisode = k >= SPIKE[0]! && k < SPIKE.at(-1)! + DEFAULT_QUIET_POINTS
            assert.equal(
              await gauge(proc.metrics, 'ingest_rate'),
              inEpisode ? 1 : 0,
              `gauge after minute ${k}`,
            )
            assert.equal(
              (await stores.alerts.list({ state: 'active' })).length,
              inEpisode ? 1 : 0,
              `active alerts after minute ${k}`,
            )
          }
          const alerts = await stores.alerts.list()
          assert.deepEqual(
            alerts.map((a) => [a.startedAt, a.endedAt]),
            [[T0 + SPIKE[0]! * MIN, T0 + (SPIKE.at(-1)! + 1) * MIN]],
          )
          assert.deepEqual(
            receiver.requests.map((r) => (JSON.parse(r.body) as { type: string }).type),
            ['anomaly.started', 'anomaly.ended'],
          )
          assert.deepEqual(
            proc.log.lines.filter((l) => l.msg.startsWith('anomaly alert ended')),
            [],
            'no alert ended by a reconciliation',
          )
          await proc.roller.close()
          await proc.watcher.close()
          await proc.dispatcher.close()
        } finally {
          await receiver.close()
          await stores.close()
          await backend.cleanup(location)
        }
      })

    test('a process that loses the watcher lock clears its gauge of an open episode; the new holder gauges it', async () => {
      const location = await backend.location()
      const clock = testClock(T0 + MIN + GRACE)
      const stores = await backend.open(location, clock)
      try {
        // A detector that flags any rate above 500, so that one minute opens an episode.
        const detector = () => ({
          push: (t: number, value: number | null) => ({
            t,
            value,
            expected: 100,
            lower: 90,
            upper: 110,
            score: value !== null && value > 500 ? 10 : 0,
            anomaly: value !== null && value > 500,
          }),
        })
        const holder: { a: boolean | 'unreachable' } = { a: true }
        const watcherOf = (name: 'a' | 'b') => {
          const metrics = createMetrics({ defaultMetrics: false })
          const log = logger()
          const effects = alertEffects({ alerts: stores.alerts, registry: metrics.registry, logger: log })
          const watcher = new AnomalyWatcher({
            rollups: stores.rollups,
            alerts: stores.alerts,
            effects,
            clock,
            logger: log,
            graceMs: GRACE,
            detector,
            locks: {
              tryHold: async () => {
                if (holder.a === 'unreachable' && name === 'a') throw new Error('connect ECONNREFUSED')
                return holder.a === (name === 'a')
              },
              release: async () => {},
            },
          })
          return { metrics, watcher }
        }
        const a = watcherOf('a')
        const b = watcherOf('b')
        const write = (k: number, value: number) =>
          stores.rollups.add([
            { minute: T0 + k * MIN, name: 'ingest_accepted', le: '', instance: 'x', value },
            { minute: T0 + k * MIN, name: HEARTBEAT, le: '', instance: 'x', value: 1 },
          ])
        await write(0, 100)
        assert.deepEqual([await a.watcher.tick(), await b.watcher.tick()], [0, 0])
        await write(1, 1000)
        clock.t = T0 + 2 * MIN + GRACE
        assert.equal(await a.watcher.tick(), 1)
        assert.equal(await gauge(a.metrics, 'ingest_rate'), 1)
        // a cannot reach the database to check its lock: it stops watching and clears its gauge.
        holder.a = 'unreachable'
        assert.equal(await a.watcher.tick(), 0)
        assert.equal(a.watcher.watching, false)
        assert.equal(await gauge(a.metrics, 'ingest_rate'), 0, 'a gauge it cannot vouch for is cleared')
        holder.a = true
        assert.equal(await a.watcher.tick(), 0, 'rebuilt: the minute was acted on already')
        assert.equal(await gauge(a.metrics, 'ingest_rate'), 1)
        // a loses the lock (its connection dropped); b takes over.
        holder.a = false
        assert.equal(await a.watcher.tick(), 0)
        assert.equal(a.watcher.watching, false)
        assert.equal(await gauge(a.metrics, 'ingest_rate'), 0, 'no longer the watcher: not its gauge')
        assert.equal(await b.watcher.tick(), 0)
        assert.equal(await gauge(b.metrics, 'ingest_rate'), 1, 'the new watcher gauges the open episode')
        await a.watcher.close()
        await b.watcher.close()
      } finally {
        await stores.close()
        await backend.cleanup(location)
      }
    })

    test('a first start replays the retained history without alerting on it, and ends alerts it does not find open', async () => {
      const location = await backend.location()
      const clock = testClock(T0 + MIN + GRACE)
      const stores = await backend.open(location, clock)
      try {
        const history = []
        for (let i = HISTORY; i >= 1; i--) {
          const minute = T0 - i * MIN
          // A spike 100 minutes ago: an episode the detector finds, but in the past.
          const value = i >= 98 && i <= 100 ? 1000 : normal(-i)
          history.push({ minute, name: 'ingest_accepted', le: '', instance: 'before', value })
          history.push({ minute, name: HEARTBEAT, le: '', instance: 'before', value: 1 })
        }
        await stores.rollups.add(history)
        // An alert left active whose episode the history does not hold (say, its minutes aged out).
        const stale = STALE_ALERT
        await stores.alerts.insert(stale)
        const proc = await startProcess(stores, clock, 'proc-1', 'http://127.0.0.1:9/unused')
        assert.equal(await proc.watcher.tick(), 0)
        // Nothing about the past spike; the stale alert ended now, and its end is to be POSTed.
        assert.deepEqual(await stores.alerts.list(), [{ ...stale, endedAt: clock.t }])
        assert.deepEqual(
          (await stores.outbox.list('w')).map((d) => [d.kind, d.eventId]),
          [['alert', `${stale.id}:ended`]],
        )
        assert.equal(await stores.alerts.watermark(), T0)
        assert.equal(await gauge(proc.metrics, 'ingest_rate'), 0)
        await proc.roller.close()
      } finally {
        await stores.close()
        await backend.cleanup(location)
      }
    })

    test('an alert ended at a restart whose webhook could not be enqueued gets it from the next rebuild', async () => {
      const location = await backend.location()
      const clock = testClock(T0 + MIN + GRACE)
      const stores = await backend.open(location, clock)
      try {
        const stale = STALE_ALERT
        await stores.alerts.insert(stale)
        // The outbox refuses the first `ended` (a database blip after the end was stored).
        let refuse = 1
        const outbox = new Proxy(stores.outbox, {
          get(target, prop, receiver) {
            if (prop !== 'enqueueMessage') return Reflect.get(target, prop, receiver)
            return (m: { key: string }) => {
              if (m.key.endsWith(':ended') && refuse-- > 0) return Promise.reject(new Error('blip'))
              return target.enqueueMessage(m as Parameters<typeof target.enqueueMessage>[0])
            }
          },
        })
        const metrics = createMetrics({ defaultMetrics: false })
        const log = logger()
        const watcher = new AnomalyWatcher({
          rollups: stores.rollups,
          alerts: stores.alerts,
          effects: alertEffects({
            alerts: stores.alerts,
            registry: metrics.registry,
            logger: log,
            webhook: { outbox, workspaceId: 'w' },
          }),
          clock,
          logger: log,
          graceMs: GRACE,
        })
        await assert.rejects(watcher.tick(), /blip/)
        assert.deepEqual(await stores.alerts.list(), [{ ...stale, endedAt: clock.t }], 'ended, not sent')
        assert.deepEqual(await stores.outbox.list('w'), [])
        await watcher.tick()
        const endedAt = clock.t
        clock.t += MIN
        await watcher.tick()
        assert.deepEqual(
          (await stores.outbox.list('w')).map((d) => [d.kind, d.eventId]),
          [['alert', `${stale.id}:ended`]],
          'enqueued once',
        )
        assert.deepEqual(await stores.alerts.list(), [{ ...stale, endedAt }])
      } finally {
        await stores.close()
        await backend.cleanup(location)
      }
    })

    test('the API refuses bad queries with INK_ERR_BAD_REQUEST and a missing key with INK_ERR_UNAUTHORIZED', async () => {
      const location = await backend.location()
      const clock = testClock()
      const stores = await backend.open(location, clock)
      const api = await startApi(stores, clock)
      try {
        const refused = async (path: string, message: RegExp) => {
          const { status, body } = await api.get(path)
          assert.equal(status, 400, path)
          assert.equal(body.code, 'INK_ERR_BAD_REQUEST', path)
          assert.match(String(body.message), message, path)
        }
        await refused('/v1/anomalies?state=open', /state is one of active, ended/)
        await refused('/v1/anomalies?series=cpu', /series is one of ingest_rate/)
        await refused('/v1/anomalies?limit=0', /limit must be an integer from 1 to 1000/)
        await refused('/v1/anomalies/rollups?from=yesterday', /from: an ISO 8601 time/)
        await refused(
          '/v1/anomalies/rollups?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
          /from must be before to/,
        )
        await refused(
          '/v1/anomalies/rollups?from=2025-12-01T00:00:00Z&to=2026-01-01T00:00:00Z',
          /the range is at most 7 days/,
        )
        await refused('/v1/anomalies/rollups?from=2025-12-01T00:00:00Z', /the range is at most 7 days/)
        // Its next minute is in year 10000, which an ISO time of the answer cannot name (it was a 500).
        await refused('/v1/anomalies/rollups?to=9999-12-31T23:59:30Z', /at most 9999-12-31T23:59:00Z/)
        const lastMinute = await api.get('/v1/anomalies/rollups?to=9999-12-31T23:59:00Z')
        assert.equal(lastMinute.status, 200)
        const anon = await api.get('/v1/anomalies', null)
        assert.deepEqual([anon.status, anon.body.code], [401, 'INK_ERR_UNAUTHORIZED'])
        // Without from/to: the last hour, every minute, null without data.
        const empty = await api.get('/v1/anomalies/rollups?series=cc_success_ratio:api.shop')
        assert.equal(empty.status, 200)
        const minutes = empty.body.minutes as { t: string; values: Record<string, number | null> }[]
        assert.equal(minutes.length, 60)
        assert.deepEqual(minutes.at(-1), {
          t: new Date(T0).toISOString(),
          values: { 'cc_success_ratio:api.shop': null },
        })
      } finally {
        await api.close()
        await stores.close()
        await backend.cleanup(location)
      }
    })
  })
}
