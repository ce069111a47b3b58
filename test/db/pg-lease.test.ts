/**
 * Several sender processes on one database: a process recovers only the sends of processes that
 * are gone, and a campaign runs in one process at a time (PgProcessLease, db/pg-lease.ts). Each
 * "process" here is a pool and a lease of its own; closing a lease is what a process's death does
 * to its session.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import { CampaignService } from '../../src/campaigns/campaign-service.ts'
import { PgCampaignStore } from '../../src/campaigns/pg-campaign-store.ts'
import { PgSendLedger } from '../../src/campaigns/pg-send-ledger.ts'
import { InkError } from '../../src/core/errors.ts'
import { inTransaction } from '../../src/db/pg.ts'
import { ownerGone, PgProcessLease } from '../../src/db/pg-lease.ts'
import { startSenderRecovery } from '../../src/sender-recovery.ts'
import { applyJobOps } from '../../src/triggers/pg-trigger-schema.ts'
import { PgTriggerStore } from '../../src/triggers/pg-trigger-store.ts'
import { freshSchema, PG_URL, type PgSchema, pgSkip } from '../helpers/pg.ts'

const skip = await pgSkip()

async function processes(schema: PgSchema, n: number) {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const pool = schema.connect()
      const lease = await PgProcessLease.open(pool)
      return { pool, lease }
    }),
  )
}

const key = (recipient: string) => ({ workspaceId: 'w', campaignId: 'c', recipient })

/** A pending trigger job `tj.<n>`, as a processor commits it. */
const jobOp = (n: number) => ({
  kind: 'insert' as const,
  job: {
    workspaceId: 'w',
    triggerId: 't',
    jobId: `tj.${n}`,
    profileId: `p${n}`,
    userId: `u${n}`,
    eventAt: 1,
    dueAt: 1,
    event: { event: 'Product Viewed' },
  },
})

const springDraft = (store: PgCampaignStore) =>
  store.putDraft('w', 'spring', {
    name: 'Spring',
    templateId: 't',
    templateVersion: null,
    from: 'news@shop.example',
    audience: { userIds: ['u1'] },
    vars: {},
    ratePerSecond: null,
  })

/** A CampaignService under `lease` whose runner only calls `run` (renders and sends nothing). */
const stubService = (
  store: PgCampaignStore,
  lease: PgProcessLease,
  run: (campaignId: string) => Promise<void>,
) =>
  new CampaignService({
    store,
    locks: lease,
    runner: {
      run: async (_ws, c) => {
        await run(c.id)
        return { sent: 1, failed: 0, suppressed: 0, skipped: 0, unknown: 0, deferred: 0, remaining: 0 }
      },
      progress: async () => ({
        sending: 0,
        sent: 0,
        failed: 0,
        unknown: 0,
        suppressed: 0,
        skipped: 0,
        deferred: 0,
      }),
    },
    audience: {
      check: () => {},
      pages: async function* () {
        yield [{ userId: 'u1', email: 'u1@example.com' }]
      },
    },
    renderer: { compiled: async () => ({ version: 1 }) },
    defaultFrom: undefined,
    logger: { warn: () => {}, error: () => {} },
  })

/** The backend holding `key` (a lease's) as an advisory lock, if any. */
async function keyHolder(admin: pg.Client, key: string): Promise<number | undefined> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
       AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint`,
    [key],
  )
  return rows[0]?.pid
}

/** Ends the lease's session on the server, and waits until the lease has noticed (its onError). */
async function killSession(admin: pg.Client, key: string, errors: readonly Error[]): Promise<void> {
  await admin.query('SELECT pg_terminate_backend($1)', [await keyHolder(admin, key)])
  const deadline = Date.now() + 5000
  while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  assert.ok(errors.length >= 1, 'the loss was noticed')
}

describe('PgProcessLease', { skip }, () => {
  test('ownerGone is false exactly for the keys of open leases', async () => {
    const schema = await freshSchema()
    try {
      const [a, b] = await processes(schema, 2)
      const pool = schema.connect()
      await pool.query('CREATE TABLE claims (name text, owner_key bigint)')
      await pool.query('INSERT INTO claims VALUES ($1, $2), ($3, $4), ($5, NULL), ($6, $7)', [
        'a',
        a!.lease.key,
        'b',
        b!.lease.key,
        'legacy',
        'never',
        '-9223372036854775808',
      ])
      const gone = async () =>
        (
          await pool.query<{ name: string }>(
            `SELECT name FROM claims WHERE ${ownerGone('owner_key')} ORDER BY name`,
          )
        ).rows.map((r) => r.name)
      assert.deepEqual(await gone(), ['legacy', 'never'])
      await a!.lease.close()
      assert.deepEqual(await gone(), ['a', 'legacy', 'never'])
      await b!.lease.close()
    } finally {
      await schema.drop()
    }
  })

  test('the send ledger recovers only the claims of processes that are gone', async () => {
    const schema = await freshSchema()
    try {
      const [a, b] = await processes(schema, 2)
      const ledgerA = new PgSendLedger(a!.pool, { owner: a!.lease })
      const ledgerB = new PgSendLedger(b!.pool, { owner: b!.lease })
      await Promise.all([ledgerA.ready(), ledgerB.ready()])
      assert.ok(await ledgerA.claim(key('r1'), 'r1@example.com', 'm1'))
      assert.ok(await ledgerB.claim(key('r2'), 'r2@example.com', 'm2'))
      // B starts a run while A is still sending r1: nothing is A's or B's to recover.
      assert.deepEqual(await ledgerB.recoverInterrupted('w', 'c'), [])
      assert.equal((await ledgerB.get(key('r1')))?.state, 'sending')
      await a!.lease.close() // A dies
      assert.deepEqual(await ledgerB.recoverInterrupted('w', 'c'), ['r1'])
      assert.equal((await ledgerB.get(key('r1')))?.state, 'unknown')
      assert.equal((await ledgerB.get(key('r2')))?.state, 'sending', 'B is alive: its claim stays')
      await b!.lease.close()
    } finally {
      await schema.drop()
    }
  })

  test('trigger jobs: a starting sender leaves the jobs another live sender is sending', async () => {
    const schema = await freshSchema()
    try {
      const [a, b] = await processes(schema, 2)
      const jobsA = new PgTriggerStore(a!.pool, { owner: a!.lease })
      const jobsB = new PgTriggerStore(b!.pool, { owner: b!.lease })
      await Promise.all([jobsA.ready(), jobsB.ready()])
      await inTransaction(a!.pool, (c) => applyJobOps(c, [jobOp(1), jobOp(2)], 1))
      assert.ok(await jobsA.claim('w', 'tj.1'))
      assert.equal(await jobsB.recoverInterrupted(), 0)
      assert.equal((await jobsB.getJob('w', 'tj.1'))?.state, 'sending')
      await a!.lease.close()
      assert.equal(await jobsB.recoverInterrupted(), 1)
      assert.equal((await jobsB.getJob('w', 'tj.1'))?.state, 'unknown')
      assert.equal((await jobsB.getJob('w', 'tj.2'))?.state, 'pending')
      await b!.lease.close()
    } finally {
      await schema.drop()
    }
  })

  test('a campaign runs in one process at a time; a starting sender does not resume one another process runs', async () => {
    const schema = await freshSchema()
    try {
      const [a, b] = await processes(schema, 2)
      const storeA = new PgCampaignStore(a!.pool)
      const storeB = new PgCampaignStore(b!.pool)
      await Promise.all([storeA.ready(), storeB.ready()])
      await springDraft(storeA)
      let finishA: () => void = () => {}
      const runs: string[] = []
      const service = (name: string, store: PgCampaignStore, lease: PgProcessLease, block: boolean) =>
        stubService(store, lease, async () => {
          runs.push(name)
          if (block) await new Promise<void>((resolve) => (finishA = resolve))
        })
      const serviceA = service('A', storeA, a!.lease, true)
      const serviceB = service('B', storeB, b!.lease, false)
      await serviceA.start('w', 'spring')
      await assert.rejects(
        serviceB.start('w', 'spring'),
        (err: unknown) => err instanceof InkError && err.code === 'INK_ERR_CAMPAIGN_RUNNING',
      )
      // B starts up and looks for interrupted campaigns: this one is A's, alive, so B leaves it.
      await serviceB.resumeInterrupted()
      assert.equal((await storeB.get('w', 'spring'))?.state, 'running')
      assert.deepEqual(runs, ['A'])
      finishA()
      await serviceA.close()
      assert.equal((await storeB.get('w', 'spring'))?.state, 'done')
      // A's run is over and its lock released: B may run it (a restart, say).
      await serviceB.start('w', 'spring')
      await serviceB.close()
      assert.deepEqual(runs, ['A', 'B'])
      await a!.lease.close()
      await b!.lease.close()
    } finally {
      await schema.drop()
    }
  })

  test('a running sender takes over the job and the campaign of a sender that dies', async () => {
    const schema = await freshSchema()
    try {
      const [a, b] = await processes(schema, 2)
      const jobsA = new PgTriggerStore(a!.pool, { owner: a!.lease })
      const jobsB = new PgTriggerStore(b!.pool, { owner: b!.lease })
      const storeA = new PgCampaignStore(a!.pool)
      const storeB = new PgCampaignStore(b!.pool)
      await Promise.all([jobsA.ready(), jobsB.ready(), storeA.ready(), storeB.ready()])
      await inTransaction(a!.pool, (c) => applyJobOps(c, [jobOp(1)], 1))
      assert.ok(await jobsA.claim('w', 'tj.1'))
      await springDraft(storeA)
      // A was sending the campaign: running, under A's lock.
      await storeA.marks.running('w', 'spring', 1)
      assert.ok(await a!.lease.tryHold('inkstream.campaign\nw\nspring'))
      const resumed: string[] = []
      const serviceB = stubService(storeB, b!.lease, async (id) => {
        resumed.push(id)
      })
      const stop = startSenderRecovery({
        triggers: jobsB,
        campaigns: serviceB,
        intervalMs: 50,
        logger: { info: () => {}, warn: () => {} },
      })
      try {
        await new Promise((r) => setTimeout(r, 300))
        assert.equal((await jobsB.getJob('w', 'tj.1'))?.state, 'sending', 'A is alive: its job stays')
        assert.deepEqual(resumed, [], 'A is alive: its campaign is not resumed')
        await a!.lease.close() // A dies
        const deadline = Date.now() + 5000
        while (
          (resumed.length === 0 || (await jobsB.getJob('w', 'tj.1'))?.state === 'sending') &&
          Date.now() < deadline
        )
          await new Promise((r) => setTimeout(r, 20))
        assert.equal((await jobsB.getJob('w', 'tj.1'))?.state, 'unknown')
        assert.deepEqual(resumed, ['spring'])
      } finally {
        await stop()
        await serviceB.close()
        await b!.lease.close()
      }
      assert.equal((await storeB.get('w', 'spring'))?.state, 'done')
    } finally {
      await schema.drop()
    }
  })

  test('between the loss of its session and the reconnect, a lease does not answer from memory that it holds a lock', async () => {
    const schema = await freshSchema()
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    try {
      const errors: Error[] = []
      // Reconnects only when asked (the retry is far off): the window the answer must not come from.
      const lease = await PgProcessLease.open(schema.connect(), {
        retryMs: 60_000,
        onError: (e) => errors.push(e),
      })
      const [other] = await processes(schema, 1)
      assert.equal(await lease.tryHold('watcher'), true)
      await killSession(admin, lease.key, errors)
      // The other process takes the lock while the lease is down; the lease must then say it lost it.
      assert.equal(await other!.lease.tryHold('watcher'), true)
      assert.equal(await lease.tryHold('watcher'), false, 'not both')
      await other!.lease.close()
      assert.equal(await lease.tryHold('watcher'), true, 'taken again once free')
      await lease.close()
    } finally {
      await admin.end()
      await schema.drop()
    }
  })

  test('a reconnect held up by a session PostgreSQL has not reaped yet answers "not held" after reconnectWaitMs', async () => {
    const schema = await freshSchema()
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    // Stands in for the old session still alive on the server (a half-open connection): the key held.
    const zombie = new pg.Client({ connectionString: PG_URL })
    await zombie.connect()
    try {
      const errors: Error[] = []
      const lease = await PgProcessLease.open(schema.connect(), {
        retryMs: 60_000,
        reconnectWaitMs: 300,
        onError: (e) => errors.push(e),
      })
      assert.equal(await lease.tryHold('watcher'), true)
      await killSession(admin, lease.key, errors)
      await zombie.query('SELECT pg_advisory_lock($1::bigint)', [lease.key])
      const t0 = Date.now()
      assert.equal(await lease.tryHold('watcher'), false, 'not held while the reconnect waits')
      assert.ok(Date.now() - t0 < 3000, 'answered, not hung')
      await zombie.query('SELECT pg_advisory_unlock_all()')
      // The reconnect that waited goes on, takes the key and the lock back.
      const until = Date.now() + 5000
      let held = false
      while (!held && Date.now() < until) {
        held = await lease.tryHold('watcher')
        if (!held) await new Promise((r) => setTimeout(r, 20))
      }
      assert.equal(held, true)
      await lease.close()
    } finally {
      await zombie.end()
      await admin.end()
      await schema.drop()
    }
  })

  test('a lease whose connection is killed reconnects, holding its key and its named locks again', async () => {
    const schema = await freshSchema()
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    try {
      const errors: Error[] = []
      const lease = await PgProcessLease.open(schema.connect(), {
        retryMs: 50,
        onError: (e) => errors.push(e),
      })
      const [other] = await processes(schema, 1)
      assert.equal(await lease.tryHold('job-x'), true)
      assert.equal(await other!.lease.tryHold('job-x'), false)
      const holder = () => keyHolder(admin, lease.key)
      const first = await holder()
      assert.ok(first !== undefined)
      await admin.query('SELECT pg_terminate_backend($1)', [first])
      // A new session holds the key once the lease has noticed and reconnected.
      const deadline = Date.now() + 5000
      let now = await holder()
      while ((now === undefined || now === first) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20))
        now = await holder()
      }
      assert.ok(now !== undefined && now !== first, 'the key is held again, by a new session')
      assert.ok(errors.length >= 1, 'the loss was reported')
      assert.equal(await other!.lease.tryHold('job-x'), false, 'and the named lock with it')
      await lease.close()
      assert.equal(await other!.lease.tryHold('job-x'), true)
      await other!.lease.close()
    } finally {
      await admin.end()
      await schema.drop()
    }
  })
})
