/**
 * The WebhookOutbox seam suite, run against every implementation (SQLite and PostgreSQL): what a row
 * holds, idempotent enqueue, claims, the fence, pages; and the dispatcher over it against a real
 * HTTP receiver: signed POSTs, retries with backoff on the controlled clock, timeouts, 24 h of
 * failures, a restart, and opened() never waiting for the receiver.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { describe, test } from 'node:test'
import type { InkEvent } from '../../src/core/types.ts'
import { outboxOpenHooks } from '../../src/webhooks/open-hooks.ts'
import type { WebhookDelivery, WebhookOutbox } from '../../src/webhooks/outbox.ts'
import type { OutboxOptions } from '../../src/webhooks/outbox-rules.ts'
import { verifySignature } from '../../src/webhooks/signature.ts'
import { USER_AGENT, WebhookDispatcher } from '../../src/webhooks/webhook-dispatcher.ts'
import { type Answer, type Received, startReceiver, until } from './receiver.ts'

export interface OutboxFactory {
  name: string
  /** Opens the outbox on a location; opening the same location again must see the same rows. */
  open(location: string, opts: OutboxOptions): Promise<WebhookOutbox>
  location(): Promise<string>
  cleanup(location: string): Promise<void>
}

export const T0 = 1_800_000_000_000
export const SECRET = 'whsec_test_0123456789abcdef'
const HOUR = 3_600_000
/** With random() = 0.5 each delay is 90 % of 30 s · 2^(n−1), capped at 90 % of 1 h. */
const delayAfter = (attempts: number) => Math.min(30_000 * 2 ** (attempts - 1), HOUR) * 0.9

export const openEvent = (messageId: string, workspaceId = 'w'): InkEvent => ({
  type: 'track',
  event: 'Email Opened',
  messageId,
  workspaceId,
  userId: 'u1',
  properties: { campaign_id: 'spring', email_id: 'm1', block: 'hero', open_kind: 'open-time', fallbacks: 0 },
  timestamp: '2027-01-15T08:00:00.000Z',
  receivedAt: '2027-01-15T08:00:00.000Z',
})

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

export type TestClock = { t: number; now(): number }

/** A logger that keeps every call, to check what is said and that the secret never is. */
export function recordingLogger() {
  const lines: { level: string; obj: unknown; msg: string }[] = []
  return {
    lines,
    warn: (obj: unknown, msg: string) => lines.push({ level: 'warn', obj, msg }),
    error: (obj: unknown, msg: string) => lines.push({ level: 'error', obj, msg }),
  }
}

export function outboxSuite(impl: OutboxFactory, opts: { skip?: string | false } = {}) {
  describe(`WebhookOutbox seam: ${impl.name}`, { skip: opts.skip ?? false }, () => {
    const withOutbox = async (
      fn: (o: WebhookOutbox, clock: TestClock, reopen: () => Promise<WebhookOutbox>) => Promise<void>,
    ) => {
      const location = await impl.location()
      const clock: TestClock = { t: T0, now: () => clock.t }
      const open = () => impl.open(location, { clock, random: () => 0.5 })
      const opened: WebhookOutbox[] = [await open()]
      try {
        await fn(opened[0]!, clock, async () => {
          const o = await open()
          opened.push(o)
          return o
        })
      } finally {
        for (const o of opened) await o.close()
        await impl.cleanup(location)
      }
    }

    const withReceiver = async (
      respond: (n: number, req: Received) => Answer,
      fn: (r: Awaited<ReturnType<typeof startReceiver>>) => Promise<void>,
    ) => {
      const r = await startReceiver(respond)
      try {
        await fn(r)
      } finally {
        await r.close()
      }
    }

    const dispatcherFor = (outbox: WebhookOutbox, clock: TestClock, url: string, extra = {}) => {
      const logger = recordingLogger()
      const d = new WebhookDispatcher({ outbox, webhook: { url, secret: SECRET }, clock, logger, ...extra })
      return { d, logger }
    }

    test('an open is stored once per (workspace, messageId), pending and due now, with the body it will send', () =>
      withOutbox(async (o, clock) => {
        const first = await o.enqueue(openEvent('msg-1'))
        assert.equal(first.created, true)
        const d = first.delivery
        assert.match(d.id, /^[0-9a-z]{10}-[0-9a-f]{12}$/)
        assert.deepEqual(
          { ...d, id: 'x', payload: JSON.parse(d.payload) },
          {
            id: 'x',
            workspaceId: 'w',
            kind: 'open',
            eventId: 'msg-1',
            payload: {
              id: d.id,
              type: 'email.opened',
              createdAt: new Date(T0).toISOString(),
              workspaceId: 'w',
              event: openEvent('msg-1'),
            },
            state: 'pending',
            attempts: 0,
            nextAttemptAt: T0,
            firstAttemptAt: null,
            lastAttemptAt: null,
            lastStatus: null,
            lastError: null,
            createdAt: T0,
            deliveredAt: null,
          },
        )
        assert.deepEqual(await o.get('w', d.id), d)
        clock.t += 1000
        const again = await o.enqueue(openEvent('msg-1'))
        assert.deepEqual(again, { created: false, delivery: d })
        // Another workspace's open with the same messageId is its own delivery.
        assert.equal((await o.enqueue(openEvent('msg-1', 'other'))).created, true)
        assert.deepEqual(
          (await o.list('w')).map((x) => x.id),
          [d.id],
        )
        assert.equal(await o.get('other', d.id), undefined)
        assert.equal(await o.nextDueAt(), T0)
      }))

    test('each kind is claimed and timed apart: an alert row goes only to the alert dispatcher, with its own body', () =>
      withOutbox(async (o, clock) => {
        const open = (await o.enqueue(openEvent('msg-1'))).delivery
        clock.t = T0 + 10
        const alert = await o.enqueueMessage({
          workspaceId: 'w',
          kind: 'alert',
          key: 'ingest_rate@1:started',
          type: 'anomaly.started',
          data: { alert: { id: 'ingest_rate@1' } },
        })
        assert.equal(alert.created, true)
        assert.deepEqual(JSON.parse(alert.delivery.payload), {
          id: alert.delivery.id,
          type: 'anomaly.started',
          createdAt: new Date(T0 + 10).toISOString(),
          workspaceId: 'w',
          alert: { id: 'ingest_rate@1' },
        })
        const again = await o.enqueueMessage({
          workspaceId: 'w',
          kind: 'alert',
          key: 'ingest_rate@1:started',
          type: 'anomaly.started',
          data: {},
        })
        assert.deepEqual([again.created, again.delivery.id], [false, alert.delivery.id])
        assert.equal(await o.nextDueAt('alert'), T0 + 10)
        assert.equal(await o.nextDueAt(), T0)
        assert.deepEqual(
          (await o.claim(10)).map((d) => [d.id, d.kind]),
          [[open.id, 'open']],
        )
        assert.deepEqual(
          (await o.claim(10, 'alert')).map((d) => [d.id, d.kind]),
          [[alert.delivery.id, 'alert']],
        )
        assert.deepEqual(await o.claim(10, 'alert'), [])
      }))

    test('a claim takes due rows once, counts the attempt and leases them; a lost claim records nothing', () =>
      withOutbox(async (o, clock) => {
        const { delivery } = await o.enqueue(openEvent('msg-1'))
        clock.t = T0 + 5
        const [claimed, ...rest] = await o.claim(10)
        assert.deepEqual(rest, [])
        assert.deepEqual(claimed, {
          ...delivery,
          attempts: 1,
          firstAttemptAt: T0 + 5,
          lastAttemptAt: T0 + 5,
          nextAttemptAt: T0 + 5 + 60_000,
        })
        assert.deepEqual(await o.claim(10), [], 'a leased row is not claimed again')
        assert.equal(await o.nextDueAt(), T0 + 5 + 60_000)
        // The claimer died: after the lease the row is claimed again, and the first claim is fenced off.
        clock.t = T0 + 5 + 60_000
        const [second] = await o.claim(10)
        assert.equal(second?.attempts, 2)
        assert.equal(second?.firstAttemptAt, T0 + 5)
        assert.equal(await o.record(claimed!, { ok: true, status: 200 }), undefined)
        const done = await o.record(second!, { ok: true, status: 204 })
        assert.deepEqual(done, {
          ...second,
          state: 'delivered',
          nextAttemptAt: T0 + 5 + 60_000,
          lastStatus: 204,
          deliveredAt: T0 + 5 + 60_000,
        })
        assert.equal(await o.nextDueAt(), undefined)
        assert.equal(await o.record(second!, { ok: false, status: 500, error: 'late' }), undefined)
      }))

    test('retention: delivered and failed rows older than it are deleted, at most once an hour, by the dispatcher; pending ones never', () =>
      withOutbox((o, clock) =>
        withReceiver(
          (_n, req) => (req.body.includes('"msg-bad"') ? 500 : 200),
          async (r) => {
            const DAY = 86_400_000
            const { d } = dispatcherFor(o, clock, r.url, { retentionMs: 7 * DAY })
            const { delivery: old } = await o.enqueue(openEvent('msg-old'))
            const { delivery: bad } = await o.enqueue(openEvent('msg-bad'))
            assert.equal(await d.drain(), 2) // old delivered, bad pending; the first prune finds nothing old
            clock.t = T0 + 1_000
            const { delivery: young } = await o.enqueue(openEvent('msg-young'))
            assert.equal(await d.drain(), 1)
            clock.t = T0 + 2 * DAY
            assert.equal(await d.drain(), 1) // bad's last attempt, past its 24 h: failed
            assert.equal((await o.get('w', bad.id))?.state, 'failed')
            clock.t = T0 + 7 * DAY + 500
            assert.equal(await d.drain(), 0)
            assert.equal(await o.get('w', old.id), undefined, 'delivered, created over 7 days ago')
            assert.equal(await o.get('w', bad.id), undefined, 'failed, created over 7 days ago')
            assert.equal((await o.get('w', young.id))?.state, 'delivered', 'created 500 ms too late')
            clock.t = T0 + 7 * DAY + 1_500
            await d.drain()
            assert.equal(
              (await o.get('w', young.id))?.state,
              'delivered',
              'within the hour of the last prune',
            )
            clock.t = T0 + 7 * DAY + 500 + 3_600_000
            await d.drain()
            assert.equal(await o.get('w', young.id), undefined)
            // The outbox's own call: a pending row stays whatever its age.
            const { delivery: waiting } = await o.enqueue(openEvent('msg-waiting'))
            assert.equal(await o.prune(clock.t + DAY), 0)
            assert.equal((await o.get('w', waiting.id))?.state, 'pending')
            // A deleted row no longer dedupes its event: why the retention is at least the log's.
            assert.equal((await o.enqueue(openEvent('msg-old'))).created, true)
          },
        ),
      ))

    test('a receiver answering 500 twice then 200 gets three signed POSTs, 27 s and 54 s apart on the clock', () =>
      withOutbox((o, clock) =>
        withReceiver(
          (n) => (n < 2 ? 500 : 200),
          async (r) => {
            const { d, logger } = dispatcherFor(o, clock, r.url)
            const { delivery } = await o.enqueue(openEvent('msg-1'))
            assert.equal(await d.drain(), 1)
            assert.deepEqual(await o.get('w', delivery.id), {
              ...delivery,
              attempts: 1,
              firstAttemptAt: T0,
              lastAttemptAt: T0,
              nextAttemptAt: T0 + 27_000,
              lastStatus: 500,
              lastError: 'the receiver answered 500',
            })
            clock.t = T0 + 26_999
            assert.equal(await d.drain(), 0, 'not due before its backoff')
            clock.t = T0 + 27_000
            assert.equal(await d.drain(), 1)
            assert.equal((await o.get('w', delivery.id))?.nextAttemptAt, T0 + 27_000 + 54_000)
            clock.t = T0 + 81_000
            assert.equal(await d.drain(), 1)
            assert.deepEqual(await o.get('w', delivery.id), {
              ...delivery,
              state: 'delivered',
              attempts: 3,
              firstAttemptAt: T0,
              lastAttemptAt: T0 + 81_000,
              nextAttemptAt: T0 + 81_000,
              lastStatus: 200,
              lastError: null,
              deliveredAt: T0 + 81_000,
            })
            assert.equal(r.requests.length, 3)
            for (const [i, at] of [T0, T0 + 27_000, T0 + 81_000].entries()) {
              const req = r.requests[i]!
              assert.equal(req.method, 'POST')
              assert.equal(req.body, delivery.payload)
              assert.equal(req.headers['content-type'], 'application/json')
              assert.equal(req.headers['user-agent'], USER_AGENT)
              assert.equal(req.headers['inkstream-delivery'], delivery.id)
              const sig = req.headers['inkstream-signature'] as string
              assert.match(sig, new RegExp(`^t=${at / 1000},v1=[0-9a-f]{64}$`))
              assert.deepEqual(verifySignature(sig, req.body, SECRET, at), { ok: true, t: at / 1000 })
              assert.deepEqual(verifySignature(sig, req.body, 'whsec_another_secret_000', at), {
                ok: false,
                reason: 'mismatch',
              })
            }
            assert.deepEqual(logger.lines, [])
            assert.equal(await o.nextDueAt(), undefined)
          },
        ),
      ))

    test(
      'a receiver that never answers is abandoned at the timeout and tried again after the backoff',
      { timeout: 10_000 },
      () =>
        withOutbox((o, clock) =>
          withReceiver(
            (n) => (n === 0 ? 'hang' : 200),
            async (r) => {
              const { d } = dispatcherFor(o, clock, r.url, { timeoutMs: 150 })
              const { delivery } = await o.enqueue(openEvent('msg-1'))
              assert.equal(await d.drain(), 1)
              const after = await o.get('w', delivery.id)
              assert.deepEqual(
                [after?.state, after?.attempts, after?.lastStatus, after?.lastError, after?.nextAttemptAt],
                ['pending', 1, null, 'no response within 150 ms', T0 + 27_000],
              )
              assert.equal(r.requests[0]?.answered, false)
              clock.t = T0 + 27_000
              assert.equal(await d.drain(), 1)
              assert.equal((await o.get('w', delivery.id))?.state, 'delivered')
              assert.equal(r.requests.length, 2)
            },
          ),
        ),
    )

    test('a redirect and a 4xx are failed attempts, with their status', () =>
      withOutbox((o, clock) =>
        withReceiver(
          (n) => (n === 0 ? 302 : 410),
          async (r) => {
            const { d } = dispatcherFor(o, clock, r.url)
            const { delivery } = await o.enqueue(openEvent('msg-1'))
            await d.drain()
            const redirected = await o.get('w', delivery.id)
            assert.deepEqual(
              [redirected?.state, redirected?.lastStatus, redirected?.lastError],
              ['pending', 302, 'the receiver answered 302'],
            )
            clock.t = T0 + 27_000
            await d.drain()
            const gone = await o.get('w', delivery.id)
            assert.deepEqual([gone?.state, gone?.attempts, gone?.lastStatus], ['pending', 2, 410])
            assert.equal(r.requests.length, 2)
          },
        ),
      ))

    test('a refused connection is a failed attempt without a status, saying why', () =>
      withOutbox(async (o, clock) => {
        const { d } = dispatcherFor(o, clock, `http://127.0.0.1:${await closedPort()}/hooks`)
        const { delivery } = await o.enqueue(openEvent('msg-1'))
        assert.equal(await d.drain(), 1)
        const refused = await o.get('w', delivery.id)
        assert.deepEqual(
          [
            refused?.state,
            refused?.attempts,
            refused?.lastStatus,
            refused?.lastError,
            refused?.nextAttemptAt,
          ],
          ['pending', 1, null, 'fetch failed: ECONNREFUSED', T0 + 27_000],
        )
      }))

    test('24 h of failures end failed: attempts on the backoff schedule, the last one at 24 h', () =>
      withOutbox((o, clock) =>
        withReceiver(
          () => 503,
          async (r) => {
            const { d, logger } = dispatcherFor(o, clock, r.url)
            const { delivery } = await o.enqueue(openEvent('msg-1'))
            // The schedule the rules promise: 90 % of 30 s · 2^(n−1), capped at 90 % of 1 h and at 24 h.
            const expected = [T0]
            while (expected.at(-1)! < T0 + 24 * HOUR)
              expected.push(Math.min(expected.at(-1)! + delayAfter(expected.length), T0 + 24 * HOUR))
            const seen: number[] = []
            for (let i = 0; i < 200; i++) {
              const row = await o.get('w', delivery.id)
              if (row?.state !== 'pending') break
              clock.t = row.nextAttemptAt
              seen.push(clock.t)
              assert.equal(await d.drain(), 1)
            }
            assert.deepEqual(seen, expected)
            assert.equal(r.requests.length, expected.length)
            const failed = await o.get('w', delivery.id)
            assert.deepEqual(failed, {
              ...delivery,
              state: 'failed',
              attempts: expected.length,
              firstAttemptAt: T0,
              lastAttemptAt: T0 + 24 * HOUR,
              nextAttemptAt: T0 + 24 * HOUR,
              lastStatus: 503,
              lastError: 'the receiver answered 503',
            })
            clock.t += 10 * HOUR
            assert.equal(await d.drain(), 0, 'a failed row is not tried again')
            assert.deepEqual(logger.lines, [
              {
                level: 'error',
                obj: {
                  delivery: delivery.id,
                  attempts: expected.length,
                  lastError: 'the receiver answered 503',
                },
                msg: 'webhook delivery failed for good',
              },
            ])
            assert.equal(JSON.stringify(logger.lines).includes(SECRET), false)
            assert.equal(JSON.stringify(await o.list('w')).includes(SECRET), false)
          },
        ),
      ))

    test('a new dispatcher over the reopened outbox resumes pending rows, and those a dead one had claimed after their lease', () =>
      withOutbox((o, clock, reopen) =>
        withReceiver(
          (n) => (n === 0 ? 500 : 200),
          async (r) => {
            const first = dispatcherFor(o, clock, r.url).d
            const { delivery: a } = await o.enqueue(openEvent('msg-a'))
            assert.equal(await first.drain(), 1)
            await first.close()
            // msg-b is claimed by a dispatcher that dies before it sends anything.
            clock.t = T0 + 1000
            const { delivery: b } = await o.enqueue(openEvent('msg-b'))
            assert.equal((await o.claim(1))[0]?.id, b.id)
            await o.close()

            const again = await reopen()
            const second = dispatcherFor(again, clock, r.url).d
            clock.t = T0 + 27_000
            assert.equal(await second.drain(), 1)
            assert.equal((await again.get('w', a.id))?.state, 'delivered')
            assert.equal((await again.get('w', b.id))?.state, 'pending')
            clock.t = T0 + 1000 + 60_000
            assert.equal(await second.drain(), 1)
            const bRow = await again.get('w', b.id)
            assert.deepEqual([bRow?.state, bRow?.attempts], ['delivered', 2])
            assert.deepEqual(
              r.requests.map((q) => q.headers['inkstream-delivery']),
              [a.id, a.id, b.id],
            )
            await second.close()
          },
        ),
      ))

    test(
      'opened() resolves once the row is durable, while the receiver still holds the request',
      { timeout: 10_000 },
      () =>
        withOutbox((o, clock) => {
          let release: (status: number) => void = () => {}
          const held = new Promise<number>((resolve) => {
            release = resolve
          })
          return withReceiver(
            () => held,
            async (r) => {
              const { d } = dispatcherFor(o, clock, r.url, { pollMs: 60_000 })
              d.start()
              const hooks = outboxOpenHooks(o, () => d.wake())
              await hooks.opened(openEvent('msg-1'))
              const [row] = await o.list('w')
              assert.equal(row?.eventId, 'msg-1')
              // The hook's wake-up sends it; the receiver is holding that request, unanswered.
              await until(() => r.requests.length === 1, 'the receiver to get the POST')
              assert.equal(r.requests[0]?.answered, false)
              assert.equal((await o.get('w', row!.id))?.state, 'pending')
              release(200)
              await until(async () => (await o.get('w', row!.id))?.state === 'delivered', 'the delivery')
              await d.close()
            },
          )
        }),
    )

    test('lists a workspace newest first, a page at a time, of one state or all', () =>
      withOutbox(async (o, clock) => {
        const ids: WebhookDelivery[] = []
        for (let i = 0; i < 5; i++) {
          clock.t = T0 + i
          ids.push((await o.enqueue(openEvent(`msg-${i}`))).delivery)
        }
        await o.enqueue(openEvent('msg-x', 'other'))
        clock.t = T0 + 10
        for (const c of await o.claim(2)) await o.record(c, { ok: true, status: 200 })
        const newest = ids.map((d) => d.id).reverse()
        assert.deepEqual(
          (await o.list('w')).map((d) => d.id),
          newest,
        )
        assert.deepEqual(
          (await o.list('w', { limit: 2 })).map((d) => d.id),
          newest.slice(0, 2),
        )
        assert.deepEqual(
          (await o.list('w', { limit: 2, after: newest[1]! })).map((d) => d.id),
          newest.slice(2, 4),
        )
        assert.deepEqual(
          (await o.list('w', { state: 'delivered' })).map((d) => d.id),
          [ids[1]!.id, ids[0]!.id],
        )
        assert.deepEqual(
          (await o.list('w', { state: 'pending', limit: 2 })).map((d) => d.id),
          newest.slice(0, 2),
        )
        assert.deepEqual(await o.list('w', { state: 'failed' }), [])
        assert.equal((await o.list('w', { limit: 0 })).length, 1, 'a limit below 1 is 1')
      }))
  })
}
