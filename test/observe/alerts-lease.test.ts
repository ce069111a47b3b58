/**
 * One watcher per scale-out deployment: two processes (two pools, each with its process lease) on one
 * PostgreSQL store; only the holder of the watcher lock acts on a minute, and when it dies (its lease
 * connection closes) the other takes over from the shared watermark, acting on each minute once.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { PgProcessLease } from '../../src/db/pg-lease.ts'
import { alertEffects } from '../../src/observe/alerts/alert-effects.ts'
import { AnomalyWatcher } from '../../src/observe/alerts/anomaly-watcher.ts'
import { PgAlertStore } from '../../src/observe/alerts/pg-alert-store.ts'
import { createMetrics } from '../../src/observe/metrics.ts'
import { PgRollupStore } from '../../src/observe/rollups/pg-rollup-store.ts'
import { HEARTBEAT } from '../../src/observe/rollups/rollup-series.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { MIN, T0, testClock } from './alerts-backends.ts'

const skip = await pgSkip()
const silent = { warn: () => {}, info: () => {}, error: () => {} }

describe('the anomaly watcher in scale-out', { skip }, () => {
  test('only the lock holder acts; another process takes over when it dies, from the shared watermark', async () => {
    const schema = await freshSchema()
    const clock = testClock(T0 + MIN + 15_000)
    // A name of its own: advisory locks are database-wide, other test files may run meanwhile.
    const lockName = `test-watcher-${randomBytes(6).toString('hex')}`
    const leases: PgProcessLease[] = []
    try {
      const proc = async () => {
        const pool = schema.connect(4)
        const rollups = new PgRollupStore(pool)
        const alerts = new PgAlertStore(pool)
        await Promise.all([rollups.ready(), alerts.ready()])
        const lease = await PgProcessLease.open(pool)
        leases.push(lease)
        const effects = alertEffects({
          alerts,
          registry: createMetrics({ defaultMetrics: false }).registry,
          logger: silent,
        })
        const watcher = new AnomalyWatcher({
          rollups,
          alerts,
          effects,
          clock,
          logger: silent,
          locks: lease,
          lockName,
          graceMs: 15_000,
        })
        return { rollups, alerts, lease, watcher }
      }
      const a = await proc()
      const b = await proc()
      const write = (k: number) =>
        a.rollups.add([
          { minute: T0 + k * MIN, name: 'ingest_accepted', le: '', instance: 'x', value: 100 },
          { minute: T0 + k * MIN, name: HEARTBEAT, le: '', instance: 'x', value: 1 },
        ])
      await write(0)
      assert.deepEqual([await a.watcher.tick(), await b.watcher.tick()], [0, 0])
      assert.deepEqual([a.watcher.watching, b.watcher.watching], [true, false])
      for (let k = 1; k <= 3; k++) {
        await write(k)
        clock.t = T0 + (k + 1) * MIN + 15_000
        assert.deepEqual([await b.watcher.tick(), await a.watcher.tick()], [0, 1], `minute ${k}`)
      }
      assert.equal(await b.alerts.watermark(), T0 + 3 * MIN)
      // a dies: its lease connection closes and PostgreSQL releases the lock.
      await a.lease.close()
      await write(4)
      await write(5)
      clock.t = T0 + 6 * MIN + 15_000
      assert.equal(await b.watcher.tick(), 2, 'minutes 4 and 5, once each')
      assert.equal(b.watcher.watching, true)
      assert.equal(await b.alerts.watermark(), T0 + 5 * MIN)
      await b.watcher.close()
    } finally {
      for (const l of leases) await l.close().catch(() => {})
      await schema.drop()
    }
  })
})
