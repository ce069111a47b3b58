/**
 * The processor over a BatchStore: identity resolution, dedupe, offsets and failed commits as
 * the store must support them. Part of the BatchStore seam suite (profile-store-suite.ts).
 * The tests drive `handle()` directly; the log is not read.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, mock, test } from 'node:test'
import { ArmedFailpoints } from '../../src/core/failpoints.ts'
import type { InkEvent, LogRecord } from '../../src/core/types.ts'
import type { BatchHandler, ConsumeOptions, EventLog } from '../../src/log/event-log.ts'
import { createMetrics, observeBatch } from '../../src/observe/metrics.ts'
import { type BatchChanges, type BatchStore, ProfileConflictError } from '../../src/pipeline/batch-store.ts'
import { type BatchReport, Processor, type ProcessorDeps } from '../../src/pipeline/processor.ts'
import { materialize } from '../../src/traits/computed-traits.ts'
import { loadTraitsConfig } from '../../src/traits/traits-config.ts'
import type { OpenStores, Stores } from '../profiles/store-set.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')
const traits = loadTraitsConfig().traits

/** The processor needs a log only to consume; `handle()` is called directly here. */
export const unusedLog: EventLog = {
  append: () => Promise.reject(new Error('not used by these tests')),
  consume: () => {
    throw new Error('not used by these tests')
  },
  lag: async () => 0,
  close: async () => {},
}

let offset = 0
const rec = (e: Partial<InkEvent> & Pick<InkEvent, 'type'>, workspaceId = 'w'): LogRecord => ({
  partition: 0,
  offset: ++offset,
  event: {
    messageId: `m${offset}`,
    workspaceId,
    timestamp: new Date(NOW).toISOString(),
    receivedAt: new Date(NOW).toISOString(),
    ...e,
  },
})
const order = (ids: { userId?: string; anonymousId?: string }, revenue: number, messageId?: string) =>
  rec({
    type: 'track',
    event: 'Order Completed',
    properties: { revenue },
    ...ids,
    ...(messageId ? { messageId } : {}),
  })

export function processorSuite(name: string, open: OpenStores, opts: { skip?: string | false } = {}) {
  describe(`processor over ${name}`, { skip: opts.skip ?? false }, () => {
    let stores: Stores
    let store: BatchStore
    let processor: Processor
    let metrics: ReturnType<typeof createMetrics>
    beforeEach(async () => {
      offset = 0
      stores = await open({ now: () => NOW })
      store = stores.profiles
      metrics = createMetrics({ defaultMetrics: false })
      processor = new Processor({
        log: unusedLog,
        store,
        traits,
        onBatch: (report) => observeBatch(metrics, report),
        clock: { now: () => NOW },
        logger: { error: () => {}, warn: () => {} },
        batchSize: 100,
        dedupeWindowMs: 7 * 86_400_000,
      })
    })
    afterEach(() => stores.close())

    const profile = async (kind: 'userId' | 'anonymousId', id: string, ws = 'w') => {
      const pid = await store.findProfileId(ws, kind, id)
      assert.ok(pid, `no profile for ${kind} ${id}`)
      const p = await store.getProfile(ws, pid)
      assert.ok(p)
      return { ...p, traits: materialize(p.state, traits, NOW), ids: await store.identities(ws, pid) }
    }

    test('an anonymous history merges into the known profile when identify ties the ids together', async () => {
      await processor.handle([order({ userId: 'u1' }, 100)])
      await processor.handle([
        rec({
          type: 'track',
          event: 'Product Viewed',
          anonymousId: 'a1',
          properties: { product_id: 'p9', name: 'Lamp' },
        }),
        order({ anonymousId: 'a1' }, 5),
      ])
      await processor.handle([
        rec({ type: 'identify', userId: 'u1', anonymousId: 'a1', traits: { email: 'u1@example.com' } }),
      ])
      const known = await profile('userId', 'u1')
      assert.equal(known.traits.orders_total, 2)
      assert.equal(known.traits.revenue_total, 105)
      assert.equal(known.traits.email, 'u1@example.com')
      assert.equal((known.traits.last_viewed_product as { product_id: string }).product_id, 'p9')
      assert.deepEqual(known.ids, [
        { kind: 'anonymousId', value: 'a1' },
        { kind: 'userId', value: 'u1' },
      ])
      const viaAnon = await profile('anonymousId', 'a1')
      assert.equal(viaAnon.profileId, known.profileId)
    })

    test('an anonymous visitor who identifies for the first time keeps the same profile', async () => {
      await processor.handle([order({ anonymousId: 'a2' }, 7)])
      const before = await profile('anonymousId', 'a2')
      await processor.handle([rec({ type: 'identify', userId: 'u2', anonymousId: 'a2' })])
      const after = await profile('userId', 'u2')
      assert.equal(after.profileId, before.profileId)
      assert.equal(after.userId, 'u2')
      assert.equal(after.traits.revenue_total, 7)
    })

    test('a merge inside one batch is seen by the later events of that batch', async () => {
      await processor.handle([
        order({ anonymousId: 'a3' }, 1),
        order({ userId: 'u3' }, 2),
        rec({ type: 'identify', userId: 'u3', anonymousId: 'a3' }),
        order({ anonymousId: 'a3' }, 4),
      ])
      assert.equal((await profile('userId', 'u3')).traits.revenue_total, 7)
    })

    test('two known users sharing a device are not merged; alias merges explicitly', async () => {
      await processor.handle([
        rec({ type: 'identify', userId: 'u4', anonymousId: 'dev' }),
        order({ userId: 'u4' }, 1),
      ])
      await processor.handle([
        rec({ type: 'identify', userId: 'u5', anonymousId: 'dev' }),
        order({ userId: 'u5' }, 2),
      ])
      assert.equal((await profile('userId', 'u4')).traits.revenue_total, 1)
      assert.equal((await profile('userId', 'u5')).traits.revenue_total, 2)
      await processor.handle([rec({ type: 'alias', previousId: 'u4', userId: 'u5' })])
      const merged = await profile('userId', 'u5')
      assert.equal(merged.traits.revenue_total, 3)
      assert.equal((await profile('userId', 'u4')).profileId, merged.profileId)
    })

    test('a redelivered batch and a repeated messageId are applied once', async () => {
      const batch = [order({ userId: 'u6' }, 10, 'dup-1'), order({ userId: 'u6' }, 20, 'dup-2')]
      await processor.handle(batch)
      await processor.handle(batch)
      await processor.handle([order({ userId: 'u6' }, 10, 'dup-1')])
      const p = await profile('userId', 'u6')
      assert.equal(p.traits.orders_total, 2)
      assert.equal(p.traits.revenue_total, 30)
      const dup = (await metrics.processedEvents.get()).values.find((v) => v.labels.outcome === 'duplicate')
      assert.equal(dup?.value, 3)
    })

    test('the same messageId in two workspaces is two events', async () => {
      await processor.handle([
        rec({ type: 'track', event: 'Order Completed', userId: 'u', messageId: 'same' }, 'w1'),
      ])
      await processor.handle([
        rec({ type: 'track', event: 'Order Completed', userId: 'u', messageId: 'same' }, 'w2'),
      ])
      assert.equal((await profile('userId', 'u', 'w1')).traits.orders_total, 1)
      assert.equal((await profile('userId', 'u', 'w2')).traits.orders_total, 1)
    })

    test('the applied offset is committed with the profiles and the lag is observed', async () => {
      await processor.handle([order({ userId: 'u7' }, 1), order({ userId: 'u7' }, 1)])
      const offsets = await store.appliedOffsets('profiles')
      assert.equal(offsets.get(0), offset)
      const lag = await metrics.pipelineLag.get()
      assert.ok(
        lag.values.some((v) => v.metricName === 'inkstream_pipeline_lag_seconds_count' && v.value === 2),
      )
    })

    test('a batch whose commit fails leaves no trace, and retrying it applies each event once', async () => {
      await processor.handle([order({ userId: 'u8' }, 1)])
      const commit = store.commit.bind(store)
      let failures = 1
      store.commit = async (changes) => {
        if (failures-- > 0) throw new Error('SQLITE_FULL')
        return commit(changes)
      }
      const batch = [order({ userId: 'u8' }, 10), order({ userId: 'u8' }, 100)]
      await assert.rejects(processor.handle(batch), /SQLITE_FULL/)
      await processor.handle(batch)
      const p = await profile('userId', 'u8')
      assert.equal(p.traits.orders_total, 3)
      assert.equal(p.traits.revenue_total, 111)
    })

    test('applied offsets never move back: an older batch redelivered after a newer one leaves them where they were', async () => {
      const older = [order({ userId: 'u10' }, 1)]
      const newer = [order({ userId: 'u10' }, 2)]
      await processor.handle(older)
      await processor.handle(newer)
      // As after a rebalance: the former owner's batch arrives again, after the newer one.
      await processor.handle(older)
      assert.equal((await store.appliedOffsets('profiles')).get(0), newer[0]!.offset)
      assert.equal((await profile('userId', 'u10')).traits.orders_total, 2)
    })

    test('a partition taken back after another processor changed its profiles: the warm cache is dropped, no change is lost', async () => {
      // The log of a consumer group: the test plays the rebalances (onAssigned) and the batches.
      let handler: BatchHandler | undefined
      let consumeOpts: ConsumeOptions = {}
      const log: EventLog = {
        ...unusedLog,
        consume: (_group, h, o) => {
          handler = h
          consumeOpts = o ?? {}
          return { close: async () => {} }
        },
      }
      const deps = {
        store,
        traits,
        clock: { now: () => NOW },
        logger: { error: () => {}, warn: () => {} },
        batchSize: 100,
        dedupeWindowMs: 7 * 86_400_000,
      }
      const a = new Processor({ ...deps, log })
      await a.start()
      await consumeOpts.onAssigned?.()
      await handler!([order({ userId: 'u11' }, 10)])
      // Meanwhile the partition was another processor's, which applied an order of the same user.
      const b = new Processor({ ...deps, store: (await stores.peer()).profiles, log: unusedLog })
      await b.handle([order({ userId: 'u11' }, 20)])
      // The partition comes back to the first processor: what it kept warm is stale.
      await consumeOpts.onAssigned?.()
      await handler!([order({ userId: 'u11' }, 30)])
      await a.close()
      const p = await profile('userId', 'u11')
      assert.equal(p.traits.orders_total, 3)
      assert.equal(p.traits.revenue_total, 60)
    })

    // Only where several processors share the store: SQLite has a single processor (its writer), so no
    // version check exists there to test.
    const shared = name.startsWith('Sqlite') ? () => {} : test
    shared(
      'a commit over a profile another processor changed since it was read is refused, and the batch applied again counts every order',
      async () => {
        await processor.handle([order({ userId: 'u12' }, 10)])
        // Another processor (the partition moved and no rebalance was seen yet) changes the profile.
        const b = new Processor({
          store: (await stores.peer()).profiles,
          log: unusedLog,
          traits,
          clock: { now: () => NOW },
          logger: { error: () => {}, warn: () => {} },
          batchSize: 100,
          dedupeWindowMs: 7 * 86_400_000,
        })
        await b.handle([order({ userId: 'u12' }, 20)])
        // The first still holds version 1 warm: its upsert must not overwrite version 2.
        const batch = [order({ userId: 'u12' }, 30)]
        await assert.rejects(processor.handle(batch), ProfileConflictError)
        await processor.handle(batch)
        const p = await profile('userId', 'u12')
        assert.equal(p.traits.orders_total, 3)
        assert.equal(p.traits.revenue_total, 60)
      },
    )

    test('the applied offsets travel in the one commit that carries the profile changes', async () => {
      const commit = store.commit.bind(store)
      const calls: { upserts: number; offsets: number[] }[] = []
      store.commit = async (changes) => {
        calls.push({ upserts: changes.upserts.length, offsets: changes.offsets.map((o) => o.offset) })
        // The transaction fails: neither the profile nor the offset may be stored.
        if (calls.length === 1) throw new Error('SQLITE_IOERR')
        return commit(changes)
      }
      const batch = [order({ userId: 'u13' }, 5)]
      await assert.rejects(processor.handle(batch), /SQLITE_IOERR/)
      assert.equal((await store.appliedOffsets('profiles')).get(0), undefined)
      await processor.handle(batch)
      assert.deepEqual(calls, [
        { upserts: 1, offsets: [batch[0]!.offset] },
        { upserts: 1, offsets: [batch[0]!.offset] },
      ])
      assert.equal((await store.appliedOffsets('profiles')).get(0), batch[0]!.offset)
    })

    // What the processor asks of the log and tells its logger, seen through a log that only records
    // the consume call (the test plays the consumer's callbacks).
    const DAY = 86_400_000
    const baseDeps = (): ProcessorDeps => ({
      log: unusedLog,
      store,
      traits,
      clock: { now: () => NOW },
      logger: { error: () => {}, warn: () => {} },
      batchSize: 100,
      dedupeWindowMs: 7 * DAY,
    })
    const recordingLog = () => {
      const seen = { group: '', opts: {} as ConsumeOptions, closed: 0 }
      const log: EventLog = {
        ...unusedLog,
        consume: (group, _h, o) => {
          seen.group = group
          seen.opts = o ?? {}
          return {
            close: async () => {
              seen.closed++
            },
          }
        },
      }
      return { log, seen }
    }

    test('start() consumes the profiles group: no linger and offsets committed at once by default, a 250 ms commit interval with a linger', async () => {
      const plain = recordingLog()
      const p1 = new Processor({ ...baseDeps(), log: plain.log, batchSize: 37 })
      await p1.start()
      assert.equal(plain.seen.group, 'profiles')
      assert.equal(plain.seen.opts.maxBatch, 37)
      assert.equal(plain.seen.opts.lingerMs, 0)
      assert.equal(plain.seen.opts.commitIntervalMs, 0)
      await p1.close()
      assert.equal(plain.seen.closed, 1)
      const lingering = recordingLog()
      const p2 = new Processor({ ...baseDeps(), log: lingering.log, lingerMs: 5 })
      await p2.start()
      assert.equal(lingering.seen.opts.lingerMs, 5)
      assert.equal(lingering.seen.opts.commitIntervalMs, 250)
      await p2.close()
      assert.equal(lingering.seen.closed, 1)
    })

    test('a failed batch is logged as an error and retried after 500 ms; a lost race is a warning, counted, and retried after 20 ms', async () => {
      const logged: [string, unknown, string][] = []
      let conflicts = 0
      const { log, seen } = recordingLog()
      const p = new Processor({
        ...baseDeps(),
        log,
        onConflict: () => conflicts++,
        logger: {
          error: (obj, msg) => logged.push(['error', obj, msg]),
          warn: (obj, msg) => logged.push(['warn', obj, msg]),
        },
      })
      await p.start()
      const failed = new Error('SQLITE_BUSY')
      const raced = new ProfileConflictError('profile p1')
      seen.opts.onError?.(failed)
      assert.deepEqual(logged, [['error', { err: failed }, 'processor batch failed; retrying']])
      assert.equal(conflicts, 0)
      seen.opts.onError?.(raced)
      assert.deepEqual(logged[1], [
        'warn',
        { err: raced },
        'processor batch raced another processor; applying it again',
      ])
      assert.equal(logged.length, 2)
      assert.equal(conflicts, 1)
      assert.equal(seen.opts.retryDelayMs?.(failed), 500)
      assert.equal(seen.opts.retryDelayMs?.(raced), 20)
      await p.close()
      // Without an onConflict listener a lost race is still only a warning.
      const quiet = recordingLog()
      const warned: string[] = []
      const q = new Processor({
        ...baseDeps(),
        log: quiet.log,
        logger: { error: () => {}, warn: (_o, msg) => warned.push(msg) },
      })
      await q.start()
      quiet.seen.opts.onError?.(raced)
      assert.deepEqual(warned, ['processor batch raced another processor; applying it again'])
      await q.close()
    })

    test('dedupe records older than the window are pruned every hour while running, and no longer after close()', async () => {
      mock.timers.enable({ apis: ['setInterval'] })
      try {
        const pruned: number[] = []
        store.pruneDedupe = async (before) => {
          pruned.push(before)
          return 0
        }
        const { log } = recordingLog()
        const p = new Processor({ ...baseDeps(), log, dedupeWindowMs: 2 * DAY })
        await p.start()
        mock.timers.tick(3_599_999)
        assert.deepEqual(pruned, [])
        mock.timers.tick(1)
        assert.deepEqual(pruned, [NOW - 2 * DAY])
        await p.close()
        mock.timers.tick(3 * 3_600_000)
        assert.deepEqual(pruned, [NOW - 2 * DAY])
      } finally {
        mock.timers.reset()
      }
    })

    test('close() of a processor never started, and backfillSegments() without segments, do nothing', async () => {
      await processor.backfillSegments()
      await processor.close()
      await processor.handle([order({ userId: 'u20' }, 3)])
      assert.equal((await profile('userId', 'u20')).traits.revenue_total, 3)
    })

    test('records at or below the applied offset are skipped even once their messageIds are pruned from the dedupe window', async () => {
      const batch = [order({ userId: 'u21' }, 1), order({ userId: 'u21' }, 2)]
      await processor.handle(batch)
      // Eight days later the dedupe records are gone: only the applied offset still knows the batch.
      assert.equal(await store.pruneDedupe(NOW + 1), 2)
      const commits: BatchChanges[] = []
      const commit = store.commit.bind(store)
      store.commit = async (changes) => {
        commits.push(changes)
        return commit(changes)
      }
      await processor.handle(batch)
      await processor.handle([batch[1]!])
      const p = await profile('userId', 'u21')
      assert.equal(p.traits.orders_total, 2)
      assert.equal(p.traits.revenue_total, 3)
      // Nothing new: no upsert, no dedupe record and no offset (it is where it was).
      assert.deepEqual(
        commits.map((c) => [c.upserts.length, c.messageIds.length, c.offsets]),
        [
          [0, 0, []],
          [0, 0, []],
        ],
      )
      assert.equal((await store.appliedOffsets('profiles')).get(0), batch[1]!.offset)
    })

    test('the failpoints before and after the commit: before, nothing is stored; after, the batch is stored and its retry applies nothing twice', async () => {
      const failpoints = new ArmedFailpoints({ 'processor.before-commit': 'throw' })
      const p = new Processor({ ...baseDeps(), failpoints })
      const first = [order({ userId: 'u22' }, 4)]
      await assert.rejects(p.handle(first), /failpoint processor\.before-commit/)
      assert.equal(await store.findProfileId('w', 'userId', 'u22'), undefined)
      failpoints.disarm('processor.before-commit')
      failpoints.arm('processor.after-commit', 'throw')
      await assert.rejects(p.handle(first), /failpoint processor\.after-commit/)
      assert.equal((await profile('userId', 'u22')).traits.revenue_total, 4)
      failpoints.disarm('processor.after-commit')
      await p.handle(first)
      assert.equal((await profile('userId', 'u22')).traits.revenue_total, 4)
      assert.deepEqual(
        [...failpoints.hits],
        [
          ['processor.before-commit', 1],
          ['processor.after-commit', 1],
        ],
      )
    })

    test("a batch's report: its size, commit time, the lag of each applied event, duplicates, every user and anonymous id of its records, no trigger jobs", async () => {
      const reports: BatchReport[] = []
      // The commit takes at least 30 ms here, so the report's commit time is known to be >= 0.03 s.
      const commit = store.commit.bind(store)
      store.commit = async (changes) => {
        await new Promise((r) => setTimeout(r, 30))
        return commit(changes)
      }
      const p = new Processor({ ...baseDeps(), onBatch: (r) => reports.push(r) })
      const at = (ms: number) => new Date(NOW - ms).toISOString()
      const handleStarted = performance.now()
      await p.handle([
        rec({ type: 'identify', userId: 'u23', anonymousId: 'a23', receivedAt: at(1500), messageId: 'r1' }),
        rec({ type: 'track', event: 'Page Viewed', anonymousId: 'a24', receivedAt: at(250) }, 'w2'),
        rec({ type: 'track', event: 'Page Viewed', userId: 'u23', receivedAt: at(0), messageId: 'r1' }),
      ])
      const handleSeconds = (performance.now() - handleStarted) / 1000
      const commitSeconds = reports[0]?.commitSeconds
      // Seconds (not ms), the commit alone: at least the 30 ms wait, at most the whole handle().
      assert.ok(
        commitSeconds !== undefined && commitSeconds >= 0.029 && commitSeconds <= handleSeconds,
        `commitSeconds ${commitSeconds}, handle ${handleSeconds} s`,
      )
      assert.deepEqual(reports, [
        {
          size: 3,
          commitSeconds,
          lagSeconds: [1.5, 0.25],
          applied: 2,
          duplicates: 1,
          ids: [
            { workspaceId: 'w', id: 'u23' },
            { workspaceId: 'w', id: 'a23' },
            { workspaceId: 'w2', id: 'a24' },
            { workspaceId: 'w', id: 'u23' },
          ],
          triggerJobsDueAt: null,
        },
      ])
    })

    test("a late-arriving event does not move a profile's last receipt time back", async () => {
      const at = (ms: number) => new Date(NOW - ms).toISOString()
      await processor.handle([
        rec({ type: 'track', event: 'Page Viewed', userId: 'u25', receivedAt: at(1000) }),
      ])
      await processor.handle([
        rec({ type: 'track', event: 'Page Viewed', userId: 'u25', receivedAt: at(9000) }),
      ])
      assert.equal((await profile('userId', 'u25')).lastEventReceivedAt, NOW - 1000)
    })

    test('triggers: the jobs of a batch are committed with it, and its report carries their earliest due time', async () => {
      await stores.triggers.put('w', 'soon', {
        event: 'Product Added',
        templateId: 't',
        from: 'a@b.example',
        delayMs: 1000,
      })
      await stores.triggers.put('w', 'later', {
        event: 'Product Added',
        templateId: 't',
        from: 'a@b.example',
        delayMs: 60_000,
      })
      const reports: BatchReport[] = []
      const committed: BatchChanges['triggerJobs'][] = []
      const commit = store.commit.bind(store)
      store.commit = async (changes) => {
        committed.push(changes.triggerJobs)
        return commit(changes)
      }
      const p = new Processor({ ...baseDeps(), triggers: stores.triggers, onBatch: (r) => reports.push(r) })
      const t = (ms: number) => new Date(NOW + ms).toISOString()
      const added = (messageId: string, ms: number) =>
        rec({
          type: 'track',
          event: 'Product Added',
          userId: 'u26',
          messageId,
          timestamp: t(ms),
          receivedAt: t(ms),
        })
      await p.handle([added('e1', 0), rec({ type: 'identify', userId: 'u26' }), added('e2', 5000)])
      // A batch without a matching event creates no job.
      await p.handle([rec({ type: 'track', event: 'Page Viewed', userId: 'u26' })])
      assert.deepEqual(
        reports.map((r) => r.triggerJobsDueAt),
        [NOW + 1000, null],
      )
      const jobs = (ops: BatchChanges['triggerJobs']) =>
        ops?.map((o) =>
          o.kind === 'insert' ? [o.job.triggerId, o.job.event.messageId, o.job.dueAt] : o.kind,
        )
      assert.deepEqual(committed.map(jobs), [
        [
          ['later', 'e1', NOW + 60_000],
          ['soon', 'e1', NOW + 1000],
          ['later', 'e2', NOW + 65_000],
          ['soon', 'e2', NOW + 6000],
        ],
        undefined,
      ])
      const due = await stores.triggers.due(NOW + 3_600_000, 10)
      assert.deepEqual(due.map((j) => [j.triggerId, j.event.messageId, j.dueAt]).sort(), [
        ['later', 'e1', NOW + 60_000],
        ['later', 'e2', NOW + 65_000],
        ['soon', 'e1', NOW + 1000],
        ['soon', 'e2', NOW + 6000],
      ])
    })

    test('segments: a batch commits the memberships it changes, backfills go 500 profiles a step unless told, and the poll timer runs them', async () => {
      const chunks: number[] = []
      const step = stores.segments.backfillStep.bind(stores.segments)
      stores.segments.backfillStep = (chunk, evaluator) => {
        chunks.push(chunk)
        return step(chunk, evaluator)
      }
      await processor.handle([
        order({ userId: 'u27' }, 1),
        order({ userId: 'u27' }, 1),
        order({ userId: 'u28' }, 1),
      ])
      await stores.segments.put('w', 'repeat', {
        name: 'Repeat buyers',
        condition: { orders_total: { $gte: 2 } },
      })
      const p = new Processor({ ...baseDeps(), segments: stores.segments })
      await p.backfillSegments()
      assert.deepEqual([...new Set(chunks)], [500])
      const members = async () =>
        (await stores.segments.members('w', 'repeat', { limit: 100 })).map((m) => m.userId).sort()
      assert.deepEqual(await members(), ['u27'])
      await p.handle([order({ userId: 'u28' }, 1)])
      assert.deepEqual(await members(), ['u27', 'u28'])
      chunks.length = 0
      const small = new Processor({ ...baseDeps(), segments: stores.segments, backfillChunk: 2 })
      await stores.segments.put('w', 'buyers', { name: 'Buyers', condition: { orders_total: { $gte: 1 } } })
      await small.backfillSegments()
      assert.deepEqual([...new Set(chunks)], [2])
    })

    test('segments: the backfill poll runs every second by default, or every segmentPollMs, and stops with close()', async () => {
      mock.timers.enable({ apis: ['setInterval'] })
      try {
        // A backfill run starts by reading the definitions' change stamp, synchronously when the timer fires.
        let runs = 0
        const stamp = stores.segments.definitionsStamp.bind(stores.segments)
        stores.segments.definitionsStamp = () => {
          runs++
          return stamp()
        }
        const byDefault = new Processor({ ...baseDeps(), log: recordingLog().log, segments: stores.segments })
        await byDefault.start()
        mock.timers.tick(999)
        assert.equal(runs, 0)
        mock.timers.tick(1)
        assert.equal(runs, 1)
        await byDefault.backfillSegments()
        await byDefault.close()
        const fast = new Processor({
          ...baseDeps(),
          log: recordingLog().log,
          segments: stores.segments,
          segmentPollMs: 50,
        })
        await fast.start()
        const before = runs
        mock.timers.tick(49)
        assert.equal(runs, before)
        mock.timers.tick(1)
        assert.equal(runs, before + 1)
        await fast.backfillSegments()
        await fast.close()
        const after = runs
        mock.timers.tick(5000)
        assert.equal(runs, after)
      } finally {
        mock.timers.reset()
      }
    })
  })
}
